"""Images and files through the OpenAI edge, sent by the official ``openai`` package: ``image_url``
parts (a ``data:`` URL, an https URL) and ``file`` parts in Chat Completions, ``input_image`` and
``input_file`` in the Responses API. The demo bot describes what it received; the recorder shows what
botport sent to Coze (an upload, then an ``object_string`` question)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai_helpers import Server

from image_files import data_url, png

pytestmark = pytest.mark.live

PHOTO = png(64, 48)


def _question_parts(server: Server) -> list[dict[str, Any]]:
    """The parts of the last question botport sent to Coze."""
    assert server.recorder is not None
    question = server.recorder.chats()[-1].body["additional_messages"][-1]
    assert question["content_type"] == "object_string"
    parts: list[dict[str, Any]] = json.loads(question["content"])
    return parts


def _uploads(server: Server) -> int:
    assert server.recorder is not None
    return sum(1 for call in server.recorder.calls if call.path == "/v1/files/upload")


def test_chat_completions_image_as_data_url_reaches_the_bot(fast_server: Server) -> None:
    client = fast_server.client()
    completion = client.chat.completions.create(
        model="demo",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": data_url(PHOTO), "detail": "low"}},
                ],
            }
        ],
    )
    answer = completion.choices[0].message.content or ""
    assert "What is in this picture?" in answer
    assert "You attached 1 file: image.png (image/png" in answer
    assert "64×48" in answer
    parts = _question_parts(fast_server)
    assert parts[0] == {"type": "text", "text": "What is in this picture?"}
    assert parts[1]["type"] == "image" and parts[1]["file_id"]
    assert _uploads(fast_server) == 1
    # The stored question keeps its image, served to the key that sent it.
    with fast_server.api() as api:
        conversation = api.get("/api/conversations").json()["items"][0]
        messages = api.get(f"/api/conversations/{conversation['id']}/messages").json()["items"]
        stored = messages[0]["attachments"]
        assert [(a["name"], a["width"], a["height"]) for a in stored] == [("image.png", 64, 48)]
        assert api.get(stored[0]["url"]).content == PHOTO


def test_chat_completions_https_image_goes_to_coze_by_url_unfetched(fast_server: Server) -> None:
    url = "https://images.example.com/cat.png?size=large"
    stream = fast_server.client().chat.completions.create(
        model="demo",
        stream=True,
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}],
    )
    answer = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert url in answer  # the demo bot names what Coze was given
    assert _question_parts(fast_server) == [{"type": "image", "file_url": url}]  # a picture alone
    assert _uploads(fast_server) == 0  # botport never fetched it


def test_chat_completions_file_part_with_a_pdf(fast_server: Server) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    completion = fast_server.client().chat.completions.create(
        model="demo",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Summarise it."},
                    {
                        "type": "file",
                        "file": {"filename": "report.pdf", "file_data": data_url(pdf, "application/pdf")},
                    },
                ],
            }
        ],
    )
    assert "report.pdf (application/pdf" in (completion.choices[0].message.content or "")
    assert _question_parts(fast_server)[1]["type"] == "file"


def test_an_uploaded_file_is_named_by_its_id(fast_server: Server) -> None:
    with fast_server.api() as api:
        uploaded = api.post("/api/files", files={"file": ("chart.png", PHOTO, "image/png")})
        assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    completion = fast_server.client().chat.completions.create(
        model="demo",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and this?"},
                    {"type": "file", "file": {"file_id": file_id}},
                ],
            }
        ],
    )
    assert "chart.png (image/png" in (completion.choices[0].message.content or "")
    assert _uploads(fast_server) == 1  # uploaded once, when it was attached


def test_responses_input_image_data_url_and_https(fast_server: Server) -> None:
    client = fast_server.client()
    first = client.responses.create(
        model="demo",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Describe it"},
                    {"type": "input_image", "image_url": data_url(png(10, 20)), "detail": "auto"},
                ],
            }
        ],
    )
    assert "10×20" in first.output_text
    url = "https://cdn.example.org/dog.jpg"
    second = client.responses.create(
        model="demo",
        previous_response_id=first.id,
        input=[{"role": "user", "content": [{"type": "input_image", "image_url": url}]}],
    )
    assert url in second.output_text
    items = client.responses.input_items.list(second.id).data
    assert items[-1].type == "message" and items[-1].role == "user"
    # The listed input names the URL; a data: URL's bytes are not kept twice.
    image = items[-1].content[-1]
    assert image.type == "input_image" and image.image_url == url
    earlier = client.responses.input_items.list(first.id).data[-1]
    assert earlier.type == "message" and earlier.content[-1].type == "input_image"
    assert earlier.content[-1].image_url is None


def test_responses_input_file(fast_server: Server) -> None:
    response = fast_server.client().responses.create(
        model="demo",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "read this"},
                    {
                        "type": "input_file",
                        "filename": "notes.txt",
                        "file_data": data_url(b"hello\n", "text/plain"),
                    },
                ],
            }
        ],
    )
    assert "notes.txt (text/plain" in response.output_text


def test_bad_images_are_clear_400s_and_nothing_is_asked(fast_server: Server) -> None:
    client = fast_server.client()
    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {"type": "image_url", "image_url": {"url": "http://insecure.example/x.png"}},
            400,
            "unsupported_file_url",
        ),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,%%%"}}, 400, "invalid_data_url"),
        (
            {"type": "image_url", "image_url": {"url": data_url(b"<svg/>", "image/svg+xml")}},
            415,
            "unsupported_attachment_type",
        ),
        (
            {"type": "image_url", "image_url": {"url": data_url(b"not a png at all", "image/png")}},
            415,
            "unsupported_attachment_type",
        ),
        ({"type": "file", "file": {"file_id": "att_nobody"}}, 404, "attachment_not_found"),
    ]
    for part, status, code in cases:
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model="demo", messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, part]}]
            )
        assert caught.value.status_code == status, (part, caught.value)
        body: Any = caught.value.body
        assert body["code"] == code, (part, body)
        assert body["param"] == "messages[0].content[1]" or body["param"].startswith("messages[0].content[1]")
    assert fast_server.recorder is not None and fast_server.recorder.chats() == []


def test_too_large_a_data_url_is_refused_before_it_is_decoded(fast_server: Server) -> None:
    with fast_server.api() as api:
        limit = api.get("/api/config").json()["max_attachment_bytes"]
    big = "data:image/png;base64," + "A" * (limit // 3 * 4 + 400)
    raw = httpx.post(
        f"{fast_server.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {fast_server.key}"},
        json={
            "model": "demo",
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": big}}]}],
        },
        timeout=30,
    )
    assert raw.status_code == 413
    assert raw.json()["error"]["code"] == "attachment_too_large"


def test_demo_mode_describes_an_image(demo_server: Server) -> None:
    completion = demo_server.client().chat.completions.create(
        model="demo",
        messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url(png(3, 2))}}]}
        ],
    )
    assert "image.png (image/png" in (completion.choices[0].message.content or "")
    assert "3×2" in (completion.choices[0].message.content or "")
