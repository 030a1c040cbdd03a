"""One validated Settings object, loaded from the environment (``BOTPORT_`` prefix) or a TOML file.

Nothing reads the environment at import time: ``Settings()`` (or :func:`load_settings`) builds it,
and it is passed to ``create_app``.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

COZE_COM = "https://api.coze.com"
COZE_CN = "https://api.coze.cn"

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MIN_EMBED_SECRET_CHARS = 16
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN = re.compile(
    rf"^(?P<scheme>https?)://(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?$"
)


def embed_origin(value: object) -> str:
    """A site that may embed a bot, as a browser names it: ``scheme://host[:port]``, lowercase, with
    no path, query, user or wildcard (``https://shop.example.com``). Raises ``ValueError``."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if text.count("/") == 3 and text.endswith("/"):  # https://shop.example.com/ names the same site
        text = text[:-1]
    match = _ORIGIN.match(text)
    port = int(match["port"]) if match and match["port"] else None
    if match is None or port == 0 or (port or 0) > 65535:
        raise ValueError(f"an embedding site is scheme://host[:port] with no path and no '*', not {value!r}")
    default = {"http": 80, "https": 443}[match["scheme"]]
    return f"{match['scheme']}://{match['host']}" + (f":{port}" if port not in (None, default) else "")


def _embed_origins(value: object) -> object:
    if isinstance(value, str):  # BOTPORT_EMBED_ORIGINS=https://a.example,https://b.example
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if isinstance(value, list):
        return list(dict.fromkeys(embed_origin(origin) for origin in value))
    return value


class BotConfig(BaseModel):
    """A Coze bot that this server offers. Clients pick a bot by ``slug``, never by Coze bot id."""

    slug: str = Field(description="Short name used in URLs and as the OpenAI model id.")
    bot_id: str = Field(min_length=1, description="The Coze bot id.")
    name: str = ""
    description: str = ""
    greeting: str = ""
    embed_origins: list[str] = Field(
        default_factory=list,
        description="Sites whose pages may embed this bot's chat widget (docs/embed.md); default: none.",
    )

    _origins = field_validator("embed_origins", mode="before")(_embed_origins)

    @field_validator("slug")
    @classmethod
    def _slug_is_url_safe(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("slug must be 1-64 lowercase letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _default_name(self) -> BotConfig:
        if not self.name:
            self.name = self.slug
        return self


class Settings(BaseSettings):
    # hide_input_in_errors: an error names the setting, never its value (a token, a secret).
    model_config = SettingsConfigDict(
        env_prefix="BOTPORT_", extra="ignore", env_nested_delimiter="__", hide_input_in_errors=True
    )

    # Upstream
    coze_token: SecretStr | None = Field(
        default=None, description="Coze personal access token. Unset: demo mode."
    )
    coze_base_url: str = Field(
        default=COZE_COM, description="api.coze.com, api.coze.cn or a Coze Studio URL."
    )
    # A Coze OAuth "service" app (JWT), instead of a personal access token (botport.upstream.oauth).
    coze_oauth_app_id: str | None = Field(default=None, description="The Coze OAuth app's id (JWT issuer).")
    coze_oauth_key_id: str | None = Field(
        default=None, description="The id of the app's public key (the JWT header's kid)."
    )
    coze_oauth_private_key_file: Path | None = Field(
        default=None,
        description="The PEM file of the app's private key; the key itself is never a setting.",
    )
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0, description="Longest silence allowed inside a stream.")
    turn_timeout: float = Field(default=600.0, gt=0, description="Longest a whole turn may take.")
    upstream_max_connections: int = Field(
        default=8_000,
        ge=1,
        description=(
            "Connections to Coze at once: one per running turn; past it a new turn gets 503. Each open"
            " stream also holds two open files: `botport serve` raises its limit to the system's maximum."
        ),
    )
    checkpoint_interval: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How often a running turn's partial answer is written (and its lease renewed).",
    )
    turn_lease: float = Field(
        default=15.0,
        gt=0,
        description="A running turn whose instance gave no sign of life for this long is resolved as failed.",
    )
    turn_log_retention: float = Field(
        default=120.0,
        ge=0,
        description="How long a finished turn's events stay replayable exactly (then: the stored answer).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for several instances: running turns' event logs and Stop across instances.",
    )

    # Bots: one by BOTPORT_BOT_ID, or several as [[bots]] in the config file (or BOTPORT_BOTS as JSON).
    bot_id: str | None = Field(default=None, description="Shorthand for one bot, slug 'default'.")
    bot_name: str = ""
    bots: list[BotConfig] = Field(default_factory=list)

    # Server
    host: str = "127.0.0.1"
    port: int = Field(default=8400, ge=0, le=65535)
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="SQLite file and cookie-signing key; default: the user's data folder (platformdirs), "
        "the same whichever folder a command runs in.",
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    secret_key: SecretStr | None = Field(default=None, description="Signs cookies; default: generated once.")
    public_url: str | None = Field(
        default=None,
        description="The address users reach botport at (https://chat.example.com); links and the tool's "
        "OpenAPI document use it. Unset: the address a request came to.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Addresses (IPs or CIDRs, comma-separated) of reverse proxies whose X-Forwarded-For, "
        "-Proto and -Host are believed; from anyone else they are ignored. Default: loopback only.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins whose pages may call the API with an API key (CORS), comma-separated; "
        "default: none. Browser-based clients of /v1 (NextChat, LobeChat) need theirs here.",
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        description="Processes of `botport serve`; unset: one per core with PostgreSQL and Redis, else 1.",
    )

    # Limits
    max_message_chars: int = Field(default=8000, gt=0)
    max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest image or file attached to a message."
    )
    max_attachments: int = Field(default=10, ge=0, le=50, description="Attachments one message may carry.")
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    body_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a request body may go without a byte (then 408)."
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request line and headers may take in all, counted from the connection's "
        "opening (a later keep-alive request: its first byte); then 408, or a close if nothing came.",
    )
    max_connections_per_client: int = Field(
        default=256,
        ge=0,
        description="Open connections one address may hold, per server process; past it, 503 with "
        "Retry-After. Trusted proxies are exempt; 0: no cap.",
    )
    tool_timeout: float = Field(
        default=40.0,
        gt=0,
        description="Deadline of one /api/tool/ask call; under GPTs' 45 s limit for actions.",
    )

    # Limits per caller (0: none). A browser is its identity cookie, and — since dropping the cookie
    # makes a new identity — also its address. An API key has the quota it was given (none by default:
    # the operator made it for a program whose load only they know; `botport keys quota`).
    requests_per_minute: int = Field(default=600, ge=0, description="Requests a minute per browser.")
    address_requests_per_minute: int = Field(
        default=1200, ge=0, description="Requests a minute without an API key from one client address."
    )
    turns_per_minute: int = Field(
        default=20, ge=0, description="Messages a minute a browser may send (each a paid Coze turn)."
    )
    address_turns_per_minute: int = Field(
        default=30, ge=0, description="Messages a minute sent without an API key from one client address."
    )
    concurrent_turns: int = Field(
        default=3, ge=0, description="Answers being written at once for one browser (keys: their quota)."
    )
    web_access: Literal["public", "passcode", "keys"] = Field(
        default="public",
        description="Who may use the web chat: anyone (public), whoever knows web_passcode (passcode), "
        "or nobody without an API key (keys: the page and /chat are closed, the API needs a key).",
    )
    web_passcode: SecretStr | None = Field(
        default=None, description="The shared passcode of the web chat when web_access is passcode."
    )

    # The chat widget on other sites (docs/embed.md). Each [[bots]] entry has its own embed_origins.
    embed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Sites (comma-separated origins) that may embed the BOTPORT_BOT_ID bot, or in demo mode "
        "the demo bots; default: none.",
    )
    embed_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Per embedding site, the secret its server signs user ids with (JSON: origin -> "
        "secret). Keep it in the environment (BOTPORT_EMBED_SECRETS), not in the config file.",
    )

    log_level: Literal["debug", "info", "warning", "error"] = "info"

    _embed_origins = field_validator("embed_origins", mode="before")(_embed_origins)

    @field_validator("embed_secrets", mode="before")
    @classmethod
    def _secrets(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        secrets: dict[str, object] = {}
        for origin, secret in value.items():
            plain = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
            if not isinstance(plain, str) or len(plain.strip()) < MIN_EMBED_SECRET_CHARS:
                raise ValueError(
                    f"the embed secret of {origin!r} must be a string of at least {MIN_EMBED_SECRET_CHARS}"
                    " characters"  # never the value itself
                )
            secrets[embed_origin(origin)] = secret
        return secrets

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):  # BOTPORT_CORS_ORIGINS=https://a.example,https://b.example
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list):
            for origin in value:
                if not isinstance(origin, str) or not (
                    origin == "*" or origin.startswith(("http://", "https://"))
                ):
                    raise ValueError(f"a CORS origin is * or starts with http:// or https://, not {origin!r}")
            return [o.rstrip("/") for o in value]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        if isinstance(value, str):  # BOTPORT_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.2
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list):
            for entry in value:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except (TypeError, ValueError):
                    raise ValueError(f"a trusted proxy is an IP address or a CIDR, not {entry!r}") from None
        return value

    @field_validator("coze_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("coze_base_url must start with http:// or https://")
        return value

    @field_validator("coze_token")
    @classmethod
    def _blank_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @model_validator(mode="after")
    def _oauth_app_complete(self) -> Settings:
        oauth = [self.coze_oauth_app_id, self.coze_oauth_key_id, self.coze_oauth_private_key_file]
        if any(oauth) and not all(oauth):
            raise ValueError(
                "a Coze OAuth app needs all three of coze_oauth_app_id, coze_oauth_key_id and"
                " coze_oauth_private_key_file (BOTPORT_COZE_OAUTH_*)"
            )
        if all(oauth) and self.coze_token is not None:
            raise ValueError("set either coze_token or a Coze OAuth app (BOTPORT_COZE_OAUTH_*), not both")
        return self

    @model_validator(mode="after")
    def _lease_outlives_checkpoints(self) -> Settings:
        if self.turn_lease < 3 * self.checkpoint_interval:
            raise ValueError("turn_lease must be at least 3 times checkpoint_interval (the heartbeat)")
        return self

    @model_validator(mode="after")
    def _passcode_when_needed(self) -> Settings:
        if self.web_access == "passcode" and not (
            self.web_passcode and self.web_passcode.get_secret_value().strip()
        ):
            raise ValueError("web_access = passcode needs web_passcode (BOTPORT_WEB_PASSCODE)")
        return self

    @model_validator(mode="after")
    def _unique_slugs(self) -> Settings:
        slugs = [bot.slug for bot in self.bots]
        dupes = sorted({s for s in slugs if slugs.count(s) > 1})
        if dupes:
            raise ValueError(f"bot slugs must be unique: {', '.join(dupes)}")
        return self

    @property
    def https_site(self) -> bool:
        """Users reach botport over https (its public URL says so)."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def oauth_app(self) -> bool:
        """Coze is reached with a Coze OAuth app's short-lived tokens (not a personal access token)."""
        return self.coze_oauth_app_id is not None

    @property
    def demo_mode(self) -> bool:
        """No token and no OAuth app: the built-in emulator answers, with its demo bots."""
        return self.coze_token is None and not self.oauth_app

    def all_bots(self) -> list[BotConfig]:
        """The configured bots, the ``bot_id`` shorthand first."""
        bots = list(self.bots)
        if self.bot_id and all(bot.bot_id != self.bot_id for bot in bots):
            shorthand = BotConfig(
                slug="default",
                bot_id=self.bot_id,
                name=self.bot_name or "Assistant",
                embed_origins=self.embed_origins,
            )
            bots.insert(0, shorthand)
        return bots

    def data_dir_description(self) -> str:
        """Where the data is and why there, for the line every command prints."""
        where = str(self.data_dir.resolve())
        if "data_dir" in self.model_fields_set:
            return f"{where} (data_dir setting)"
        return f"{where} (the default; set BOTPORT_DATA_DIR to use another folder)"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'botport.db').resolve()}"


def default_data_dir() -> Path:
    """The user's own data folder (``~/.local/share/botport`` on Linux): every command finds the same
    database wherever it is run from, unlike a folder relative to the current directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("botport", appauthor=False))


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from a TOML file (if given), then the environment, then explicit overrides.

    The file takes the same keys as the environment without the prefix, and ``[[bots]]`` tables.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        with config_file.open("rb") as fh:
            values = tomllib.load(fh)
    env = Settings()
    merged = {**values, **env.model_dump(exclude_unset=True), **overrides}
    return Settings.model_validate(merged)
