"""A reason made into a sentence of a longer message: one full stop, never "..", never none."""

from __future__ import annotations

import pytest

from botport.chat.text import sentence


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("the model service is unavailable", "the model service is unavailable."),
        ("the model service is unavailable.", "the model service is unavailable."),
        ("the model service is unavailable..", "the model service is unavailable."),
        ("  spaced out.  ", "spaced out."),
        ("Are you sure?", "Are you sure?"),
        ("wait for it...", "wait for it..."),
        ("wait for it…", "wait for it…"),
        ("服务暂时不可用。", "服务暂时不可用。"),
    ],
)
def test_a_reason_ends_with_one_full_stop(reason: str, expected: str) -> None:
    assert sentence(reason) == expected
    assert not f"{sentence(reason)} Tell the user.".replace("...", "").count("..")
