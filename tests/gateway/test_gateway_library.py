"""The reader's library over HTTP: search, pin, export (JSON, Markdown) and import."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from gateway_helpers import Gateway, gateway, recording, token_settings

from botport.api.library_schemas import MAX_IMPORTED_MESSAGES
from botport.store.pins import MAX_PINNED


def _error(response: httpx.Response, status: int, code: str | None = None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code, error
    return str(error["message"])


def _file(
    *messages: dict[str, Any], title: str = "Imported", bot: str = "demo", **more: Any
) -> dict[str, Any]:
    conversation = {"title": title, "bot": bot, **more.pop("conversation", {})}
    return {
        "format": "botport.conversation",
        "version": 1,
        "conversation": conversation,
        "messages": list(messages),
    }


async def _import(gw: Gateway, body: dict[str, Any]) -> dict[str, Any]:
    response = await gw.client.post("/api/import", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_search_finds_the_callers_conversations_with_a_marked_snippet(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        asked = await gw.conversation()
        await gw.send(asked, "tell me about zebras")  # the demo bot answers from the "offline Coze emulator"
        other = await gw.conversation()
        await gw.send(other, "and giraffes?")
        async with gw.other_client() as stranger:
            theirs = (await stranger.post("/api/conversations", json={})).json()["id"]
            await stranger.post(
                f"/api/conversations/{theirs}/messages", json={"content": "zebras", "stream": False}
            )

        response = await gw.client.get("/api/search", params={"q": "emulator ZEBRAS"})
        assert response.status_code == 200
        [hit] = response.json()["items"]
        assert (hit["id"], hit["bot"], hit["title"], hit["pinned"]) == (
            asked,
            "demo",
            "tell me about zebras",
            False,
        )
        answer = (await gw.messages(asked))[1]
        assert hit["message_id"] == answer["id"]  # found in the answer (the question has no "emulator")
        marked = [part["text"].lower() for part in hit["snippet"] if part["match"]]
        assert "zebras" in marked and "emulator" in marked
        shown = "".join(part["text"] for part in hit["snippet"]).strip("…")  # cut at a word: "…"
        assert shown and shown in " ".join(answer["content"].split())

        both = (await gw.client.get("/api/search", params={"q": "emulator", "limit": 1})).json()["items"]
        assert len(both) == 1
        assert (await gw.client.get("/api/search", params={"q": "<script>"})).json() == {"items": []}


async def test_bad_searches_are_refused(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        for params, status in (
            ({}, 422),
            ({"q": ""}, 422),
            ({"q": "x" * 201}, 422),
            ({"q": "zebra", "limit": 0}, 422),
            ({"q": "zebra", "limit": 51}, 422),
            ({"q": "   "}, 400),
            ({"q": "a\x00b"}, 400),
        ):
            response = await gw.client.get("/api/search", params=params)
            assert response.status_code == status, (params, response.text)
        assert "empty" in _error(await gw.client.get("/api/search", params={"q": " \t "}), 400, "empty_query")


async def test_pin_and_unpin(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        first, second = await gw.conversation(), await gw.conversation()
        pinned = await gw.client.patch(f"/api/conversations/{first}", json={"pinned": True})
        assert pinned.status_code == 200 and pinned.json()["pinned"] is True
        assert (await gw.client.get(f"/api/conversations/{first}")).json()["pinned"] is True
        assert [c["id"] for c in (await gw.client.get("/api/pinned")).json()["items"]] == [first]
        # The list pages as before: pinning is no activity, the pinned one is in it where it was.
        listed = (await gw.client.get("/api/conversations")).json()["items"]
        assert [(c["id"], c["pinned"]) for c in listed] == [(second, False), (first, True)]

        both = await gw.client.patch(f"/api/conversations/{second}", json={"title": "Keep", "pinned": True})
        assert (both.json()["title"], both.json()["pinned"]) == ("Keep", True)
        nothing = await gw.client.patch(f"/api/conversations/{second}", json={"title": None})
        assert (nothing.status_code, nothing.json()["title"]) == (200, "Keep")  # null: left as it is
        _error(await gw.client.patch(f"/api/conversations/{second}", json={}), 422)
        _error(await gw.client.patch(f"/api/conversations/{second}", json={"pinned": "yes"}), 422)
        async with gw.other_client() as stranger:
            _error(await stranger.patch(f"/api/conversations/{first}", json={"pinned": False}), 404)
            assert (await stranger.get("/api/pinned")).json() == {"items": []}
        await gw.client.patch(f"/api/conversations/{first}", json={"pinned": False})
        assert [c["id"] for c in (await gw.client.get("/api/pinned")).json()["items"]] == [second]


async def test_paging_stays_exact_with_pins(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        created = [await gw.conversation() for _ in range(7)]
        for cid in created[::3]:
            await gw.client.patch(f"/api/conversations/{cid}", json={"pinned": True})
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"before": cursor} if cursor else {})}
            page = (await gw.client.get("/api/conversations", params=params)).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == created[::-1]  # each once, newest first, pinned or not
        pinned = (await gw.client.get("/api/pinned")).json()["items"]
        assert [c["id"] for c in pinned] == created[::3][::-1]


async def test_too_many_pins_are_refused(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path, requests_per_minute=0), recording()) as gw:
        for _ in range(MAX_PINNED):
            cid = await gw.conversation()
            assert (
                await gw.client.patch(f"/api/conversations/{cid}", json={"pinned": True})
            ).status_code == 200
        one_more = await gw.conversation()
        message = _error(await gw.client.patch(f"/api/conversations/{one_more}", json={"pinned": True}), 409)
        assert "unpin" in message
        assert (await gw.client.get(f"/api/conversations/{one_more}")).json()["pinned"] is False


async def test_export_json_then_import_then_export_gives_the_same_messages(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "first question")
        await gw.send(cid, "/fail second question")  # a failed answer, its error kept
        await gw.client.patch(f"/api/conversations/{cid}", json={"title": "Zèbres & «co» / 斑马"})

        exported = await gw.client.get(f"/api/conversations/{cid}/export")
        assert exported.status_code == 200
        assert exported.headers["content-type"] == "application/json"
        disposition = exported.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="Z-bres-co.json"; ')
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Zèbres & «co» 斑马.json"
        body = exported.json()
        assert (body["format"], body["version"]) == ("botport.conversation", 1)
        assert body["conversation"]["bot"] == "demo"
        assert [(m["role"], m["status"]) for m in body["messages"]] == [
            ("user", "completed"),
            ("assistant", "completed"),
            ("user", "completed"),
            ("assistant", "failed"),
        ]
        assert body["messages"][3]["error"]["code"]
        assert body["messages"][1]["usage"]["total_tokens"] > 0

        created = await _import(gw, body)
        assert created["id"] != cid and created["title"] == "Zèbres & «co» / 斑马"
        again = (await gw.client.get(f"/api/conversations/{created['id']}/export")).json()
        assert again["messages"] == body["messages"]
        assert again["conversation"] == body["conversation"]
        async with gw.other_client() as stranger:  # the import is the caller's alone
            _error(await stranger.get(f"/api/conversations/{created['id']}/export"), 404)
            _error(await stranger.get(f"/api/conversations/{cid}/export?format=md"), 404)


async def test_export_markdown_reads_well(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "what is a pangolin?")
        response = await gw.client.get(f"/api/conversations/{cid}/export", params={"format": "md"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/markdown")
        assert 'filename="what-is-a-pangolin.md"' in response.headers["content-disposition"]
        text = response.text
        assert text.startswith("# what is a pangolin?\n\n- Bot: Demo\n")
        assert "### You · " in text and "### Demo · " in text
        assert "what is a pangolin?" in text.split("### You")[1]
        assert "<details><summary>Thoughts</summary>" in text  # the demo bot thinks first
        _error(await gw.client.get(f"/api/conversations/{cid}/export", params={"format": "pdf"}), 422)


async def test_import_keeps_the_files_times_and_refuses_bad_files(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        old = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
        future = datetime.now(UTC) + timedelta(days=400)
        created = await _import(
            gw,
            _file(
                {"role": "user", "content": "hi", "created_at": old.isoformat()},
                {"role": "assistant", "content": "hello", "created_at": "2024-05-06T09:08:09+02:00"},
                {"role": "user", "content": "later", "created_at": future.isoformat()},
                {"role": "assistant", "content": "no time given"},
            ),
        )
        assert created["created_at"] == "2024-05-06T07:08:09Z"
        stored = await gw.messages(created["id"])
        assert [m["content"] for m in stored] == ["hi", "hello", "later", "no time given"]
        times = [datetime.fromisoformat(m["created_at"]) for m in stored]
        # +02:00 is the same instant: kept after the first, a microsecond later (the file's order).
        assert times[:2] == [old, old + timedelta(microseconds=1)]
        assert times == sorted(times) and len(set(times)) == 4  # the file's order, kept by a microsecond
        assert times[2] <= datetime.now(UTC)  # a time ahead of the server's clock is taken as now
        empty = await _import(gw, _file(title="  Nothing yet  "))
        assert empty["title"] == "Nothing yet" and await gw.messages(empty["id"]) == []

        message = {"role": "user", "content": "x"}
        for body, status in (
            (_file(message, bot="nope"), 404),
            (_file({"role": "system", "content": "x"}), 422),
            (_file({"role": "assistant", "content": "x", "status": "streaming"}), 422),
            (_file({"role": "user", "content": "x", "created_at": "yesterday"}), 422),
            (_file({"role": "user", "content": "x", "created_at": "2024-05-06T07:08:09"}), 422),  # no zone
            (_file({"role": "user", "content": "x\x00"}), 422),
            (_file({"role": "user", "content": "x", "extra": 1}), 422),
            ({**_file(message), "version": 2}, 422),
            ({**_file(message), "format": "chatgpt"}, 422),
            (_file(*[message] * (MAX_IMPORTED_MESSAGES + 1)), 422),
            (
                _file(
                    {
                        "role": "assistant",
                        "content": "x",
                        "usage": {"input_tokens": -1, "output_tokens": 0, "total_tokens": 0},
                    }
                ),
                422,
            ),
            ([], 422),
        ):
            response = await gw.client.post("/api/import", json=body)
            assert response.status_code == status, (
                body if len(json.dumps(body)) < 300 else "...",
                response.text,
            )
        assert "unknown bot" in _error(await gw.client.post("/api/import", json=_file(bot="x")), 404)
        big = _file({"role": "user", "content": "y" * 99_000}, {"role": "assistant", "content": "z" * 99_000})
        big["messages"] *= 2  # past the server's body limit (256 KiB)
        _error(await gw.client.post("/api/import", json=big), 413)
        assert len((await gw.client.get("/api/conversations")).json()["items"]) == 2


async def test_an_imported_conversation_takes_new_messages(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        created = await _import(
            gw, _file({"role": "user", "content": "old q"}, {"role": "assistant", "content": "old a"})
        )
        frames = await gw.send(created["id"], "a new question")
        assert frames[-1].event == "turn.completed"
        # The bot sees the imported turns: the new Coze conversation is seeded with them, once.
        assert "Before that you asked: *old q*" in frames[-3].data["content"]
        (call,) = transport.paths("/v3/chat")
        sent = [(m["role"], m["content"]) for m in call.body["additional_messages"]]
        assert sent == [("user", "old q"), ("assistant", "old a"), ("user", "a new question")]
        await gw.send(created["id"], "and another")
        assert [m["content"] for m in transport.paths("/v3/chat")[1].body["additional_messages"]] == [
            "and another"
        ]
        assert [m["content"] for m in await gw.messages(created["id"])][:3] == [
            "old q",
            "old a",
            "a new question",
        ]
