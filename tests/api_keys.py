"""A botport API key for a test, created in the app's database (its own connection and engine, so it
works from any thread and before or while the app runs)."""

from __future__ import annotations

from botport.store import Database
from botport.store.keys import create_api_key


async def new_key(database_url: str, name: str = "test client") -> str:
    db = Database(database_url)
    await db.start()
    try:
        async with db.connect() as conn:
            key, _ = await create_api_key(conn, name=name)
    finally:
        await db.close()
    return key
