"""Secrets never leave botport: not in a response, a stored row or a log line.

Coze may echo the caller's ``Authorization`` value in an error message (a JSON envelope's ``msg``, an
SSE ``error`` event, a failed chat's ``last_error``, a 401 body). Every string that comes from
upstream passes one :class:`Redactor` at the upstream boundary (:mod:`botport.upstream.client`), and
:func:`install_log_redaction` scrubs every log record as the last line of defence.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

MASK = "[redacted]"
MIN_SECRET_CHARS = 8  # shorter values would mask ordinary words (and are no secrets)
ADDED_KEPT = 8  # secrets added later (a Coze OAuth app's access tokens) masked at once: the latest ones


class Redactor:
    """Replaces each configured secret in a text with :data:`MASK`.

    ``growing``: secrets are :meth:`add`-ed later (short-lived tokens, :mod:`botport.upstream.oauth`);
    the last :data:`ADDED_KEPT` of them are masked with the fixed ones."""

    def __init__(self, secrets: Iterable[str], *, growing: bool = False) -> None:
        self._fixed = {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
        self._added: deque[str] = deque(maxlen=ADDED_KEPT)
        self.growing = growing
        # Longest first: a secret that contains another is masked whole.
        self.secrets = sorted(self._fixed, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.secrets) or self.growing

    def add(self, secret: str) -> None:
        """Mask ``secret`` too from now on (a new list, swapped in whole: readers never see it half made)."""
        if len(secret) < MIN_SECRET_CHARS or secret in self._fixed or secret in self._added:
            return
        self._added.append(secret)
        self.secrets = sorted(self._fixed | set(self._added), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self(text)


def install_log_redaction(redact: Redactor) -> Callable[[], None]:
    """Scrub every log record made from now on (its message, arguments and traceback); returns the
    function that undoes it. A record factory, not a handler filter: it holds for every handler,
    those that uvicorn and others add later included."""
    if not redact:
        return lambda: None
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text)  # formatters print exc_text as it is when it is set
        return record

    logging.setLogRecordFactory(factory)

    def uninstall() -> None:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)

    return uninstall
