"""The data directory is the server user's alone: 0700, and the database (with its -wal and -shm
files) and the cookie-signing key 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from botport.app import create_app
from botport.settings import Settings


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the common default: files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_dir_and_its_files_are_private(tmp_path: Path, permissive_umask: None) -> None:
    data_dir = tmp_path / "botport-data"
    app = create_app(Settings(data_dir=data_dir))  # demo mode: a generated secret key, SQLite
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")
    async with app.router.lifespan_context(app), client:
        assert (await client.post("/api/conversations", json={})).status_code == 201
        files = {path.name: _mode(path) for path in data_dir.iterdir() if path.is_file()}
    assert _mode(data_dir) == 0o700
    assert {"botport.db", "botport.db-wal", "secret_key"} <= set(files), files
    assert all(mode & 0o077 == 0 for mode in files.values()), {
        name: oct(mode) for name, mode in files.items()
    }


async def test_a_database_file_left_readable_is_made_private(tmp_path: Path, permissive_umask: None) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "botport.db").touch(mode=0o644)
    app = create_app(Settings(data_dir=data_dir))
    async with app.router.lifespan_context(app):
        pass
    assert _mode(data_dir / "botport.db") == 0o600
