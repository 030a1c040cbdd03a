"""/v1/models and authentication, with the official ``openai`` client on a real server."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai_helpers import SLUGS, TIMEOUT, Server

pytestmark = pytest.mark.live


def test_models_lists_the_bots_by_slug(fast_server: Server) -> None:
    models = fast_server.client().models.list()
    assert [m.id for m in models.data] == list(SLUGS)
    for model in models.data:
        assert model.object == "model"
        assert model.owned_by == "botport"
        assert model.created > 0
    raw = httpx.get(
        f"{fast_server.url}/v1/models",
        headers={"Authorization": f"Bearer {fast_server.key}"},
        timeout=TIMEOUT,
    ).json()
    assert raw["object"] == "list"
    assert set(raw["data"][0]) == {"id", "object", "created", "owned_by"}


def test_one_model(fast_server: Server) -> None:
    model = fast_server.client().models.retrieve("weather")
    assert (model.id, model.object, model.owned_by) == ("weather", "model", "botport")


def test_unknown_model_is_404_model_not_found(fast_server: Server) -> None:
    client = fast_server.client()
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-4o")
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "model_not_found"
    assert info.value.param == "model"
    assert "demo" in info.value.message  # says which models there are


def test_bad_key_is_401_in_openai_shape(fast_server: Server) -> None:
    client = openai.OpenAI(base_url=f"{fast_server.url}/v1", api_key="bp_not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.models.list()
    assert info.value.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
    # No key at all: the same shape, as OpenAI's {"error": {message, type, param, code}}.
    response = httpx.post(
        f"{fast_server.url}/v1/chat/completions",
        json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
        timeout=TIMEOUT,
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "missing_api_key"
    assert error["type"] == "authentication_error"


def test_invalid_body_is_400_in_openai_shape(fast_server: Server) -> None:
    response = httpx.post(
        f"{fast_server.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {fast_server.key}"},
        json={"model": "demo", "messages": []},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages"
