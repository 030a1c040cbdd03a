"""The emulator's OAuth token endpoint for a Coze OAuth service app (JWT), on a real uvicorn server.

The oracle is Coze's official SDK: ``cozepy``'s ``JWTOAuthApp`` gets a token here and its ``Coze``
client chats with it, and ``JWTAuth`` (the SDK's own renewing auth) too. Hand-made JWTs (PyJWT) drive
every refusal: another key, the wrong algorithm, key id, issuer, audience, times, a reused ``jti``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cozepy import (
    ChatEventType,
    Coze,
    CozeAPIError,
    JWTAuth,
    JWTOAuthApp,
    Message,
    SyncHTTPClient,
    TokenAuth,
)
from emulator_helpers import TOKEN, RunningEmulator, chat_body, fast_bots, serve

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.emulator.oauth_routes import EmulatedOAuthApp
from oauth_keys import APP_ID, KEY_ID, KeyPair, emulated_app, key_pair

pytestmark = pytest.mark.live

TOKEN_PATH = "/api/permission/oauth2/token"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return key_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return key_pair(tmp_path_factory.mktemp("other"), "other")


@pytest.fixture(scope="module")
def running(keys: KeyPair) -> Iterator[RunningEmulator]:
    app = create_emulator_app([TOKEN], bots=fast_bots(), oauth_app=emulated_app(keys))
    with serve(app) as emulator:
        yield emulator


@pytest.fixture
def http(running: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.base_url, timeout=30) as client:
        yield client


def sign(keys: KeyPair, audience: str, *, headers: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(time.time())
    values = {"iss": APP_ID, "aud": audience, "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex, **claims}
    values = {name: value for name, value in values.items() if value is not None}
    return jwt.encode(values, keys.private_pem, algorithm="RS256", headers={"kid": KEY_ID, **(headers or {})})


def exchange(http: httpx.Client, signed: str | None, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {signed}"} if signed is not None else {}
    return http.post(TOKEN_PATH, json={"grant_type": GRANT, **body}, headers=headers)


def host(running: RunningEmulator) -> str:
    return running.base_url.removeprefix("http://")


def answer_text(coze: Coze, user: str, question: str) -> str:
    messages = [Message.build_user_question_text(question)]
    for event in coze.chat.stream(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=messages):
        if event.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED and event.message.type == "answer":
            return event.message.content
    raise AssertionError("no answer")


# --- the SDK as the oracle ------------------------------------------------------------------------


def closed(oauth: JWTOAuthApp) -> None:
    """The SDK's OAuth requests go through a client of its own, which it never closes."""
    client = oauth._requester._sync_client
    if client is not None:
        client.close()


def test_cozepy_jwt_oauth_app_gets_a_token_and_chats_with_it(running: RunningEmulator, keys: KeyPair) -> None:
    oauth = JWTOAuthApp(APP_ID, keys.private_pem.decode(), KEY_ID, base_url=running.base_url)
    before = int(time.time())
    try:
        token = oauth.get_access_token(ttl=900)
    finally:
        closed(oauth)
    assert token.access_token.startswith("czs_")
    assert before + 900 <= token.expires_in <= int(time.time()) + 900  # a unix time, as Coze's
    assert running.app.state.oauth.exchanges >= 1

    http_client = SyncHTTPClient(timeout=30)
    coze = Coze(auth=TokenAuth(token.access_token), base_url=running.base_url, http_client=http_client)
    try:
        assert "hello" in answer_text(coze, "oauth-user", "hello there").lower()
    finally:
        http_client.close()


def test_cozepy_jwt_auth_renews_by_itself(running: RunningEmulator, keys: KeyPair) -> None:
    auth = JWTAuth(
        client_id=APP_ID,
        private_key=keys.private_pem.decode(),
        public_key_id=KEY_ID,
        ttl=900,
        base_url=running.base_url,
    )
    http_client = SyncHTTPClient(timeout=30)
    coze = Coze(auth=auth, base_url=running.base_url, http_client=http_client)
    try:
        assert answer_text(coze, "oauth-user-2", "hi")
    finally:
        http_client.close()
        closed(auth._oauth_cli)


