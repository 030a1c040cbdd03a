"""The OpenAPI documents: valid for every target and format, the CLI prints them, the HTTP route
serves them, and docs/schemas/ holds them as generated (run this file to regenerate)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from openapi_spec_validator import validate
from tool_helpers import PUBLIC_URL, token_settings, tool_gateway
from typer.testing import CliRunner

from botport.cli.schema import schema
from botport.schema import ASK_PATH, Format, Target, coze_document, render, tool_document
from botport.schema.targets import shorten
from botport.settings import BotConfig

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
COZE_URL = "https://api.coze.cn"


def generated_files() -> dict[str, str]:
    """docs/schemas/: file name -> text, with a fixed public URL."""
    files = {}
    for fmt in Format:
        for target in Target:
            files[f"botport-tool.{target.value}.{fmt.value}"] = render(tool_document(PUBLIC_URL, target), fmt)
        files[f"coze-chat.{fmt.value}"] = render(coze_document(COZE_URL), fmt)
    return files


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("schema")(schema)
    app.command("other")(lambda: None)  # two commands, so "schema" is a subcommand as in botport
    return app


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(_cli(), ["schema", *args], env=env)
    return result


def _parse(text: str, fmt: Format) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(text) if fmt is Format.yaml else json.loads(text)
    return parsed


@pytest.mark.parametrize("target", list(Target))
def test_every_document_passes_the_validator(target: Target) -> None:
    bots = [BotConfig(slug="helper", bot_id="1", description="Answers questions")]
    for document in (
        tool_document(PUBLIC_URL, target),
        tool_document(PUBLIC_URL, target, bots=bots),
        coze_document(COZE_URL, target),
        coze_document(COZE_URL, target, bot_id="7000000000000000001"),
    ):
        validate(document)
        assert document["openapi"] == ("3.1.0" if target is Target.gpts else "3.0.1")
        for item in document["paths"].values():
            for operation in item.values():
                assert operation["operationId"]
                assert operation["security"]
                # Bilingual, and within GPTs' 300-character limit.
                for field in ("summary", "description"):
                    assert " / " in operation[field]
                    assert len(operation[field]) <= 300
        (scheme,) = document["components"]["securitySchemes"].values()
        assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_gpts_may_call_without_asking_each_time() -> None:
    operation = tool_document(PUBLIC_URL, Target.gpts)["paths"][ASK_PATH]["post"]
    assert operation["x-openai-isConsequential"] is False
    assert (
        "x-openai-isConsequential" not in tool_document(PUBLIC_URL, Target.qingyan)["paths"][ASK_PATH]["post"]
    )


def test_configured_bots_are_listed_for_the_model() -> None:
    bots = [
        BotConfig(slug="sales", bot_id="1", description="Knows our prices"),
        BotConfig(slug="hr", bot_id="2"),
    ]
    bot = tool_document(PUBLIC_URL, bots=bots)["paths"][ASK_PATH]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]["bot"]
    assert bot["enum"] == ["sales", "hr"]
    assert "sales: Knows our prices" in bot["description"]


def _texts(document: Any) -> list[str]:
    """Every description and summary of a document (property names aside)."""
    if isinstance(document, list):
        return [text for item in document for text in _texts(item)]
    if not isinstance(document, dict):
        return []
    found = []
    for key, value in document.items():
        if key in ("description", "summary") and isinstance(value, str):
            found.append(value)
        elif key == "properties":
            found += [text for schema in value.values() for text in _texts(schema)]
        else:
            found += _texts(value)
    return found


LONG = (
    "Answers every question about our products, prices, deliveries and returns, in English or Chinese, "
    "and knows the whole catalogue by heart: "
    + ", ".join(f"product-{n} (with its options)" for n in range(40))
)


@pytest.mark.parametrize("target", list(Target))
def test_long_bot_descriptions_are_shortened_to_the_targets_limit(target: Target) -> None:
    """GPTs refuse a description over 300 characters; the demo bots' listing alone was 372."""
    assert target.text_limit == 300
    bots = [
        BotConfig(slug="sales", bot_id="1", description=LONG),
        BotConfig(slug="hr", bot_id="2", description="Knows the holiday rules."),
        BotConfig(slug="support", bot_id="3", description=LONG),
    ]
    document = tool_document(PUBLIC_URL, target, bots=bots)
    validate(document)
    texts = _texts(document) + _texts(coze_document(COZE_URL, target, bot_id="7123"))
    assert all(len(text) <= target.text_limit for text in texts), max(texts, key=len)
    bot = document["paths"][ASK_PATH]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"
    ]["bot"]
    assert len(bot["description"]) > 250  # the room is used, not thrown away
    listing = bot["description"].split("the first). ", 1)[1]
    # Every bot is named; a short description stays whole, without its own full stop before "; ".
    assert "sales: Answers every" in listing and "; support: Answers every" in listing
    assert "hr: Knows the holiday rules; " in listing
    # A long one is cut where a word ends, and says so with an ellipsis.
    for part in listing.split("; "):
        if part.endswith("…"):
            kept = part.split(": ", 1)[1].removesuffix("…")
            assert LONG.startswith(kept)
            assert not LONG[len(kept)].isalnum(), f"cut inside a word: {kept[-20:]!r}"
    assert listing.count("…") == 2


