"""``botport emulator``: the offline Coze emulator on its own port, for any Coze client."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from botport.cli.logs import configure_logging
from botport.cli.options import fail
from botport.cli.port import CannotListen, http_url, reserve_port

if TYPE_CHECKING:
    from botport.emulator.oauth_routes import EmulatedOAuthApp


def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8401,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            envvar="BOTPORT_EMULATOR_TOKENS",
            help="Accepted Bearer token (repeatable). Default: demo-token.",
        ),
    ] = None,
    poll_limit: Annotated[
        bool,
        typer.Option(
            "--poll-limit/--no-poll-limit",
            help="Refuse a chat's retrieves beyond about one a second, as Coze does (error 4013).",
        ),
    ] = True,
    oauth_app_id: Annotated[
        str | None,
        typer.Option(help="A Coze OAuth service app's id: its JWTs get access tokens (JWT issuer)."),
    ] = None,
    oauth_key_id: Annotated[
        str | None, typer.Option(help="The id (fingerprint) of the OAuth app's public key (the JWT's kid).")
    ] = None,
    oauth_public_key_file: Annotated[
        Path | None, typer.Option(help="The PEM file of the OAuth app's RSA public key.")
    ] = None,
    oauth_max_duration: Annotated[
        int,
        typer.Option(min=1, help="Longest life, in seconds, of an OAuth access token (Coze's: 86399)."),
    ] = 86399,
) -> None:
    """Serve the offline Coze v3 emulator (its demo bots answer without a network)."""
    import uvicorn

    from botport.emulator.app import create_emulator_app

    configure_logging("info")
    tokens = token or ["demo-token"]
    oauth = _oauth_app(oauth_app_id, oauth_key_id, oauth_public_key_file, oauth_max_duration)
    emulator_app = create_emulator_app(tokens=tokens, poll_limit=poll_limit, oauth_app=oauth)
    app_line = f", OAuth app {oauth.app_id}" if oauth is not None else ""
    try:
        reservation = reserve_port(host, port)  # port 0: the banner names the port it got
    except CannotListen as exc:
        fail(str(exc))
    typer.echo(
        f"Coze emulator on {http_url(host, reservation.port)} (tokens: {len(tokens)} configured{app_line})",
        err=True,
    )
    try:
        uvicorn.run(emulator_app, host=host, port=reservation.port, log_level="warning")
    finally:
        reservation.release()


def _oauth_app(
    app_id: str | None, key_id: str | None, public_key_file: Path | None, max_duration: int
) -> EmulatedOAuthApp | None:
    """The OAuth app of the three options (all or none), its public key checked now."""
    from botport.emulator.oauth_routes import EmulatedOAuthApp

    given = [app_id, key_id, public_key_file]
    if not any(given):
        return None
    if not all(given):
        fail("an OAuth app needs all three of --oauth-app-id, --oauth-key-id and --oauth-public-key-file", 2)
    assert app_id and key_id and public_key_file
    try:
        app = EmulatedOAuthApp.from_file(app_id, key_id, public_key_file, max_duration=max_duration)
        app.public_key()
    except OSError as exc:
        fail(f"cannot read --oauth-public-key-file {public_key_file}: {exc.strerror}", 2)
    except ValueError as exc:
        fail(f"--oauth-public-key-file {public_key_file}: {exc}", 2)
    return app
