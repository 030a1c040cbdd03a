"""Images and files attached to messages: POST /api/files (checked by their bytes, uploaded to Coze),
a message that names them (Coze gets an object_string question naming its file ids, and the demo bot
says what it received), the bytes served to their owner only, every limit and refusal, and what
happens to attachments on a retry, a regenerate, an edit, a refused turn, a lost Coze conversation, an
export and a deleted conversation. Token mode on the emulator; SQLite unless a test says otherwise."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import (
    BASE,
    TOKEN,
    Gateway,
    RecordingTransport,
    emulator,
    gateway,
    only,
    parse_frames,
    recording,
    token_settings,
)
from sqlalchemy import func, select
from starlette.applications import Starlette

from api_keys import new_key
from botport.emulator.faults import Faults
from botport.store.tables import attachments
from image_files import png

PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"


@dataclass
class Uploaded:
    id: str
    body: dict[str, Any]


async def upload(
    client: httpx.AsyncClient, name: str, data: bytes, content_type: str = "application/octet-stream"
) -> httpx.Response:
    return await client.post("/api/files", files={"file": (name, data, content_type)})


async def uploaded(client: httpx.AsyncClient, name: str, data: bytes, content_type: str = "") -> Uploaded:
    response = await upload(client, name, data, content_type or "application/octet-stream")
    assert response.status_code == 201, response.text
    body = response.json()
    return Uploaded(body["id"], body)


async def send(
    client: httpx.AsyncClient, cid: str, content: str, ids: list[str], **kwargs: Any
) -> httpx.Response:
    body = {"content": content, "attachments": ids, "stream": True}
    return await client.post(f"/api/conversations/{cid}/messages", json=body, **kwargs)


def answer_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(only(parse_frames(response.content), "message.completed").data["content"])


def question_parts(transport: RecordingTransport, index: int = -1) -> list[dict[str, Any]]:
    """The parts of the question the index-th /v3/chat request asked."""
    question = transport.paths("/v3/chat")[index].body["additional_messages"][-1]
    assert question["content_type"] == "object_string", question
    parts: list[dict[str, Any]] = json.loads(question["content"])
    return parts


def coze_files(coze: Starlette) -> dict[str, Any]:
    files: dict[str, Any] = coze.state.emulator.store.files
    return files


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


async def stored_rows(gw: Gateway) -> int:
    async with gw.app.state.services.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(attachments))).scalar_one())


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Gateway, RecordingTransport, Starlette]]:
    coze = emulator()
    transport = recording(coze)
    async with gateway(token_settings(tmp_path), transport) as gw:
        yield gw, transport, coze


async def test_upload_send_and_the_demo_bot_describes_what_it_got(tmp_path: Path, database_url: str) -> None:
    coze = emulator()
    transport = recording(coze)
    async with gateway(token_settings(tmp_path, database_url=database_url), transport) as gw:
        await _upload_send_and_describe(gw, transport, coze)


async def _upload_send_and_describe(gw: Gateway, transport: RecordingTransport, coze: Starlette) -> None:
    photo = png(640, 480)
    image = await uploaded(gw.client, "photo.png", photo, "image/png")
    assert image.body == {
        "id": image.id,
        "name": "photo.png",
        "content_type": "image/png",
        "size": len(photo),
        "width": 640,
        "height": 480,
        "url": f"/api/files/{image.id}",
    }
    assert image.id.startswith("att_")
    # The declared type is not believed: the bytes say PDF.
    document = await uploaded(gw.client, "notes.pdf", PDF, "text/plain")
    assert document.body["content_type"] == "application/pdf" and document.body["width"] is None
    sent_up = transport.paths("/v1/files/upload")
    assert len(sent_up) == 2 and sent_up[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert sent_up[0].headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="photo.png"' in sent_up[0].body and photo in sent_up[0].body

    cid = await gw.conversation()
    answer = answer_of(await send(gw.client, cid, "what are these?", [image.id, document.id]))
    size = f"{len(photo) / 1024:.1f} KB"
    assert (
        f"You attached 2 files: photo.png (image/png, {size}, 640×480); "
        f"notes.pdf (application/pdf, {len(PDF) / 1024:.1f} KB)." in answer
    )
    assert "> what are these?" in answer
    # Coze was asked one object_string question naming the files it holds, image first as asked.
    files = coze_files(coze)
    parts = question_parts(transport)
    assert parts[0] == {"type": "text", "text": "what are these?"}
    assert [p["type"] for p in parts[1:]] == ["image", "file"]
    assert {p["file_id"] for p in parts[1:]} == set(files)
    assert {f.file_name for f in files.values()} == {"photo.png", "notes.pdf"}

    # The message list (a reload) shows them on the question, none on the answer.
    question, reply = await gw.messages(cid)
    assert [a["id"] for a in question["attachments"]] == [image.id, document.id]
    assert question["attachments"][0] == image.body and reply["attachments"] == []

    # The bytes come back as they went, with the headers that keep them inert.
    got = await gw.client.get(image.body["url"])
    assert got.status_code == 200 and got.content == photo
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert got.headers["cache-control"].startswith("private, max-age=")
    assert got.headers["content-disposition"].startswith('inline; filename="photo.png"')
    again = await gw.client.get(image.body["url"], headers={"If-None-Match": got.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    pdf = await gw.client.get(document.body["url"])
    assert pdf.content == PDF and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith('attachment; filename="notes.pdf"')


async def test_a_picture_alone_is_a_message(setup: tuple[Gateway, RecordingTransport, Starlette]) -> None:
    gw, transport, _ = setup
    image = await uploaded(gw.client, "猫 cat.png", png(3, 2))
    cid = await gw.conversation()
    answer = answer_of(await send(gw.client, cid, "", [image.id]))
    assert "You attached 1 file: 猫 cat.png (image/png" in answer and "3×2" in answer
    assert [p["type"] for p in question_parts(transport)] == ["image"]  # no empty text part
    conversation = (await gw.client.get(f"/api/conversations/{cid}")).json()
    assert conversation["title"] == "猫 cat.png"
    got = await gw.client.get(image.body["url"])
    disposition = got.headers["content-disposition"]
    assert disposition == "inline; filename=\"cat.png\"; filename*=UTF-8''%E7%8C%AB%20cat.png"
    # Without attachments, an empty message is still refused.
    assert error_code(await send(gw.client, cid, "  ", []), 400) == "empty_message"


async def test_only_the_owner_reads_or_sends_an_attachment(
    setup: tuple[Gateway, RecordingTransport, Starlette], tmp_path: Path
) -> None:
    gw, transport, _ = setup
    mine = await uploaded(gw.client, "mine.txt", b"secret notes")
    async with gw.other_client() as stranger:
        assert error_code(await stranger.get(mine.body["url"]), 404) == "attachment_not_found"
        unknown = await stranger.get("/api/files/att_" + "0" * 32)
        assert error_code(unknown, 404) == "attachment_not_found"
        # Someone else's attachment id in a message: as unknown, and nothing is asked.
        theirs = (await stranger.post("/api/conversations", json={})).json()["id"]
        chats = len(transport.paths("/v3/chat"))
        assert error_code(await send(stranger, theirs, "look", [mine.id]), 404) == "attachment_not_found"
        assert len(transport.paths("/v3/chat")) == chats
    assert (await gw.client.get(mine.body["url"])).content == b"secret notes"
    assert error_code(await gw.client.get("/api/files/not-an-id"), 422)

    # An API key's uploads are the key's: it reads them, a browser does not.
    key = await new_key(gw.app.state.services.settings.resolved_database_url)
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(gw.app), base_url=BASE, headers=auth) as api:
        keyed = await uploaded(api, "report.csv", b"a,b\n1,2\n")
        assert keyed.body["content_type"] == "text/csv"
        assert (await api.get(keyed.body["url"])).content == b"a,b\n1,2\n"
        assert error_code(await api.get(mine.body["url"]), 404) == "attachment_not_found"
    assert error_code(await gw.client.get(keyed.body["url"]), 404) == "attachment_not_found"


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", 415, None),
        ("drawing.txt", b"<?xml version='1.0'?><svg onload='alert(1)'/>", 415, None),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100, 415, None),
        ("setup.txt", b"MZ\x90\x00" + b"\x00" * 100, 415, None),
        ("page.html", b"<html><script>alert(1)</script></html>", 415, None),
        ("broken.png", png(4, 4)[:20], 415, None),
        ("empty.txt", b"", 400, "empty_attachment"),
    ],
)
async def test_refused_uploads(
    setup: tuple[Gateway, RecordingTransport, Starlette],
    name: str,
    data: bytes,
    status: int,
    code: str | None,
) -> None:
    gw, transport, _ = setup
    response = await upload(gw.client, name, data)
    assert error_code(response, status) == (code or "unsupported_attachment_type")
    assert transport.paths("/v1/files/upload") == [] and await stored_rows(gw) == 0


async def test_an_upload_without_a_file(setup: tuple[Gateway, RecordingTransport, Starlette]) -> None:
    gw, transport, _ = setup
    assert error_code(await gw.client.post("/api/files", json={"file": "x"}), 400) == "missing_file"
    assert error_code(await gw.client.post("/api/files", data={"other": "x"}), 400)
    wrong_field = await gw.client.post("/api/files", files={"upload": ("a.txt", b"hi", "text/plain")})
    assert error_code(wrong_field, 400) == "missing_file"
    two = await gw.client.post("/api/files", files=[("file", ("a.txt", b"a")), ("file", ("b.txt", b"b"))])
    assert error_code(two, 400)
    assert transport.paths("/v1/files/upload") == [] and await stored_rows(gw) == 0


async def test_a_file_too_large_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    transport = recording()
    settings = token_settings(tmp_path, max_attachment_bytes=1000)
    async with gateway(settings, transport) as gw:
        assert error_code(await upload(gw.client, "big.txt", b"x" * 1001), 413) == "attachment_too_large"
        assert (await upload(gw.client, "fits.txt", b"x" * 1000)).status_code == 201

        # A gigabyte sent chunk by chunk (no Content-Length): refused once past the limit, unread.
        sent = 0
        chunk = b"y" * 65536

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="huge.txt"\r\n\r\n'
            for _ in range(16384):
                sent += 1
                yield chunk

        headers = {"content-type": "multipart/form-data; boundary=b"}
        huge = await gw.client.post("/api/files", content=body(), headers=headers)
        assert error_code(huge, 413) == "attachment_too_large"
        assert sent <= 4, f"{sent} chunks of 64 KiB were read"
        # Declared too large: refused before any of it is read.
        sent = 0
        declared = await gw.client.post(
            "/api/files", content=body(), headers={**headers, "content-length": str(1 << 30)}
        )
        assert error_code(declared, 413) == "attachment_too_large" and sent <= 1
        # The other routes keep the usual body limit.
        cid = await gw.conversation()
        too_long = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "z" * 300_000, "stream": False}
        )
        assert error_code(too_long, 413) == "payload_too_large"
        assert len(transport.paths("/v1/files/upload")) == 1 and await stored_rows(gw) == 1


async def test_how_many_attachments_a_message_carries(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path, max_attachments=3), recording()) as gw:
        ids = [(await uploaded(gw.client, f"n{i}.txt", b"note %d" % i)).id for i in range(4)]
        cid = await gw.conversation()
        assert error_code(await send(gw.client, cid, "four", ids), 400) == "too_many_attachments"
        twice = await send(gw.client, cid, "twice", [ids[0], ids[0]])
        assert error_code(twice, 400) == "duplicate_attachment"
        assert error_code(await send(gw.client, cid, "bad id", ["att_nope"]), 422)
        assert await gw.messages(cid) == []
        answer = answer_of(await send(gw.client, cid, "three", ids[:3]))
        assert "You attached 3 files: n0.txt (text/plain, 6 B); n1.txt" in answer
        # A sent attachment is the message's: sending it again is refused (upload it again instead).
        resent = await send(gw.client, cid, "again", [ids[0], ids[3]])
        assert error_code(resent, 409) == "attachment_already_sent"
        assert len(await gw.messages(cid)) == 2
        # The refusal linked nothing: the unsent one still goes.
        assert "n3.txt" in answer_of(await send(gw.client, cid, "the last", [ids[3]]))
        config = (await gw.client.get("/api/config")).json()
        assert config["max_attachments"] == 3 and config["max_attachment_bytes"] == 10 * 1024 * 1024
        assert "image/png" in config["attachment_types"] and "application/pdf" in config["attachment_types"]
        assert "image/svg+xml" not in config["attachment_types"]


async def test_attachments_turned_off(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path, max_attachments=0), recording()) as gw:
        assert error_code(await upload(gw.client, "a.txt", b"hi"), 403) == "attachments_disabled"
        config = (await gw.client.get("/api/config")).json()
        assert (config["max_attachments"], config["max_attachment_bytes"], config["attachment_types"]) == (
            0,
            0,
            [],
        )


class FailingUploads(httpx.AsyncBaseTransport):
    """Coze refuses every upload (an error envelope), and answers everything else."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/files/upload":
            body = {"code": 4000, "msg": "file type not supported by this bot", "detail": {"logid": "L-UP"}}
            return httpx.Response(200, json=body, headers={"x-tt-logid": "L-UP"})
        return await self.inner.handle_async_request(request)