def test_cozepy_hears_a_wrong_key_as_coze_s_error(running: RunningEmulator, other_keys: KeyPair) -> None:
    oauth = JWTOAuthApp(APP_ID, other_keys.private_pem.decode(), KEY_ID, base_url=running.base_url)
    with pytest.raises(CozeAPIError) as raised:
        try:
            oauth.get_access_token(ttl=900)
        finally:
            closed(oauth)
    assert raised.value.msg == "invalid jwt: signature verification failed"
    assert raised.value.logid


# --- the JWT checks -------------------------------------------------------------------------------


def test_a_good_jwt_gets_a_token_once(http: httpx.Client, running: RunningEmulator, keys: KeyPair) -> None:
    signed = sign(keys, host(running))
    first = exchange(http, signed, duration_seconds=120)
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert abs(body["expires_in"] - (time.time() + 120)) <= 2
    assert first.headers["x-tt-logid"]
    again = exchange(http, signed)  # the same JWT (its jti) a second time
    assert again.status_code == 401
    assert again.json() == {"error_code": "invalid_client", "error_message": "invalid jwt: jti has been used"}


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("another-key", "invalid jwt: signature verification failed"),
        ("hs256-with-the-public-key", "invalid jwt: alg must be RS256, not HS256"),
        ("alg-none", "invalid jwt: alg must be RS256, not none"),
        ("unknown-kid", "invalid jwt: kid not been registered"),
        ("unknown-app", "invalid jwt: app 999 not found"),
        ("wrong-audience", "invalid jwt: aud must be {host}"),
        ("expired", "invalid jwt: expired"),
        ("issued-in-the-future", "invalid jwt: iat is in the future"),
        ("no-jti", "invalid jwt: jti is required"),
        ("no-iat", "invalid jwt: iat is required"),
        ("lives-too-long", "invalid jwt: exp is more than 24 hours after iat"),
        ("not-a-jwt", "invalid jwt: not a JWT"),
        ("no-authorization", "invalid client: no JWT in the Authorization header"),
    ],
)
def test_a_bad_jwt_is_refused_as_coze_refuses_it(
    http: httpx.Client, running: RunningEmulator, keys: KeyPair, other_keys: KeyPair, case: str, error: str
) -> None:
    audience, now = host(running), int(time.time())
    signed: str | None = {
        "another-key": lambda: sign(other_keys, audience),
        "hs256-with-the-public-key": lambda: _hs256(keys, audience),
        "alg-none": lambda: jwt.encode({"iss": APP_ID, "aud": audience}, None, algorithm="none"),
        "unknown-kid": lambda: sign(keys, audience, headers={"kid": "kid_unknown"}),
        "unknown-app": lambda: sign(keys, audience, iss="999"),
        "wrong-audience": lambda: sign(keys, "api.coze.com"),
        "expired": lambda: sign(keys, audience, iat=now - 700, exp=now - 100),
        "issued-in-the-future": lambda: sign(keys, audience, iat=now + 300, exp=now + 900),
        "no-jti": lambda: sign(keys, audience, jti=None),
        "no-iat": lambda: sign(keys, audience, iat=None),
        "lives-too-long": lambda: sign(keys, audience, exp=now + 2 * 86400),
        "not-a-jwt": lambda: "not.a.jwt",
        "no-authorization": lambda: None,
    }[case]()
    response = exchange(http, signed)
    assert response.status_code == 401, response.text
    assert response.json() == {"error_code": "invalid_client", "error_message": error.format(host=audience)}
    assert response.headers["x-tt-logid"]


