"""API keys: create, list, authenticate, revoke."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import insert, select, update

from botport.store import Database, keys
from botport.store.records import KeyQuota
from botport.store.tables import api_keys, key_usage
from botport.store.types import utcnow


async def test_create_stores_only_the_hash(database: Database) -> None:
    async with database.connect() as conn:
        plaintext, record = await keys.create_api_key(conn, name="ci 机器人")
    assert plaintext.startswith("bp_")
    assert len(plaintext) == 3 + 43
    assert record.prefix == plaintext[: keys.SHOWN_PREFIX_CHARS]
    assert record.owner == f"key:{record.id}"
    assert record.name == "ci 机器人"
    assert (record.last_used_at, record.revoked_at, record.revoked) == (None, None, False)
    async with database.connect() as conn:
        row = (await conn.execute(select(api_keys))).mappings().one()
    assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in [str(value) for value in row.values()]


async def test_authenticate(database: Database) -> None:
    async with database.connect() as conn:
        plaintext, record = await keys.create_api_key(conn, name="app")
    async with database.connect() as conn:
        found = await keys.authenticate_api_key(conn, plaintext)
        assert found is not None
        assert found.id == record.id
        assert found.last_used_at is not None
        for wrong in [plaintext[:-1], plaintext + "x", "bp_", "", "Bearer " + plaintext, "bp_" + "a" * 5000]:
            assert await keys.authenticate_api_key(conn, wrong) is None


async def test_last_used_is_written_at_most_once_a_minute(database: Database) -> None:
    async with database.connect() as conn:
        plaintext, record = await keys.create_api_key(conn, name="app")
        first = await keys.authenticate_api_key(conn, plaintext)
        second = await keys.authenticate_api_key(conn, plaintext)
    assert first is not None and second is not None
    assert second.last_used_at == first.last_used_at

    long_ago = utcnow() - timedelta(minutes=5)
    async with database.connect() as conn:
        await conn.execute(update(api_keys).where(api_keys.c.id == record.id).values(last_used_at=long_ago))
        third = await keys.authenticate_api_key(conn, plaintext)
        listed = await keys.list_api_keys(conn)
    assert third is not None and third.last_used_at is not None
    assert third.last_used_at > long_ago
    assert listed[0].last_used_at == third.last_used_at


@pytest.mark.parametrize("by", ["id", "prefix"])
async def test_revoke_by_id_or_prefix(database: Database, by: str) -> None:
    async with database.connect() as conn:
        plaintext, record = await keys.create_api_key(conn, name="app")
        other_plaintext, _ = await keys.create_api_key(conn, name="other")
    async with database.connect() as conn:
        revoked = await keys.revoke_api_key(conn, record.id if by == "id" else record.prefix)
    assert revoked is not None and revoked.revoked
    async with database.connect() as conn:
        assert await keys.authenticate_api_key(conn, plaintext) is None
        assert await keys.authenticate_api_key(conn, other_plaintext) is not None
        again = await keys.revoke_api_key(conn, record.id)
        assert again is not None and again.revoked_at == revoked.revoked_at
        assert await keys.revoke_api_key(conn, "bp_nothing") is None
        assert [k.name for k in await keys.list_api_keys(conn, include_revoked=False)] == ["other"]
        assert [k.name for k in await keys.list_api_keys(conn)] == ["app", "other"]


async def test_an_ambiguous_prefix_is_refused(database: Database) -> None:
    async with database.connect() as conn:
        _, first = await keys.create_api_key(conn, name="a")
        _, second = await keys.create_api_key(conn, name="b")
        # Prefixes are random; make a collision to see it handled.
        await conn.execute(update(api_keys).where(api_keys.c.id == second.id).values(prefix=first.prefix))
    async with database.connect() as conn:
        with pytest.raises(keys.AmbiguousKeyError):
            await keys.revoke_api_key(conn, first.prefix)
        assert not any(k.revoked for k in await keys.list_api_keys(conn))


async def test_usage_counts_turns_and_tokens_per_key_and_day(database: Database) -> None:
    async with database.connect() as conn:
        _, first = await keys.create_api_key(
            conn, name="first", quota=KeyQuota(turns_per_day=5, tokens_per_day=900)
        )
        _, second = await keys.create_api_key(conn, name="second")
    for key_id, tokens in ((first.id, 120), (first.id, 30), (second.id, 7)):
        await database.write(partial(keys.add_key_usage, key_id=key_id, tokens=tokens))
    # An earlier day counts in all, not today.
    async with database.connect() as conn:
        await conn.execute(insert(key_usage).values(key_id=first.id, day="2026-01-01", turns=4, tokens=1000))
    assert await database.read_op(lambda conn: keys.usage_today(conn, first.id)) == (2, 150)
    async with database.read() as conn:
        usage = await keys.usage_by_key(conn)
        listed = {record.name: record.quota for record in await keys.list_api_keys(conn)}
    assert usage == {first.id: (2, 150, 6, 1150), second.id: (1, 7, 1, 7)}
    assert listed == {"first": KeyQuota(turns_per_day=5, tokens_per_day=900), "second": KeyQuota()}
