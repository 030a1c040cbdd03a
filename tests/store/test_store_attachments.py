"""Attachments in the store (migration 0010): stored unsent, linked by the question's own start write,
read by their owner only, unlinked when a refused turn is discarded, copied for an edit, deleted with
their conversation, and swept when never sent. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from botport.store import Database
from botport.store import repository as repo
from botport.store import turns as turn_store
from botport.store.attachments import (
    AttachmentRecord,
    AttachmentsTaken,
    NewAttachment,
    attachment_data,
    attachments_of,
    copy_attachments,
    count_unsent,
    insert_attachment,
    link_attachments,
    owned_attachments,
    sweep_unattached,
)
from botport.store.tables import attachments
from botport.store.types import utcnow

ALICE, BOB = "anon:alice", "anon:bob"
LEASE = timedelta(seconds=30)


def _new(owner: str = ALICE, data: bytes = b"\x89PNG fake bytes", name: str = "a.png") -> NewAttachment:
    return NewAttachment(
        owner=owner,
        name=name,
        content_type="image/png",
        size=len(data),
        width=4,
        height=3,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        coze_file_id="coze-file-1",
    )


async def _store(db: Database, new: NewAttachment | None = None) -> AttachmentRecord:
    item = new or _new()
    return await db.write(lambda conn: insert_attachment(conn, new=item))


async def _turn(db: Database, ids: tuple[str, ...], owner: str = ALICE) -> turn_store.BegunTurn:
    async with db.connect() as conn:
        conversation = await repo.create_conversation(conn, owner=owner, bot="demo")
    new = turn_store.NewTurn(
        owner=owner,
        conversation_id=conversation.id,
        question="look",
        title="look",
        runner="test",
        lease=LEASE,
        attachment_ids=ids,
    )
    return await db.write(lambda conn: turn_store.begin_turn(conn, turn=new))


async def _rows(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(attachments))).scalar_one())


async def test_stored_and_read_by_the_owner_only(database: Database) -> None:
    data = bytes(range(256)) * 4096  # a megabyte, every byte value
    stored = await _store(database, _new(data=data))
    assert stored.id.startswith("att_") and len(stored.id) == 36
    assert (stored.message_id, stored.width, stored.is_image) == (None, 4, True)
    found = await database.read_op(lambda conn: attachment_data(conn, owner=ALICE, attachment_id=stored.id))
    assert found is not None and found[0] == stored and found[1] == data
    assert (
        await database.read_op(lambda conn: attachment_data(conn, owner=BOB, attachment_id=stored.id)) is None
    )
    other = await _store(database, _new(owner=BOB))
    mine = await database.read_op(
        lambda conn: owned_attachments(conn, owner=ALICE, ids=[other.id, stored.id, "att_x", stored.id])
    )
    assert mine == [stored]
    assert await database.read_op(lambda conn: count_unsent(conn, owner=ALICE)) == 1


async def test_the_question_links_them_in_its_own_write(database: Database) -> None:
    first, second = await _store(database), await _store(database, _new(name="b.png"))
    begun = await _turn(database, (second.id, first.id))
    assert begun.user is not None
    found = await database.read_op(lambda conn: attachments_of(conn, message_ids=[begun.user.id, "other"]))
    assert [a.id for a in found[begun.user.id]] == [first.id, second.id]  # in upload order
    assert list(found) == [begun.user.id]
    assert await database.read_op(lambda conn: count_unsent(conn, owner=ALICE)) == 0


@pytest.mark.parametrize("whose", ["sent", "bob"])
async def test_a_taken_attachment_stores_nothing(database: Database, whose: str) -> None:
    mine = await _store(database)
    taken = await _store(database, _new(owner=BOB)) if whose == "bob" else await _store(database)
    if whose == "sent":
        await _turn(database, (taken.id,))
    with pytest.raises(AttachmentsTaken) as info:
        await _turn(database, (mine.id, taken.id))
    assert info.value.ids == (taken.id,)
    async with database.read() as conn:
        conversations = await repo.list_conversations(conn, owner=ALICE)
        # The failed start stored no question, and linked none of its attachments.
        for conversation in conversations.items:
            path = await repo.list_messages(conn, conversation_id=conversation.id)
            assert all(m.content == "look" for m in path if m.role == "user")
    mine_now = await database.read_op(lambda conn: owned_attachments(conn, owner=ALICE, ids=[mine.id]))
    assert mine_now[0].message_id is None


async def test_linking_twice_in_one_transaction_is_refused(database: Database) -> None:
    item = await _store(database)
    begun = await _turn(database, ())
    assert begun.user is not None
    message_id = begun.user.id

    def twice(conn: Connection) -> None:
        link_attachments(conn, owner=ALICE, ids=[item.id], message_id=message_id)
        link_attachments(conn, owner=ALICE, ids=[item.id], message_id=message_id)

    with pytest.raises(AttachmentsTaken):
        await database.write(twice)


async def test_a_discarded_turn_gives_its_attachments_back(database: Database) -> None:
    item = await _store(database)
    begun = await _turn(database, (item.id,))
    assert begun.user is not None
    user_id = begun.user.id
    await database.write(
        lambda conn: turn_store.discard_turn(conn, answer_id=begun.answer.id, user_message_id=user_id)
    )
    again = await database.read_op(lambda conn: owned_attachments(conn, owner=ALICE, ids=[item.id]))
    assert again[0].message_id is None and await _rows(database) == 1


async def test_deleting_the_conversation_deletes_its_attachments(database: Database) -> None:
    sent, unsent = await _store(database), await _store(database)
    begun = await _turn(database, (sent.id,))
    async with database.connect() as conn:
        assert await repo.delete_conversation(conn, owner=ALICE, conversation_id=begun.conversation.id)
    left = await database.read_op(lambda conn: owned_attachments(conn, owner=ALICE, ids=[sent.id, unsent.id]))
    assert [a.id for a in left] == [unsent.id]


async def test_copies_for_an_edit(database: Database) -> None:
    original = await _store(database, _new(data=b"same bytes"))
    begun = await _turn(database, (original.id,))
    async with database.connect() as conn:
        copies = await conn.run_sync(
            lambda sync: copy_attachments(sync, owner=ALICE, ids=[original.id, "att_unknown"])
        )
        nothing = await conn.run_sync(lambda sync: copy_attachments(sync, owner=BOB, ids=[original.id]))
    assert nothing == {} and list(copies) == [original.id]
    copy = copies[original.id]
    assert copy.id != original.id and copy.message_id is None
    assert (copy.name, copy.sha256, copy.coze_file_id) == (original.name, original.sha256, "coze-file-1")
    found = await database.read_op(lambda conn: attachment_data(conn, owner=ALICE, attachment_id=copy.id))
    assert found is not None and found[1] == b"same bytes"
    # The copy outlives the original's conversation until it is sent or swept.
    async with database.connect() as conn:
        await repo.delete_conversation(conn, owner=ALICE, conversation_id=begun.conversation.id)
    assert await _rows(database) == 1


async def test_unsent_uploads_are_swept_after_a_day(database: Database) -> None:
    old_unsent, new_unsent, old_sent = await _store(database), await _store(database), await _store(database)
    await _turn(database, (old_sent.id,))
    async with database.connect() as conn:
        await conn.execute(
            update(attachments)
            .where(attachments.c.id.in_([old_unsent.id, old_sent.id]))
            .values(created_at=utcnow() - timedelta(days=1, minutes=1))
        )
    assert await database.read_op(lambda conn: count_unsent(conn, owner=ALICE)) == 1  # the old one is past
    assert await database.write(sweep_unattached) == 1
    left = await database.read_op(
        lambda conn: owned_attachments(conn, owner=ALICE, ids=[old_unsent.id, new_unsent.id, old_sent.id])
    )
    assert [a.id for a in left] == [new_unsent.id, old_sent.id]
    assert await database.write(sweep_unattached) == 0