def _hs256(keys: KeyPair, audience: str) -> str:
    """The public key (which anyone may have) used as an HMAC secret: the classic algorithm confusion."""
    import base64
    import hashlib
    import hmac
    import json

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": APP_ID, "aud": audience, "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': KEY_ID})}.{part(claims)}"
    mac = hmac.new(keys.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


DURATION = ("invalid_request", "invalid request: duration_seconds must be 1 to 86399")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"grant_type": "authorization_code"},
            ("unsupported_grant_type", "not supported grant type: authorization_code"),
        ),
        ({"duration_seconds": 0}, DURATION),
        ({"duration_seconds": 86400}, DURATION),
        ({"duration_seconds": "900"}, DURATION),
    ],
    ids=["grant-type", "zero", "too-long", "a-string"],
)
def test_a_bad_request_is_refused(
    http: httpx.Client,
    running: RunningEmulator,
    keys: KeyPair,
    body: dict[str, Any],
    error: tuple[str, str],
) -> None:
    response = exchange(http, sign(keys, host(running)), **body)
    assert response.status_code == 400
    assert response.json() == {"error_code": error[0], "error_message": error[1]}


def test_a_body_that_is_not_json_is_refused(
    http: httpx.Client, running: RunningEmulator, keys: KeyPair
) -> None:
    response = http.post(
        TOKEN_PATH, content=b"grant_type=x", headers={"Authorization": f"Bearer {sign(keys, host(running))}"}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid_request"


# --- the tokens -----------------------------------------------------------------------------------


def test_tokens_expire_and_an_app_s_tokens_share_its_conversations(tmp_path: Path, keys: KeyPair) -> None:
    app = create_emulator_app([TOKEN], bots=fast_bots(), oauth_app=emulated_app(keys, max_duration=3))
    with serve(app) as running, httpx.Client(base_url=running.base_url, timeout=30) as http:
        first = exchange(http, sign(keys, host(running)), duration_seconds=900).json()
        assert first["expires_in"] <= int(time.time()) + 3  # capped by the emulator's max duration
        auth = {"Authorization": f"Bearer {first['access_token']}"}
        created = http.post("/v3/chat", json=chat_body(DEMO_BOT_ID, "hi", stream=False), headers=auth)
        assert created.status_code == 200 and created.json()["code"] == 0, created.text
        conversation = created.json()["data"]["conversation_id"]

        time.sleep(max(0.0, first["expires_in"] - time.time()) + 0.2)
        expired = http.get(
            "/v1/conversation/retrieve", params={"conversation_id": conversation}, headers=auth
        )
        assert expired.status_code == 401
        assert expired.json()["code"] == 4100
        assert expired.json()["msg"] == "authentication is invalid: the access token has expired"

        # A new token of the same app sees the same conversation (a conversation outlives its token).
        second = exchange(http, sign(keys, host(running))).json()
        assert second["access_token"] != first["access_token"]
        found = http.get(
            "/v1/conversation/retrieve",
            params={"conversation_id": conversation},
            headers={"Authorization": f"Bearer {second['access_token']}"},
        )
        assert found.status_code == 200 and found.json()["data"]["id"] == conversation
        # The fixed token is another account: it does not.
        other = http.get(
            "/v1/conversation/retrieve",
            params={"conversation_id": conversation},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert other.json()["code"] != 0


def test_a_deactivated_app_gets_no_token(tmp_path: Path, keys: KeyPair) -> None:
    app = create_emulator_app([], bots=fast_bots(), oauth_app=emulated_app(keys))
    with serve(app) as running, httpx.Client(base_url=running.base_url, timeout=30) as http:
        app.state.oauth.deactivated = True
        response = exchange(http, sign(keys, host(running)))
    assert response.status_code == 403
    assert response.json() == {
        "error_code": "access_deny",
        "error_message": f"app: {APP_ID} is currently deactivated by the owner",
    }
    assert app.state.oauth.refusals == 1 and app.state.oauth.exchanges == 0


def test_an_emulator_needs_a_token_or_an_oauth_app(keys: KeyPair) -> None:
    with pytest.raises(ValueError, match="at least one token"):
        create_emulator_app([])
    with pytest.raises(ValueError, match="not a PEM public key"):
        create_emulator_app([], oauth_app=EmulatedOAuthApp(APP_ID, KEY_ID, keys.private_pem))
