"""Identity: signed cookies and server-side Coze user ids."""

from __future__ import annotations

import stat
from pathlib import Path

from botport.identity import Identity, IdentitySigner, load_or_create_secret


def test_signed_cookie_round_trips_and_rejects_tampering() -> None:
    signer = IdentitySigner(b"k" * 32)
    cookie = signer.sign("abc123")
    assert signer.unsign(cookie) == "abc123"
    assert signer.unsign("abc124" + cookie[6:]) is None
    assert signer.unsign(cookie[:-2] + "xx") is None
    assert signer.unsign("abc123") is None
    assert signer.unsign("") is None
    assert IdentitySigner(b"other" * 8).unsign(cookie) is None


def test_coze_user_id_is_stable_opaque_and_distinct() -> None:
    signer = IdentitySigner(b"k" * 32)
    alice, bob = Identity("web", "alice"), Identity("web", "bob")
    assert signer.coze_user_id(alice) == signer.coze_user_id(Identity("web", "alice"))
    assert signer.coze_user_id(alice) != signer.coze_user_id(bob)
    assert signer.coze_user_id(Identity("key", "alice")) != signer.coze_user_id(alice)
    assert "alice" not in signer.coze_user_id(alice)
    # Another server secret gives other ids: user ids cannot be guessed from identities.
    assert IdentitySigner(b"z" * 32).coze_user_id(alice) != signer.coze_user_id(alice)


def test_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / "data")
    second = load_or_create_secret(tmp_path / "data")
    assert first == second and len(first) >= 48
    mode = (tmp_path / "data" / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
