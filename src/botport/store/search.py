"""Searching a reader's conversations: their titles and their messages' text, best matches first.

A query is cut into terms at white space. A conversation matches when its title holds every term, or
one of its messages does (case-insensitively, ASCII case at least). Answers being written
(``streaming``) are not searched: they are indexed once they end (migration ``0006_search_and_pins``).

- SQLite: a term of three or more characters is a phrase of the FTS5 trigram index, so any substring
  matches (Chinese too); it is quoted, so no FTS5 query syntax comes from the user. A shorter term (two
  Chinese characters make a word) is a LIKE filter on the messages found, or on all the reader's
  messages. Ranked by bm25.
- PostgreSQL: a term of letters and digits is a word prefix (``term:*``, and only letters and digits
  reach ``to_tsquery``) matched in the GIN index over ``to_tsvector('simple', content)``; any other
  term (Chinese, ``C++``, ``3.14``) is an ILIKE filter over the reader's messages. Ranked by
  ts_rank_cd.

Title matches come first (most recently active first), then message matches by rank; each result
carries a short plain-text snippet of its best message, the matched words marked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from botport.errors import BadRequestError
from botport.store.records import ConversationRecord
from botport.store.tables import conversations

MAX_QUERY_CHARS = 200
MAX_RESULTS = 50
SNIPPET_CHARS = 160
# The database objects of the search index (none of them in botport.store.tables).
SEARCH_OBJECTS = frozenset({"search_rows", "search_index", "ix_search_messages_words"})

# Scripts written without spaces between words: a word index cannot cut them, substrings are searched.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff]"
)
_WORD = re.compile(r"[^\W_]+")  # letters and digits: safe as a to_tsquery lexeme


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation: ConversationRecord
    message_id: str | None  # the best matching message; None: the title matched, no message did
    snippet: tuple[tuple[str, bool], ...]  # (text, matched) parts; empty when no message matched


def search_terms(query: str) -> list[str]:
    """The query's words, each once (at most 100: the query's length bounds them); BadRequestError
    when there is none or the query is too long."""
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequestError(f"the query is longer than {MAX_QUERY_CHARS} characters", code="query_too_long")
    terms: dict[str, str] = {}
    for term in query.split():
        terms.setdefault(term.casefold(), term)
    if not terms:
        raise BadRequestError("the query is empty", code="empty_query")
    return list(terms.values())


def search_conversations(conn: Connection, *, owner: str, query: str, limit: int = 20) -> list[SearchHit]:
    """The owner's conversations that match ``query``, best first (a read op)."""
    terms = search_terms(query)
    limit = max(1, min(limit, MAX_RESULTS))
    titled = conn.execute(
        select(conversations)
        .where(
            conversations.c.owner == owner,
            *(conversations.c.title.ilike(_like(t), escape="\\") for t in terms),
        )
        .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
        .limit(limit)
    ).mappings()
    by_title = [ConversationRecord.from_row(row) for row in titled]
    best = _best_messages(conn, owner=owner, terms=terms, limit=limit + len(by_title))
    found = {c.id: c for c in by_title}
    missing = [conversation_id for conversation_id, *_ in best if conversation_id not in found]
    if missing:
        rows = conn.execute(select(conversations).where(conversations.c.id.in_(missing))).mappings()
        found.update((row["id"], ConversationRecord.from_row(row)) for row in rows)
    message_of = {conversation_id: (message_id, content) for conversation_id, message_id, content in best}
    titled_ids = {c.id for c in by_title}
    order = [c.id for c in by_title] + [cid for cid, *_ in best if cid not in titled_ids]
    hits = []
    for conversation_id in order[:limit]:
        message_id, content = message_of.get(conversation_id, (None, ""))
        marked = snippet(content, terms) if message_id else ()
        hits.append(SearchHit(found[conversation_id], message_id, marked))
    return hits


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _best_messages(
    conn: Connection, *, owner: str, terms: Sequence[str], limit: int
) -> list[tuple[str, str, str]]:
    """(conversation id, message id, content) of each matching conversation's best message, best
    conversation first."""
    sql, params = message_query(conn.dialect.name, owner=owner, terms=terms, limit=limit)
    return [(row[0], row[1], row[2]) for row in conn.execute(text(sql), params)]


