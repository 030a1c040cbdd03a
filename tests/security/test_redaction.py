"""The redactor and the log records' last line of defence (botport.redaction)."""

from __future__ import annotations

import logging

import pytest

from botport.redaction import MASK, Redactor, install_log_redaction

SECRET = "pat_SECRET_0123456789abcdef"


def test_every_occurrence_is_masked_and_the_rest_is_kept() -> None:
    redact = Redactor([SECRET, "short"])  # too short to be a secret: ordinary words stay
    text = f"Bearer {SECRET} is invalid; token={SECRET}!"
    assert redact(text) == f"Bearer {MASK} is invalid; token={MASK}!"
    assert redact("a short note") == "a short note"
    untouched = "nothing to hide"
    assert redact(untouched) is untouched  # no copy on the hot path when nothing matches
    assert redact.optional(None) is None


def test_a_secret_that_contains_another_is_masked_whole() -> None:
    redact = Redactor(["pat_SECRET_0123", SECRET])
    assert redact(f"x {SECRET} y") == f"x {MASK} y"


def test_log_records_are_scrubbed_in_message_arguments_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("botport.test.redaction")
    uninstall = install_log_redaction(Redactor([SECRET]))
    try:
        log.warning("upstream said %s", f"bad token {SECRET}")
        log.info(f"inline {SECRET}")
        try:
            raise RuntimeError(f"boom with {SECRET}")
        except RuntimeError:
            log.exception("it failed")
    finally:
        uninstall()
    assert SECRET not in caplog.text
    assert caplog.text.count(MASK) >= 3
    assert "boom with" in caplog.text  # the traceback is kept, scrubbed
    log.warning("after uninstall %s", SECRET)  # undone: records are as they were
    assert SECRET in caplog.records[-1].getMessage()
