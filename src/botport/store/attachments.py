"""Attachments: the images and files a user sends with a question (table ``attachments``).

An upload is stored at once, unattached (``message_id`` NULL); the question that carries it links it
in the same transaction as it is stored (:func:`link_attachments`, called by
:func:`botport.store.turns.begin_turn`). A linked attachment goes with its message: deleting a
conversation deletes its messages and so their attachments (``ON DELETE CASCADE``). An upload never
sent is swept after a day (:func:`sweep_unattached`, run by the turn keeper once an hour), or deleted
by its owner before then (:func:`delete_unsent`: the page does when a file leaves the tray).

Owner checks live here: every read takes the owner, and someone else's attachment is missing.
Write ops take a synchronous connection (:meth:`botport.store.db.Database.write`, or ``run_sync``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from botport.store.tables import attachments
from botport.store.types import new_id, utcnow

ID_PREFIX = "att_"
UNSENT_TTL = timedelta(days=1)  # an upload no question carried by then is deleted
ID_PATTERN = r"^att_[0-9a-f]{32}$"


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    """An attachment without its bytes (read them with :func:`attachment_data`)."""

    id: str
    owner: str
    message_id: str | None
    name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    sha256: str
    coze_file_id: str | None
    created_at: datetime

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AttachmentRecord:
        return cls(**{name: row[name] for name in _FIELDS})


_FIELDS = tuple(AttachmentRecord.__dataclass_fields__)
_COLUMNS = [attachments.c[name] for name in _FIELDS]  # everything but the bytes


@dataclass(frozen=True, slots=True)
class NewAttachment:
    owner: str
    name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    sha256: str
    data: bytes
    coze_file_id: str | None


class AttachmentsTaken(Exception):
    """Some of the attachments a question names are gone, someone else's, or already sent."""

    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__(f"attachments not available: {', '.join(ids)}")
        self.ids = tuple(ids)


def insert_attachment(conn: Connection, *, new: NewAttachment) -> AttachmentRecord:
    """Store an upload, unattached (a write op)."""
    values: dict[str, Any] = {
        "id": ID_PREFIX + new_id(),
        "owner": new.owner,
        "message_id": None,
        "name": new.name,
        "content_type": new.content_type,
        "size": new.size,
        "width": new.width,
        "height": new.height,
        "sha256": new.sha256,
        "data": new.data,
        "coze_file_id": new.coze_file_id,
        "created_at": utcnow(),
    }
    conn.execute(insert(attachments).values(values))
    return AttachmentRecord.from_row(values)


def owned_attachments(conn: Connection, *, owner: str, ids: Sequence[str]) -> list[AttachmentRecord]:
    """The owner's attachments among ``ids``, in the order asked (an unknown or another owner's id
    is left out: the caller compares)."""
    if not ids:
        return []
    rows = conn.execute(
        select(*_COLUMNS).where(attachments.c.id.in_(list(ids)), attachments.c.owner == owner)
    ).mappings()
    found = {row["id"]: AttachmentRecord.from_row(row) for row in rows}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def attachment_data(
    conn: Connection, *, owner: str, attachment_id: str
) -> tuple[AttachmentRecord, bytes] | None:
    """The owner's attachment with its bytes, or None (unknown, or someone else's)."""
    row = (
        conn.execute(
            select(*_COLUMNS, attachments.c.data).where(
                attachments.c.id == attachment_id, attachments.c.owner == owner
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return AttachmentRecord.from_row(row), bytes(row["data"])


def attachments_of(conn: Connection, *, message_ids: Iterable[str]) -> dict[str, list[AttachmentRecord]]:
    """The attachments of these messages, by message id, each list in upload order."""
    ids = list(dict.fromkeys(message_ids))
    found: dict[str, list[AttachmentRecord]] = {}
    for start in range(0, len(ids), 500):  # bounded IN lists
        rows = conn.execute(
            select(*_COLUMNS)
            .where(attachments.c.message_id.in_(ids[start : start + 500]))
            .order_by(attachments.c.created_at, attachments.c.id)
        ).mappings()
        for row in rows:
            record = AttachmentRecord.from_row(row)
            assert record.message_id is not None
            found.setdefault(record.message_id, []).append(record)
    return found


def link_attachments(conn: Connection, *, owner: str, ids: Sequence[str], message_id: str) -> None:
    """Make the owner's unsent attachments ``ids`` the message's (in the caller's transaction).
    Raises :class:`AttachmentsTaken` when any is not the owner's or was sent already: nothing is linked
    then (the caller's transaction rolls back)."""
    if not ids:
        return
    unique = list(dict.fromkeys(ids))
    linked = conn.execute(
        update(attachments)
        .where(
            attachments.c.id.in_(unique),
            attachments.c.owner == owner,
            attachments.c.message_id.is_(None),
        )
        .values(message_id=message_id)
        .returning(attachments.c.id)
    ).scalars()
    missing = set(unique) - set(linked)
    if missing:
        raise AttachmentsTaken([i for i in unique if i in missing])


def unlink_messages(conn: Connection, *, message_ids: Sequence[str]) -> None:
    """The messages are removed without being sent (a turn Coze refused): their attachments become
    unsent uploads again, so that the retry can carry them."""
    conn.execute(
        update(attachments).where(attachments.c.message_id.in_(list(message_ids))).values(message_id=None)
    )


def copy_attachments(conn: Connection, *, owner: str, ids: Sequence[str]) -> dict[str, AttachmentRecord]:
    """New unsent copies of the owner's attachments, by the id copied (an edited question keeps its
    pictures: the new version needs rows of its own). Same bytes, same Coze file. Unknown ids are
    left out."""
    copies = {}
    for record in owned_attachments(conn, owner=owner, ids=ids):
        data: bytes = conn.execute(
            select(attachments.c.data).where(attachments.c.id == record.id)
        ).scalar_one()
        copies[record.id] = insert_attachment(
            conn,
            new=NewAttachment(
                owner=owner,
                name=record.name,
                content_type=record.content_type,
                size=record.size,
                width=record.width,
                height=record.height,
                sha256=record.sha256,
                data=bytes(data),
                coze_file_id=record.coze_file_id,
            ),
        )
    return copies


def count_unsent(conn: Connection, *, owner: str) -> int:
    """How many uploads of the owner's wait to be sent (within their day)."""
    return int(
        conn.scalar(
            select(func.count())
            .select_from(attachments)
            .where(
                attachments.c.owner == owner,
                attachments.c.message_id.is_(None),
                attachments.c.created_at > utcnow() - UNSENT_TTL,
            )
        )
        or 0
    )


def delete_unsent(conn: Connection, *, owner: str, attachment_id: str) -> bool | None:
    """Delete an upload of the owner's that no question carries (a write op). True: deleted; False: a
    question carries it (it goes with its message); None: the owner has no such upload."""
    result = conn.execute(
        delete(attachments).where(
            attachments.c.id == attachment_id,
            attachments.c.owner == owner,
            attachments.c.message_id.is_(None),
        )
    )
    if result.rowcount:
        return True
    sent = conn.scalar(
        select(func.count())
        .select_from(attachments)
        .where(attachments.c.id == attachment_id, attachments.c.owner == owner)
    )
    return False if sent else None


def sweep_unattached(conn: Connection, *, older_than: timedelta = UNSENT_TTL) -> int:
    """Delete uploads that no question carried within ``older_than`` (a write op); how many."""
    result = conn.execute(
        delete(attachments).where(
            attachments.c.message_id.is_(None), attachments.c.created_at < utcnow() - older_than
        )
    )
    return int(result.rowcount or 0)
