"""Dockerfile, .dockerignore and compose.yaml agree with the settings and with each other, checked
without a container engine (the machines that run these tests have none)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from botport.app import create_app
from botport.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continued lines joined, comments dropped), in order."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _dockerfile(keyword: str) -> list[str]:
    return [value for name, value in _instructions() if name == keyword]


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for value in _dockerfile("ENV"):
        env.update(item.split("=", 1) for item in shlex.split(value))
    return env


def _service(name: str) -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service: dict[str, Any] = compose["services"][name]
    return service


def _with_defaults(value: str) -> str:
    """A compose value as it is with nothing set: ``${NAME:-default}`` gives the default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _setting(env_name: str) -> str:
    field = env_name.removeprefix("BOTPORT_").lower()
    assert env_name.startswith("BOTPORT_") and field in Settings.model_fields, f"no setting {env_name}"
    return field


def test_the_image_runs_botport_as_a_user_on_its_port_with_data_in_a_volume() -> None:
    env = _image_env()
    botport_env = {name: value for name, value in env.items() if name.startswith("BOTPORT_")}
    assert {_setting(name) for name in botport_env} == {"host", "port", "data_dir"}
    assert env["BOTPORT_HOST"] == "0.0.0.0"  # noqa: S104  (inside a container: reached through its port)
    port = env["BOTPORT_PORT"]
    assert _dockerfile("EXPOSE") == [port]
    assert _dockerfile("VOLUME") == [env["BOTPORT_DATA_DIR"]]
    (user,) = _dockerfile("USER")
    assert user not in ("root", "0")
    assert _dockerfile("CMD") == ['["botport", "serve"]']
    (base,) = [value for value in _dockerfile("ARG") if value.startswith("BASE=")]
    assert base == "BASE=python:3.11-slim"  # the Python that pyproject.toml asks for
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text()
    # The settings take what the image sets.
    settings = Settings(host=env["BOTPORT_HOST"], port=int(port), data_dir=Path(env["BOTPORT_DATA_DIR"]))
    assert settings.port == 8400


def test_the_health_check_asks_a_route_that_exists(tmp_path: Path) -> None:
    (check,) = _dockerfile("HEALTHCHECK")
    assert "127.0.0.1:%s/healthz" in check and "os.environ.get('BOTPORT_PORT', '8400')" in check
    paths = {getattr(route, "path", None) for route in create_app(Settings(data_dir=tmp_path)).routes}
    assert "/healthz" in paths


def test_the_build_context_holds_what_the_install_needs() -> None:
    kept = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert kept == ["!pyproject.toml", "!README.md", "!src"]  # README.md: the package's readme
    copied = " ".join(_dockerfile("COPY"))
    assert "pyproject.toml README.md" in copied and "src /build/src" in copied


def test_compose_gives_botport_postgresql_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    botport = _service("botport")
    env = {name: _with_defaults(str(value)) for name, value in botport["environment"].items()}
    for name in env:
        _setting(name)

    database = urlsplit(env["BOTPORT_DATABASE_URL"])
    postgres = _service("postgres")["environment"]
    assert database.scheme == "postgresql" and database.hostname == "postgres"
    assert database.username == postgres["POSTGRES_USER"] and database.path == f"/{postgres['POSTGRES_DB']}"
    assert database.password == _with_defaults(postgres["POSTGRES_PASSWORD"])
    redis = urlsplit(env["BOTPORT_REDIS_URL"])
    assert redis.scheme == "redis" and redis.hostname == "redis"
    assert _service("redis")["image"].startswith("redis:")
    assert set(botport["depends_on"]) == {"postgres", "redis"}

    # The port the image listens on, published on this machine only; the volume at the data folder.
    image = _image_env()
    (published,) = botport["ports"]
    assert published == f"127.0.0.1:{image['BOTPORT_PORT']}:{image['BOTPORT_PORT']}"
    (volume,) = botport["volumes"]
    assert volume.split(":")[1] == image["BOTPORT_DATA_DIR"]

    # With nothing set in .env, the settings load and botport is in demo mode, on PostgreSQL and Redis.
    for name, value in {**image, **env}.items():
        if name.startswith("BOTPORT_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.coze_token is None and settings.bots == []
    assert settings.resolved_database_url.startswith("postgresql://") and settings.redis_url
