"""The OpenAI Responses edge's responses (:mod:`botport.api.openai_responses`).

A response is one answer message of a conversation; its id is ``resp_`` + the message's id, so a
repeated request (its Idempotency-Key) finds the same row. The row keeps what the message does not:
the request's input items, the parameters a response object echoes, the response it continued.
Plain functions over a synchronous connection, for :meth:`botport.store.db.Database.write` and
``read_op``; every read is scoped to the caller (``owner``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, RowMapping

from botport.store.tables import responses
from botport.store.types import utcnow

RESPONSE_PREFIX = "resp_"


def response_id_of(message_id: str) -> str:
    return f"{RESPONSE_PREFIX}{message_id}"


@dataclass(frozen=True, slots=True)
class ResponseRow:
    id: str
    owner: str
    conversation_id: str
    message_id: str
    previous_response_id: str | None
    model: str
    background: bool
    stored: bool
    params: dict[str, Any]
    input_items: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> ResponseRow:
        return cls(
            id=row["id"],
            owner=row["owner"],
            conversation_id=row["conversation_id"],
            message_id=row["message_id"],
            previous_response_id=row["previous_response_id"],
            model=row["model"],
            background=bool(row["background"]),
            stored=bool(row["stored"]),
            params=dict(row["params"] or {}),
            input_items=list(row["input_items"] or []),
            created_at=row["created_at"],
        )


def insert_response(
    conn: Connection,
    *,
    owner: str,
    conversation_id: str,
    message_id: str,
    previous_response_id: str | None,
    model: str,
    background: bool,
    stored: bool,
    params: dict[str, Any],
    input_items: list[dict[str, Any]],
) -> ResponseRow:
    """Store the response of answer ``message_id``; the stored one when a repeat already did."""
    response_id = response_id_of(message_id)
    found = find_response(conn, owner=owner, response_id=response_id, stored_only=False)
    if found is not None:
        return found
    values = {
        "id": response_id,
        "owner": owner,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "previous_response_id": previous_response_id,
        "model": model,
        "background": background,
        "stored": stored,
        "params": params,
        "input_items": input_items,
        "created_at": utcnow(),
    }
    conn.execute(insert(responses).values(**values))
    return ResponseRow(**values)  # type: ignore[arg-type]


def find_response(
    conn: Connection, *, owner: str, response_id: str, stored_only: bool = True
) -> ResponseRow | None:
    """The caller's response, or None (none with this id, someone else's, or one not to store)."""
    query = select(responses).where(responses.c.id == response_id, responses.c.owner == owner)
    if stored_only:
        query = query.where(responses.c.stored.is_(True))
    row = conn.execute(query).mappings().first()
    return ResponseRow.from_row(row) if row is not None else None


def delete_response(conn: Connection, *, owner: str, response_id: str) -> bool:
    """Forget the response (its conversation's messages stay); False when it was not the caller's."""
    result = conn.execute(delete(responses).where(responses.c.id == response_id, responses.c.owner == owner))
    return result.rowcount > 0
