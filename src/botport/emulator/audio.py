"""Offline "speech": audio made with the standard library, and the emulator's voices.

The emulator cannot speak or listen. Its speech is a tune: one short tone per letter (a pitch that
follows the letter, around the voice's base pitch), silence for spaces and punctuation, 50 ms a
character at speed 1, at most :data:`MAX_SECONDS`. It is real, playable audio: 16-bit mono PCM,
either raw (``pcm``) or in a WAV file (``wav``, written with :mod:`wave`). A WAV file also carries
its text in a RIFF ``LIST/INFO`` chunk (``ICMT``, with ``ISFT`` naming the emulator), so that the
emulator's transcription of its own speech gives the text back (:func:`transcript_of`).
"""

from __future__ import annotations

import io
import math
import struct
import sys
import wave
from array import array
from dataclasses import dataclass

SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
DEFAULT_SAMPLE_RATE = 24000
SECONDS_PER_CHARACTER = 0.05
MAX_SECONDS = 30.0
SOFTWARE = "botport emulator speech"  # the ISFT of the emulator's own WAV files
_AMPLITUDE = 0.25 * 32767
_FADE = 0.005  # seconds of fade at both ends of a tone (no clicks)
_CREATED = 1_700_000_000


@dataclass(frozen=True, slots=True)
class EmulatedVoice:
    voice_id: str
    name: str
    language_code: str
    language_name: str
    preview_text: str
    pitch: float  # Hz, the base of the voice's tune
    model_type: str = "big"

    def to_wire(self) -> dict[str, object]:
        """The shape of a Voice in ``GET /v1/audio/voices`` (cozepy's ``Voice``, coze-js's ``Voice``)."""
        return {
            "voice_id": self.voice_id,
            "name": self.name,
            "is_system_voice": True,
            "language_code": self.language_code,
            "language_name": self.language_name,
            "preview_text": self.preview_text,
            "preview_audio": "",  # the emulator serves no audio files by URL
            "available_training_times": 0,
            "create_time": _CREATED,
            "update_time": _CREATED,
            "model_type": self.model_type,
            "state": "cloned",  # ready to use
        }


VOICES: tuple[EmulatedVoice, ...] = (
    EmulatedVoice("7400000000000000101", "Emulator Aurora", "en", "English", "Hello from the emulator!", 220),
    EmulatedVoice("7400000000000000102", "Emulator Xiaoyun", "zh", "中文", "你好，我是模拟器。", 330.0),
    EmulatedVoice(
        "7400000000000000103", "Emulator Basso", "en", "English", "A low voice.", 110.0, model_type="small"
    ),
)
VOICES_BY_ID = {v.voice_id: v for v in VOICES}


def synthesize(text: str, voice: EmulatedVoice, *, speed: float, sample_rate: int) -> bytes:
    """16-bit little-endian mono PCM of ``text`` as the voice's tune."""
    per_char = max(1, round(sample_rate * SECONDS_PER_CHARACTER / speed))
    limit = int(sample_rate * MAX_SECONDS)
    fade = max(1, int(sample_rate * _FADE))
    samples = array("h")
    for char in text:
        n = min(per_char, limit - len(samples))
        if n <= 0:
            break
        if not char.isalnum():
            samples.frombytes(bytes(2 * n))  # silence
            continue
        step = 2 * math.pi * voice.pitch * 2 ** ((ord(char) % 12) / 12) / sample_rate
        samples.extend(
            int(_AMPLITUDE * min(1.0, k / fade, (n - k) / fade) * math.sin(step * k)) for k in range(n)
        )
    if not samples:
        samples.frombytes(bytes(2 * fade))  # never an empty file
    if sys.byteorder == "big":
        samples.byteswap()  # PCM and WAV are little-endian
    return samples.tobytes()


def wav_file(pcm: bytes, *, sample_rate: int, text: str) -> bytes:
    """A WAV file of ``pcm``, with ``text`` kept in its ``LIST/INFO`` chunk."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm)
    plain = out.getvalue()
    # wave writes RIFF(12) + fmt (24) + data: put the INFO list between fmt and data.
    assert plain[36:40] == b"data"
    info = _chunk(b"LIST", b"INFO" + _chunk(b"ISFT", _zstr(SOFTWARE)) + _chunk(b"ICMT", _zstr(text)))
    body = plain[12:36] + info + plain[36:]
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def transcript_of(data: bytes) -> str | None:
    """The text of a WAV file the emulator made, or None for any other audio."""
    info = _riff_info(data)
    if info.get(b"ISFT") != SOFTWARE.encode():
        return None
    text = info.get(b"ICMT")
    return text.decode("utf-8", errors="replace") if text is not None else None


def _zstr(text: str) -> bytes:
    return text.encode("utf-8") + b"\0"


def _chunk(ident: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: id, little-endian size, payload, a pad byte to an even length."""
    return ident + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    found = []
    at = start
    while at + 8 <= end:
        ident = data[at : at + 4]
        (size,) = struct.unpack("<I", data[at + 4 : at + 8])
        payload = data[at + 8 : min(end, at + 8 + size)]
        found.append((ident, payload))
        at += 8 + size + (size % 2)
    return found


def _riff_info(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return {}
    info: dict[bytes, bytes] = {}
    for ident, payload in _chunks(data, 12, len(data)):
        if ident == b"LIST" and payload[:4] == b"INFO":
            for key, value in _chunks(payload, 4, len(payload)):
                info[key] = value.rstrip(b"\0")
    return info