async def test_a_coze_upload_failure_is_clear_and_keeps_nothing(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), FailingUploads(recording())) as gw:
        response = await upload(gw.client, "photo.png", png(8, 8))
        assert response.status_code == 502, response.text
        error = response.json()["error"]
        assert error["code"] == "coze_error" and error["logid"] == "L-UP" and error["upstream_code"] == 4000
        assert (
            error["message"] == "Coze did not take the file 'photo.png': file type not supported by this bot"
        )
        assert await stored_rows(gw) == 0


async def test_the_network_failing_on_upload_keeps_nothing(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with gateway(token_settings(tmp_path), httpx.MockTransport(refuse)) as gw:
        response = await upload(gw.client, "notes.txt", b"hello")
        assert error_code(response, 502) == "upstream_unreachable"
        assert "Coze did not take the file 'notes.txt'" in response.json()["error"]["message"]
        assert await stored_rows(gw) == 0


async def test_a_retry_with_the_same_key_re_attaches(
    setup: tuple[Gateway, RecordingTransport, Starlette],
) -> None:
    gw, transport, _ = setup
    first, second = [await uploaded(gw.client, n, b"text " + n.encode()) for n in ("a.txt", "b.txt")]
    cid = await gw.conversation()
    key = {"Idempotency-Key": "attach-1"}
    one = await send(gw.client, cid, "look", [first.id], headers=key)
    again = await send(gw.client, cid, "look", [first.id], headers=key)
    assert one.headers["x-botport-message-id"] == again.headers["x-botport-message-id"]
    assert answer_of(one) == answer_of(again) and len(transport.paths("/v3/chat")) == 1
    # The same key with other attachments is another request.
    other = await send(gw.client, cid, "look", [second.id], headers=key)
    assert error_code(other, 422) == "idempotency_key_reused"
    assert len(await gw.messages(cid)) == 2


async def test_regenerate_asks_again_with_the_question_attachments(
    setup: tuple[Gateway, RecordingTransport, Starlette],
) -> None:
    gw, transport, coze = setup
    image = await uploaded(gw.client, "chart.png", png(20, 10))
    cid = await gw.conversation()
    answer_of(await send(gw.client, cid, "explain", [image.id]))
    question, reply = await gw.messages(cid)
    response = await gw.client.post(f"/api/conversations/{cid}/messages/{reply['id']}/regenerate")
    assert "You attached 1 file: chart.png (image/png" in answer_of(response)
    (file_id,) = coze_files(coze)
    assert question_parts(transport, -1) == [
        {"type": "text", "text": "explain"},
        {"type": "image", "file_id": file_id},
    ]
    assert len(transport.paths("/v1/files/upload")) == 1  # nothing uploaded again
    question_after, _ = await gw.messages(cid)
    assert question_after["id"] == question["id"] and question_after["attachments"] == question["attachments"]


async def test_an_edit_keeps_the_attachments_unless_told_otherwise(
    setup: tuple[Gateway, RecordingTransport, Starlette],
) -> None:
    gw, transport, coze = setup
    image = await uploaded(gw.client, "map.png", png(5, 5))
    cid = await gw.conversation()
    answer_of(await send(gw.client, cid, "where?", [image.id]))
    question, _ = await gw.messages(cid)
    edit = f"/api/conversations/{cid}/messages/{question['id']}/edit"

    kept = await gw.client.post(edit, json={"content": "where is this?"})
    assert "map.png (image/png" in answer_of(kept)
    edited, _ = await gw.messages(cid)
    (copy,) = edited["attachments"]
    assert copy["id"] != image.id and {**copy, "id": image.id, "url": image.body["url"]} == image.body
    assert question_parts(transport)[1] == {"type": "image", "file_id": next(iter(coze_files(coze)))}
    assert (await gw.client.get(copy["url"])).content == png(5, 5)

    dropped = await gw.client.post(edit, json={"content": "never mind the map", "attachments": []})
    assert "You attached" not in answer_of(dropped)
    last = transport.paths("/v3/chat")[-1].body["additional_messages"][-1]
    assert last == {
        "role": "user",
        "type": "question",
        "content": "never mind the map",
        "content_type": "text",
    }
    assert (await gw.messages(cid))[0]["attachments"] == []
    # An edit may name the question's own attachments and new uploads; someone else's is not found.
    extra = await uploaded(gw.client, "legend.txt", b"legend")
    both = await gw.client.post(edit, json={"content": "both", "attachments": [extra.id, image.id]})
    assert "2 files: legend.txt (text/plain, 6 B); map.png" in answer_of(both)
    assert len(transport.paths("/v1/files/upload")) == 2


async def test_a_turn_coze_refused_frees_its_attachments(tmp_path: Path) -> None:
    busy = emulator({"failing": Faults(envelope_error=4016)})
    async with gateway(token_settings(tmp_path), recording(busy)) as gw:
        image = await uploaded(gw.client, "p.png", png(2, 2))
        refused_in = await gw.conversation("failing")
        refused = await send(gw.client, refused_in, "look", [image.id])
        assert error_code(refused, 409) == "conversation_busy"
        assert await gw.messages(refused_in) == []
        # Nothing was asked: the upload is unsent again, and goes with the next message.
        cid = await gw.conversation()
        assert "p.png" in answer_of(await send(gw.client, cid, "look", [image.id]))


async def test_a_conversation_coze_lost_is_replayed_with_its_attachments(
    setup: tuple[Gateway, RecordingTransport, Starlette],
) -> None:
    gw, transport, coze = setup
    image = await uploaded(gw.client, "lighthouse.png", png(9, 9))
    cid = await gw.conversation()
    answer_of(await send(gw.client, cid, "remember this", [image.id]))
    coze.state.emulator.store.conversations.clear()  # Coze forgot the conversation, not the file
    answer_of(await send(gw.client, cid, "what did I show you?", []))
    lost, replayed = transport.paths("/v3/chat")[-2:]
    assert "conversation_id" in lost.params and "conversation_id" not in replayed.params
    first = replayed.body["additional_messages"][0]
    assert first["content_type"] == "object_string"
    (file_id,) = coze_files(coze)
    assert json.loads(first["content"]) == [
        {"type": "text", "text": "remember this"},
        {"type": "image", "file_id": file_id},
    ]


async def test_export_lists_the_attachments(setup: tuple[Gateway, RecordingTransport, Starlette]) -> None:
    gw, _, _ = setup
    image = await uploaded(gw.client, "plan.png", png(64, 32))
    cid = await gw.conversation()
    answer_of(await send(gw.client, cid, "", [image.id]))
    exported = (await gw.client.get(f"/api/conversations/{cid}/export?format=json")).json()
    question = exported["messages"][0]
    assert question["content"] == ""
    assert question["attachments"] == [
        {"name": "plan.png", "content_type": "image/png", "size": len(png(64, 32)), "width": 64, "height": 32}
    ]
    markdown = (await gw.client.get(f"/api/conversations/{cid}/export?format=md")).text
    assert f"- Attached: plan.png (image/png, 64×32, {len(png(64, 32))} bytes)" in markdown
    # An import takes the file back; the bytes were never in it, the names stay in the text.
    imported = await gw.client.post("/api/import", json=exported)
    assert imported.status_code == 201, imported.text
    back = await gw.messages(imported.json()["id"])
    assert back[0]["content"] == "*(attached: plan.png)*" and back[0]["attachments"] == []


async def test_deleting_the_conversation_deletes_the_bytes(tmp_path: Path, database_url: str) -> None:
    async with gateway(token_settings(tmp_path, database_url=database_url), recording()) as gw:
        await _delete_and_check(gw)


async def _delete_and_check(gw: Gateway) -> None:
    sent = await uploaded(gw.client, "gone.png", png(2, 2))
    unsent = await uploaded(gw.client, "waiting.txt", b"later")
    cid = await gw.conversation()
    answer_of(await send(gw.client, cid, "bye", [sent.id]))
    assert await stored_rows(gw) == 2
    assert (await gw.client.delete(f"/api/conversations/{cid}")).status_code == 204
    assert error_code(await gw.client.get(sent.body["url"]), 404) == "attachment_not_found"
    assert await stored_rows(gw) == 1  # the unsent upload waits for its message (or its sweep)
    assert (await gw.client.get(unsent.body["url"])).content == b"later"


async def test_an_upload_not_sent_is_deleted_by_its_owner_only(tmp_path: Path, database_url: str) -> None:
    async with gateway(token_settings(tmp_path, database_url=database_url), recording()) as gw:
        dropped = await uploaded(gw.client, "wrong.png", png(3, 3))
        kept = await uploaded(gw.client, "right.txt", b"the one")
        async with gw.other_client() as stranger:
            refused = await stranger.delete(dropped.body["url"])
            assert error_code(refused, 404) == "attachment_not_found"
        assert (await gw.client.get(dropped.body["url"])).status_code == 200
        assert (await gw.client.delete(dropped.body["url"])).status_code == 204
        assert error_code(await gw.client.get(dropped.body["url"]), 404) == "attachment_not_found"
        assert error_code(await gw.client.delete(dropped.body["url"]), 404) == "attachment_not_found"
        assert await stored_rows(gw) == 1
        # A sent file goes with its message, not on its own.
        cid = await gw.conversation()
        assert "right.txt" in answer_of(await send(gw.client, cid, "this one", [kept.id]))
        assert error_code(await gw.client.delete(kept.body["url"]), 409) == "attachment_sent"
        assert (await gw.client.get(kept.body["url"])).content == b"the one"
        assert error_code(await gw.client.delete("/api/files/not-an-id"), 422)


CAT = "https://cdn.example/cat (1).png"


async def test_an_image_in_an_answer_is_a_link_not_json(tmp_path: Path) -> None:
    """Coze answers with object_string parts: the answer streams and is stored as Markdown."""
    chat = {"id": "ch1", "conversation_id": "c1", "bot_id": "b"}
    parts = [{"type": "text", "text": "Here is your cat:"}, {"type": "image", "file_url": CAT}]
    answer = {**chat, "id": "m1", "chat_id": "ch1", "role": "assistant", "type": "answer"}
    events = [
        ("conversation.chat.created", {**chat, "status": "created"}),
        (
            "conversation.message.completed",
            {**answer, "content": json.dumps(parts), "content_type": "object_string"},
        ),
        ("conversation.chat.completed", {**chat, "status": "completed", "usage": {"token_count": 3}}),
        ("done", "[DONE]"),
    ]
    body = "".join(f"event:{name}\ndata:{json.dumps(data)}\n\n" for name, data in events).encode()

    def coze(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v3/chat"
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    async with gateway(token_settings(tmp_path), httpx.MockTransport(coze)) as gw:
        cid = await gw.conversation()
        response = await gw.client.post(f"/api/conversations/{cid}/messages", json={"content": "a cat?"})
        frames = parse_frames(response.content)
        text = "".join(f.data["text"] for f in frames if f.event == "text.delta")
        assert text == "Here is your cat:\n\n[image](https://cdn.example/cat%20%281%29.png)"
        assert CAT not in response.text  # no raw JSON
        stored = (await gw.messages(cid))[-1]
        assert stored["content"] == text and "{" not in stored["content"]
        assert (
            "<img" not in stored["html"] and 'href="https://cdn.example/cat%20%281%29.png"' in stored["html"]
        )


async def test_another_site_cannot_upload_with_the_cookie(
    setup: tuple[Gateway, RecordingTransport, Starlette],
) -> None:
    gw, transport, _ = setup
    forged = await gw.client.post(
        "/api/files",
        files={"file": ("x.png", png(1, 1), "image/png")},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert forged.status_code == 403, forged.text
    assert transport.paths("/v1/files/upload") == [] and await stored_rows(gw) == 0
