"""``botport embed-snippet``: the HTML that puts a bot's chat widget on a site (docs/embed.md), to
stdout; what is missing for it to show (the site not allowed, no public URL) is said on stderr."""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import urlsplit

import typer

from botport.bots import BotRegistry
from botport.cli.options import ConfigOption, fail, load
from botport.demo import TokenNeeded, offered_bots
from botport.errors import NotFoundError
from botport.settings import embed_origin

PLACEHOLDER = "https://YOUR-BOTPORT-ADDRESS"

SIGNING = """
Signed-in users: your server signs each user's id with this site's secret (the value of
BOTPORT_EMBED_SECRETS for SITE on botport; keep it on your server, e.g. as EMBED_SECRET) and puts it
in the page:

SIGNED

Python:
    import hashlib, hmac, os
    secret = os.environ["EMBED_SECRET"].encode()
    user_hash = hmac.new(secret, str(user_id).encode(), hashlib.sha256).hexdigest()

Node:
    const { createHmac } = require("node:crypto");
    const secret = process.env.EMBED_SECRET;
    const userHash = createHmac("sha256", secret).update(String(userId)).digest("hex");"""


def _warn(message: str) -> None:
    typer.echo(f"botport: {message}", err=True)


def embed_snippet(
    bot: Annotated[str, typer.Option("--bot", help="The bot's slug (botport's /api/bots lists them).")],
    site: Annotated[
        str, typer.Option("--site", help="The site that will show it, e.g. https://shop.example.com.")
    ],
    config: ConfigOption = None,
) -> None:
    """Print the snippet that shows BOT's chat widget on SITE's pages (docs/embed.md)."""
    settings = load(config)
    try:
        origin = embed_origin(site)
    except ValueError as exc:
        fail(str(exc), 2)
    try:
        chosen = BotRegistry(offered_bots(settings)).get(bot)
    except (TokenNeeded, NotFoundError, ValueError) as exc:
        fail(str(exc), 2)
    if settings.public_url:
        parts = urlsplit(settings.public_url.strip())
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    else:
        base = PLACEHOLDER
        _warn(
            f"public_url is not set (BOTPORT_PUBLIC_URL): replace {PLACEHOLDER} with the address "
            "visitors reach botport at"
        )
    if origin not in chosen.embed_origins:
        where = (
            "BOTPORT_EMBED_ORIGINS"
            if chosen.slug == "default" or settings.demo_mode
            else "its [[bots]] entry"
        )
        _warn(
            f"{origin} is not in bot {chosen.slug!r}'s embed_origins: the widget will not show there until "
            f"it is (embed_origins in {where})"
        )
    src = escape(f"{base}/embed.js")
    tag = f'<script src="{src}" data-bot="{escape(chosen.slug)}" async></script>'
    botport_origin = escape(f"{urlsplit(base).scheme}://{urlsplit(base).netloc}")
    typer.echo(tag)
    typer.echo(
        f"\nIf the page sends a Content-Security-Policy, it needs: script-src {botport_origin}; "
        f"connect-src {botport_origin}; frame-src {botport_origin}"
    )
    if origin in settings.embed_secrets:
        signed = tag.replace(" async>", ' data-user-id="USER_ID" data-user-hash="USER_HASH" async>')
        typer.echo(SIGNING.replace("SITE", origin).replace("SIGNED", signed))
    else:
        _warn(
            f"to sign users in (one history on every device), give {origin} a secret in BOTPORT_EMBED_SECRETS"
        )
