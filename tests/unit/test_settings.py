"""Settings: environment, TOML file, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from botport.bots import BotRegistry
from botport.errors import NotFoundError
from botport.settings import BotConfig, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BOTPORT_"):
            monkeypatch.delenv(name)


def test_no_token_is_demo_mode_with_the_emulator_bots(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.demo_mode
    slugs = [bot.slug for bot in BotRegistry.from_settings(settings)]
    assert slugs == ["demo", "weather", "slow", "failing"]


def test_blank_token_counts_as_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTPORT_COZE_TOKEN", "   ")
    assert Settings().demo_mode


def test_environment_configures_one_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTPORT_COZE_TOKEN", "pat_example")
    monkeypatch.setenv("BOTPORT_BOT_ID", "7494103024999219218")
    monkeypatch.setenv("BOTPORT_BOT_NAME", "Helper")
    monkeypatch.setenv("BOTPORT_COZE_BASE_URL", "https://api.coze.cn/")
    settings = load_settings()
    assert not settings.demo_mode
    assert settings.coze_base_url == "https://api.coze.cn"
    registry = BotRegistry.from_settings(settings)
    assert registry.default.bot_id == "7494103024999219218"
    assert registry.default.name == "Helper"
    # The token is a secret: it never shows in a repr or a dump.
    assert "pat_example" not in repr(settings)
    assert "pat_example" not in str(settings.model_dump())


def test_toml_file_with_several_bots_and_env_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "botport.toml"
    config.write_text(
        'coze_base_url = "https://coze.example.com"\nport = 9000\n'
        '[[bots]]\nslug = "support"\nbot_id = "111"\nname = "Support"\ngreeting = "Hi"\n'
        '[[bots]]\nslug = "writer"\nbot_id = "222"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("BOTPORT_COZE_TOKEN", "pat_example")
    monkeypatch.setenv("BOTPORT_PORT", "9100")
    settings = load_settings(config)
    assert settings.port == 9100  # the environment wins over the file
    assert settings.coze_base_url == "https://coze.example.com"
    registry = BotRegistry.from_settings(settings)
    assert [b.slug for b in registry] == ["support", "writer"]
    assert registry.get("writer").name == "writer"  # name defaults to the slug
    assert registry.by_coze_id("111") is not None
    with pytest.raises(NotFoundError):
        registry.get("nope")


def test_explicit_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTPORT_PORT", "9100")
    assert load_settings(port=9200).port == 9200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"coze_base_url": "api.coze.com"},
        {"port": 70000},
        {"read_timeout": 0},
        {"bots": [BotConfig(slug="a", bot_id="1"), BotConfig(slug="a", bot_id="2")]},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate(kwargs)


@pytest.mark.parametrize("slug", ["Has Space", "UPPER", "", "x" * 65, "../etc"])
def test_bad_slugs_are_refused(slug: str) -> None:
    with pytest.raises(ValidationError):
        BotConfig(slug=slug, bot_id="1")


def test_token_configured_but_no_bot_is_a_clear_error() -> None:
    settings = Settings(coze_token="pat_example")
    with pytest.raises(ValueError, match="no bot configured"):
        BotRegistry.from_settings(settings)