def test_shorten_keeps_words_whole() -> None:
    assert shorten("short enough", 300) == "short enough"
    assert shorten("one two three four", 12) == "one two…"
    assert shorten("unbreakableword and more", 12) == "unbreakable…"  # one word longer than the room
    assert shorten("提问并一次得到完整回答。续问时传回上次的", 10) == "提问并一次得到完整…"
    assert shorten("see (the list) here", 8) == "see…"


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("target", list(Target))
def test_the_cli_prints_the_tool_document(target: Target, fmt: Format, tmp_path: Path) -> None:
    result = _run("--public-url", PUBLIC_URL, "--target", target.value, "--format", fmt.value)
    assert result.exit_code == 0, result.output
    assert _parse(result.stdout, fmt) == tool_document(PUBLIC_URL, target)
    if fmt is Format.yaml:
        assert "向 Coze 智能体提问" in result.stdout  # readable, not escaped
        assert result.stdout.index("openapi:") < result.stdout.index("paths:")  # keys in reading order


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("target", list(Target))
def test_the_cli_prints_the_corrected_coze_document(target: Target, fmt: Format) -> None:
    args = ["--coze", "--coze-base-url", COZE_URL, "--bot-id", "7123", "--target", target.value]
    result = _run(*args, "--format", fmt.value)
    assert result.exit_code == 0, result.output
    document = _parse(result.stdout, fmt)
    assert document == coze_document(COZE_URL, target, bot_id="7123")
    paths = document["paths"]
    assert list(paths) == ["/v3/chat", "/v3/chat/retrieve", "/v3/chat/message/list"]
    assert [list(item) for item in paths.values()] == [["post"], ["get"], ["get"]]
    assert paths["/v3/chat"]["post"]["parameters"][0]["in"] == "query"
    body = paths["/v3/chat"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["bot_id"]["enum"] == ["7123"]
    chat = paths["/v3/chat"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "status" in chat["properties"]["data"]["properties"]  # a Chat, not a message list
    listed = paths["/v3/chat/message/list"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["properties"]["data"]["type"] == "array"


def test_the_cli_reads_the_public_url_and_bots_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "botport.toml"
    config.write_text(
        f'public_url = "{PUBLIC_URL}"\ndata_dir = "{tmp_path}"\n'
        '[[bots]]\nslug = "sales"\nbot_id = "7001"\ndescription = "Knows our prices"\n'
    )
    result = _run("--config", str(config))
    assert result.exit_code == 0, result.output
    bots = [BotConfig(slug="sales", bot_id="7001", description="Knows our prices")]
    assert json.loads(result.stdout) == tool_document(PUBLIC_URL, bots=bots)


def test_the_cli_needs_a_public_url(tmp_path: Path) -> None:
    config = tmp_path / "botport.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    result = _run("--config", str(config))
    assert result.exit_code == 2
    assert "--public-url" in result.output
    result = _run("--public-url", "botport.example.com")
    assert result.exit_code == 2


async def test_the_http_route_serves_the_same_document(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path, public_url=PUBLIC_URL)) as gw:
        bots = list(gw.app.state.services.bots)
        for target in Target:
            response = await gw.client.get("/api/tool/openapi.json", params={"target": target.value})
            assert response.status_code == 200
            assert response.json() == tool_document(PUBLIC_URL, target, bots=bots)
        response = await gw.client.get("/api/tool/openapi.json", params={"target": "nope"})
        assert response.status_code == 422
    async with tool_gateway(token_settings(tmp_path / "b")) as gw:
        document = (await gw.client.get("/api/tool/openapi.json")).json()
        assert document["servers"][0]["url"] == "http://gateway.test"  # the request's base URL
        assert document["openapi"] == "3.0.1"


def test_docs_schemas_are_up_to_date() -> None:
    files = generated_files()
    stale = [
        name
        for name, text in files.items()
        if not (DOCS / name).is_file() or (DOCS / name).read_text() != text
    ]
    assert not stale, f"regenerate with: python {Path(__file__).relative_to(DOCS.parents[1])}  ({stale})"
    for name in files:
        validate(_parse((DOCS / name).read_text(), Format.yaml if name.endswith(".yaml") else Format.json))


if __name__ == "__main__":
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, text in generated_files().items():
        (DOCS / name).write_text(text)
        print(f"wrote {DOCS / name}", file=sys.stderr)
