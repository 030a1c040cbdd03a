"""Settings: environment, TOML file, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from botport.bots import BotRegistry
from botport.demo import TokenNeeded, offered_bots
from botport.emulator.bots import DEMO_BOT_ID, TOOL_BOT_ID
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
    slugs = [bot.slug for bot in BotRegistry(offered_bots(settings))]
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
    registry = BotRegistry(offered_bots(settings))
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
    registry = BotRegistry(offered_bots(settings))
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
        BotRegistry(offered_bots(settings))


def test_configured_bots_without_a_token_are_refused(tmp_path: Path) -> None:
    """The emulator cannot answer for a real bot: refused at start, not a 502 on every message."""
    bots = [
        BotConfig(slug="support", bot_id="7494103024999219218"),
        BotConfig(slug="demo", bot_id=DEMO_BOT_ID),
    ]
    with pytest.raises(TokenNeeded) as info:
        offered_bots(Settings(data_dir=tmp_path, bots=bots))
    assert isinstance(info.value, ValueError)  # serve and chat exit 2 on it
    assert str(info.value) == (
        "no Coze token is set (BOTPORT_COZE_TOKEN), and demo mode's emulator only knows its demo bots: "
        "set the token for the configured bot support (7494103024999219218), or remove it to try the demo"
    )
    with pytest.raises(TokenNeeded, match=r"bot default \(7123\)"):
        offered_bots(Settings(data_dir=tmp_path, bot_id="7123"))  # BOTPORT_BOT_ID alone too


def test_configured_emulator_bots_without_a_token_are_served(tmp_path: Path) -> None:
    bots = [BotConfig(slug="helper", bot_id=TOOL_BOT_ID), BotConfig(slug="demo", bot_id=DEMO_BOT_ID)]
    assert offered_bots(Settings(data_dir=tmp_path, bots=bots)) == bots
    with_token = Settings(data_dir=tmp_path, coze_token="pat_example", bots=[BotConfig(slug="x", bot_id="7")])
    assert [bot.slug for bot in offered_bots(with_token)] == ["x"]
