"""``/v1/audio``: speech, transcriptions and voices, offline (see :mod:`botport.emulator.audio`).

``POST /v1/audio/speech`` body ``{input, voice_id, response_format?, speed?, sample_rate?}`` answers
audio bytes: ``wav`` (``audio/wav``) or ``pcm`` (``audio/pcm``, 16-bit little-endian mono). The SDKs'
default format, ``mp3``, and ``ogg_opus`` (``ogg``, ``opus``) cannot be made with Python's standard
library, so the emulator refuses them with a 4000 envelope saying so and naming the formats it
makes, rather than send bytes that are not what was asked for. Every error of this call answers
HTTP 400 (401 for a bad token): coze-js reads a 200 answer of this call as audio, envelope or not.

``POST /v1/audio/transcriptions`` (multipart ``file``) answers ``{text}``: the text of a WAV file the
emulator's own speech call made, or for any other audio :data:`FIXED_TRANSCRIPTION` (the emulator
recognises no speech). ``GET /v1/audio/voices`` lists :data:`~botport.emulator.audio.VOICES`
(``{voice_list, has_more}``; ``filter_system_voice=true`` lists none, as they all are system voices;
``model_type`` filters; ``page_num``/``page_size`` page).

Every other ``/v1/audio/...`` call (rooms, voice cloning, voiceprint groups, live, translations)
answers a 4000 envelope saying that the emulator does not support it.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.audio import (
    DEFAULT_SAMPLE_RATE,
    SAMPLE_RATES,
    VOICES,
    VOICES_BY_ID,
    synthesize,
    transcript_of,
    wav_file,
)
from botport.emulator.context import Emulator
from botport.emulator.envelope import BAD_REQUEST, EmulatorError, ok
from botport.emulator.inputs import bad, json_body
from botport.emulator.paging import bool_query, int_query, page

MAX_INPUT = 1024  # characters, Coze's documented limit
MADE = ("wav", "pcm")
NOT_MADE = ("mp3", "ogg_opus", "ogg", "opus")  # formats the SDKs offer that the emulator cannot make
FIXED_TRANSCRIPTION = "(botport emulator) This audio was not made by the emulator: it recognises no speech."
_MEDIA_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm"}


def _speech_error(msg: str) -> EmulatorError:
    return EmulatorError(BAD_REQUEST, msg, http_status=400)


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _speech_error(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


class AudioRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [
            Route("/v1/audio/speech", self.speech, methods=["POST"]),
            Route("/v1/audio/transcriptions", self.transcriptions, methods=["POST"]),
            Route("/v1/audio/voices", self.voices, methods=["GET"]),
            # Last: whatever else is asked under /v1/audio (any method) gets a clear "not supported".
            Route(
                "/v1/audio/{rest:path}", self.unsupported, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
            ),
        ]

    async def speech(self, request: Request) -> Response:
        self.emulator.account(request)
        try:
            body = await json_body(request)
        except EmulatorError as exc:
            raise _speech_error(exc.msg) from None
        text = body.get("input")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_INPUT:
            raise _speech_error(f"input must be a non-empty string of at most {MAX_INPUT} characters")
        voice = VOICES_BY_ID.get(str(body.get("voice_id") or ""))
        if voice is None:
            known = ", ".join(f"{v.voice_id} ({v.name})" for v in VOICES)
            raise _speech_error(f"voice_id must be a voice of this emulator (GET /v1/audio/voices): {known}")
        fmt = body.get("response_format") or "mp3"  # Coze's default
        if fmt in NOT_MADE:
            raise _speech_error(
                f"response_format {fmt!r} is not supported by the botport emulator, which makes audio "
                f"offline with Python's standard library: ask for {' or '.join(map(repr, MADE))}"
            )
        if fmt not in MADE:
            raise _speech_error(f"response_format must be one of {', '.join(MADE + NOT_MADE)}")
        speed = _number(body, "speed", 1.0, 0.2, 3.0)
        sample_rate = body.get("sample_rate") or DEFAULT_SAMPLE_RATE
        if sample_rate not in SAMPLE_RATES:
            raise _speech_error(f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}")
        # Up to 30 s of audio is about a second of CPU: keep it off the event loop.
        pcm = await run_in_threadpool(synthesize, text, voice, speed=speed, sample_rate=int(sample_rate))
        audio = pcm if fmt == "pcm" else wav_file(pcm, sample_rate=int(sample_rate), text=text)
        return Response(audio, media_type=_MEDIA_TYPES[fmt])

    async def transcriptions(self, request: Request) -> Response:
        self.emulator.account(request)
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise bad("multipart field 'file' is required: the audio to transcribe")
            data = await upload.read()
        if not data:
            raise bad("the audio file is empty")
        text = transcript_of(data)
        return ok({"text": FIXED_TRANSCRIPTION if text is None else text})

    async def voices(self, request: Request) -> Response:
        self.emulator.account(request)
        model_type = request.query_params.get("model_type") or ""
        if model_type not in ("", "big", "small"):
            raise bad("model_type must be 'big' or 'small'")
        if request.query_params.get("voice_state", "all") not in ("", "all", "init", "cloned"):
            raise bad("voice_state must be 'init', 'cloned' or 'all'")
        found = [] if bool_query(request, "filter_system_voice") else list(VOICES)
        found = [v for v in found if not model_type or v.model_type == model_type]
        page_num = int_query(request, ("page_num",), 1, 1, 100_000)
        page_size = int_query(request, ("page_size",), 100, 1, 100)
        items, has_more = page(found, page_num, page_size)
        return ok({"voice_list": [v.to_wire() for v in items], "has_more": has_more})

    async def unsupported(self, request: Request) -> Response:
        self.emulator.account(request)
        raise EmulatorError(
            BAD_REQUEST,
            f"{request.method} {request.url.path} is not supported by the botport emulator "
            "(it serves /v1/audio/speech, /v1/audio/transcriptions and /v1/audio/voices)",
        )
