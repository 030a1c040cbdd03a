"""Fault knobs: set per bot (``EmulatedBot.faults``) or per request with the header
``X-Emulator-Fault: first_delay=0.5; delta_delay=0; cut_after=3`` (header values win).

See the package docstring for what each knob does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

FAULT_HEADER = "x-emulator-fault"

_FLOAT_KNOBS = {"first_delay", "delta_delay"}
_INT_KNOBS = {"http_status", "cut_after", "error_event_after", "envelope_error"}


class FaultHeaderError(ValueError):
    """The fault header could not be parsed; the message says which part."""


@dataclass(frozen=True, slots=True)
class Faults:
    first_delay: float = 0.0  # seconds before the first event of a chat
    delta_delay: float = 0.0  # seconds between two message.delta events
    http_status: int | None = None  # answer the chat request with this status and an HTML body
    cut_after: int | None = None  # close the stream's connection after N message.delta events
    error_event_after: int | None = None  # send an ``error`` event after N message.delta events
    envelope_error: int | None = None  # answer the chat request with an error envelope of this code

    def with_overrides(self, overrides: dict[str, float | int]) -> Faults:
        return replace(self, **overrides)  # type: ignore[arg-type]


def parse_fault_header(value: str | None) -> dict[str, float | int]:
    """Parse ``name=value; name=value``. Unknown names and bad numbers raise :class:`FaultHeaderError`."""
    overrides: dict[str, float | int] = {}
    if not value:
        return overrides
    for part in value.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or name not in _FLOAT_KNOBS | _INT_KNOBS:
            known = ", ".join(f.name for f in fields(Faults))
            raise FaultHeaderError(f"unknown fault knob {name!r} (known: {known})")
        try:
            number: float | int = float(raw) if name in _FLOAT_KNOBS else int(raw)
        except ValueError:
            raise FaultHeaderError(f"fault knob {name} needs a number, got {raw!r}") from None
        if number < 0:
            raise FaultHeaderError(f"fault knob {name} must not be negative")
        overrides[name] = number
    return overrides
