"""RSA key pairs for the Coze OAuth app tests, made with ``cryptography`` and written as PEM files."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from botport.emulator.oauth_routes import EmulatedOAuthApp

APP_ID = "1150000000000000001"
KEY_ID = "kid_TESTKEY_0123456789abcdefghijk"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: bytes
    private_file: Path
    public_file: Path

    def secret_lines(self) -> list[str]:
        """The base64 lines of the private key: none may appear anywhere botport writes."""
        return [line for line in self.private_pem.decode().splitlines() if not line.startswith("-----")]


@functools.cache
def _pems(name: str) -> tuple[bytes, bytes]:
    """One key pair per name per test process (2048-bit keys take a moment to make)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def key_pair(folder: Path, name: str = "app") -> KeyPair:
    """The key pair ``name``, written into ``folder``: the private half readable by its owner only."""
    private, public = _pems(name)
    folder.mkdir(parents=True, exist_ok=True)
    private_file, public_file = folder / f"{name}_private_key.pem", folder / f"{name}_public_key.pem"
    private_file.write_bytes(private)
    private_file.chmod(0o600)
    public_file.write_bytes(public)
    return KeyPair(private, public, private_file, public_file)


def emulated_app(keys: KeyPair, *, max_duration: int = 86399) -> EmulatedOAuthApp:
    return EmulatedOAuthApp(APP_ID, KEY_ID, keys.public_pem, max_duration=max_duration)


def oauth_env(keys: KeyPair, *, app_id: str = APP_ID, key_id: str = KEY_ID) -> dict[str, str]:
    """The three BOTPORT_COZE_OAUTH_* settings."""
    return {
        "BOTPORT_COZE_OAUTH_APP_ID": app_id,
        "BOTPORT_COZE_OAUTH_KEY_ID": key_id,
        "BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE": str(keys.private_file),
    }