def message_query(
    backend: str, *, owner: str, terms: Sequence[str], limit: int
) -> tuple[str, dict[str, Any]]:
    """The SQL of :func:`_best_messages` on this backend, and its parameters."""
    params: dict[str, Any] = {"owner": owner, "limit": limit}
    if backend == "postgresql":
        source, score, where, filtered = _postgres_match(terms, params)
    else:
        source, score, where, filtered = _sqlite_match(terms, params)
    for n, term in enumerate(filtered):
        params[f"like_{n}"] = _like(term)
        op = "ILIKE" if backend == "postgresql" else "LIKE"
        where.append(f"m.content {op} :like_{n} ESCAPE '\\'")
    # Scored in the innermost query: SQLite allows bm25() there only, not in a window's ORDER BY. Every
    # piece of this text is this module's own; what the user typed is only ever a bound parameter.
    sql = f"""
        SELECT conversation_id, id, content FROM (
            SELECT conversation_id, id, content, score, updated_at, row_number() OVER (
                PARTITION BY conversation_id ORDER BY score DESC, created_at DESC, id DESC) AS n
            FROM (
                SELECT m.conversation_id, m.id, m.content, m.created_at, c.updated_at, {score} AS score
                FROM {source} JOIN conversations c ON c.id = m.conversation_id
                WHERE c.owner = :owner AND {" AND ".join(where)}
            ) AS scored
        ) AS ranked
        WHERE n = 1
        ORDER BY score DESC, updated_at DESC, conversation_id DESC
        LIMIT :limit
    """  # noqa: S608
    return sql, params


def _sqlite_match(terms: Sequence[str], params: dict[str, Any]) -> tuple[str, str, list[str], list[str]]:
    """FROM, score, conditions and the terms left to LIKE, on SQLite."""
    indexed = [t for t in terms if len(t) >= 3]  # a trigram index finds nothing shorter
    if not indexed:
        return "messages m", "0.0", ["m.status <> 'streaming'"], list(terms)
    # Each term a "phrase" (quotes doubled): its trigrams in a row, any substring; no operator.
    params["match"] = " AND ".join('"' + t.replace('"', '""') + '"' for t in indexed)
    source = (
        "search_index JOIN search_rows r ON r.id = search_index.rowid JOIN messages m ON m.id = r.message_id"
    )
    rest = [t for t in terms if len(t) < 3]
    return source, "-bm25(search_index)", ["search_index MATCH :match"], rest


def _postgres_match(terms: Sequence[str], params: dict[str, Any]) -> tuple[str, str, list[str], list[str]]:
    """FROM, score, conditions and the terms left to ILIKE, on PostgreSQL."""
    # The partial index's own predicate and expression, so that the planner uses it.
    where = ["m.status <> 'streaming'"]
    words = [t for t in terms if _WORD.fullmatch(t) and not _UNSPACED.search(t)]
    if not words:
        return "messages m", "0.0", where, list(terms)
    params["words"] = " & ".join(f"{w}:*" for w in words)
    vector, tsquery = "to_tsvector('simple'::regconfig, m.content)", "to_tsquery('simple'::regconfig, :words)"
    where.append(f"{vector} @@ {tsquery}")
    rest = [t for t in terms if t not in words]
    return "messages m", f"ts_rank_cd({vector}, {tsquery})", where, rest


def snippet(content: str, terms: Sequence[str]) -> tuple[tuple[str, bool], ...]:
    """About SNIPPET_CHARS of ``content`` around its first match, white space collapsed, as
    (text, matched) parts: plain text, for the client to mark up safely."""
    flat = " ".join(content.split())
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    first = pattern.search(flat)
    start = 0 if first is None else max(0, first.start() - SNIPPET_CHARS // 3)
    if start > 0:  # begin at a word when one is near
        space = flat.find(" ", start, first.start() if first else start)
        start = space + 1 if space != -1 and space - start < 20 else start
    end = min(len(flat), start + SNIPPET_CHARS)
    if end < len(flat):
        space = flat.rfind(" ", end - 20, end)
        end = space if space > (first.end() if first else start) else end
    piece = flat[start:end]
    parts: list[tuple[str, bool]] = []
    at = 0
    for match in pattern.finditer(piece):
        if match.start() > at:
            parts.append((piece[at : match.start()], False))
        parts.append((match.group(), True))
        at = match.end()
    if at < len(piece):
        parts.append((piece[at:], False))
    if start > 0:
        parts.insert(0, ("…", False))
    if end < len(flat):
        parts.append(("…", False))
    return tuple(parts)
