"""Storage: SQLAlchemy Core over SQLite (default) or PostgreSQL (by URL).

- ``db``: ``create_engine_for(url)`` and ``Database`` (start = migrate, close, ``connect()``)
- ``migrations``: ordered, named steps recorded in ``botport_migrations``
- ``tables``: the current schema; ``types``: UTC timestamps, ids
- ``records``: the frozen records returned; ``repository``: conversations and messages;
  ``history``: matching a client's replayed history; ``turns``: running turns; ``keys``: API keys
- ``search``: finding a reader's conversations; ``pins``: pinned ones; ``transfer``: imported ones
"""

from botport.store.db import Database, create_engine_for
from botport.store.records import ApiKeyRecord, ConversationRecord, MessageRecord

__all__ = ["ApiKeyRecord", "ConversationRecord", "Database", "MessageRecord", "create_engine_for"]
