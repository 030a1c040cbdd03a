"""The widget's settings (docs/embed.md): each bot's embed_origins (validated origins, none by default),
BOTPORT_EMBED_ORIGINS for the demo bots and the BOTPORT_BOT_ID bot, BOTPORT_EMBED_SECRETS (JSON, kept
secret: never in a repr, a dump or an error message)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from botport.demo import offered_bots
from botport.embed_tokens import user_hash, user_hash_matches, valid_user_id
from botport.settings import BotConfig, Settings, embed_origin, load_settings

SECRET = "a-long-enough-secret-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("BOTPORT_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("HTTPS://Shop.Example.COM/", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("https://xn--fiqs8s.cn", "https://xn--fiqs8s.cn"),
    ],
)
def test_an_origin_is_named_as_a_browser_names_it(given: str, origin: str) -> None:
    assert embed_origin(given) == origin


@pytest.mark.parametrize(
    "given",
    [
        "*",
        "https://*.example.com",
        "https://shop.example.com/path",
        "https://shop.example.com//",
        "https://shop.example.com?x=1",
        "https://shop.example.com#top",
        "https://user@shop.example.com",
        "ftp://shop.example.com",
        "shop.example.com",
        "null",
        "https://",
        "https://shop.example.com:",
        "https://shop.example.com:0",
        "https://shop.example.com:65536",
        "https://shop example.com",
        "https://shop.example.com; script-src *",
        "https://-shop.example.com",
        "https://商店.cn",
    ],
)
def test_anything_else_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match=r"scheme://host\[:port\]"):
        embed_origin(given)
    with pytest.raises(ValidationError):
        BotConfig(slug="support", bot_id="1", embed_origins=[given])


def test_no_bot_is_embeddable_by_default(tmp_path: Path) -> None:
    assert BotConfig(slug="support", bot_id="1").embed_origins == []
    assert all(not bot.embed_origins for bot in offered_bots(Settings(data_dir=tmp_path)))


def test_botport_embed_origins_is_for_the_demo_bots_and_the_bot_id_bot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "BOTPORT_EMBED_ORIGINS", "https://a.example, http://localhost:3000/ ,https://a.example"
    )
    demo = Settings()
    assert demo.embed_origins == ["https://a.example", "http://localhost:3000"]
    assert {tuple(bot.embed_origins) for bot in offered_bots(demo)} == {
        demo_origins := tuple(demo.embed_origins)
    }
    monkeypatch.setenv("BOTPORT_COZE_TOKEN", "pat_x")
    monkeypatch.setenv("BOTPORT_BOT_ID", "123")
    (one,) = offered_bots(Settings())
    assert tuple(one.embed_origins) == demo_origins
    # A [[bots]] entry has its own list (none unless given), whatever BOTPORT_EMBED_ORIGINS says.
    configured = Settings(bot_id=None, bots=[BotConfig(slug="support", bot_id="1")])
    assert offered_bots(configured)[0].embed_origins == []


def test_bots_in_the_config_file_have_their_own_sites(tmp_path: Path) -> None:
    config = tmp_path / "botport.toml"
    config.write_text(
        '[[bots]]\nslug = "support"\nbot_id = "1"\nembed_origins = ["https://Shop.example.com/"]\n'
        '[[bots]]\nslug = "sales"\nbot_id = "2"\n'
    )
    settings = load_settings(config)
    assert [bot.embed_origins for bot in settings.bots] == [["https://shop.example.com"], []]
    config.write_text('[[bots]]\nslug = "support"\nbot_id = "1"\nembed_origins = ["*"]\n')
    with pytest.raises(ValidationError, match="no '\\*'"):
        load_settings(config)


def test_secrets_come_from_json_and_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTPORT_EMBED_SECRETS", f'{{"HTTPS://Shop.example.com/": "{SECRET}"}}')
    settings = Settings()
    assert list(settings.embed_secrets) == ["https://shop.example.com"]
    assert settings.embed_secrets["https://shop.example.com"].get_secret_value() == SECRET
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())


@pytest.mark.parametrize(
    "secrets",
    [
        {"https://shop.example.com": "short-secret"},  # under 16 characters
        {"https://shop.example.com": "                    "},
        {"https://shop.example.com/path": SECRET},
        {"*": SECRET},
    ],
)
def test_bad_secrets_are_refused_without_showing_them(secrets: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(embed_secrets=secrets)
    text = str(refused.value)
    assert "embed_secrets" in text
    for value in secrets.values():
        if value.strip():
            assert value not in text


def test_no_settings_error_shows_a_secret_value() -> None:
    """Errors name the setting, never echo the input: a model-level error once printed the token."""
    with pytest.raises(ValidationError) as refused:
        Settings(web_access="passcode", coze_token="pat_DO_NOT_SHOW_0123456789")
    assert "pat_DO_NOT_SHOW" not in str(refused.value)


def test_the_user_hash_is_hmac_sha256_hex() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert user_hash("Jefe", "what do ya want for nothing?") == expected
    assert user_hash_matches("Jefe", "what do ya want for nothing?", expected.upper())
    assert not user_hash_matches("Jefe", "what do ya want for nothing?", expected[:-1] + "0")
    assert not user_hash_matches("Jefe", "what do ya want for nothing?", "ü" + expected[1:])
    assert not user_hash_matches("jefe", "what do ya want for nothing?", expected)


def test_user_ids() -> None:
    assert valid_user_id("42") and valid_user_id("user@example.com") and valid_user_id("用户-7")
    for bad in ("", " 42", "42 ", "4\n2", "\x00", "x" * 129):
        assert not valid_user_id(bad)
