"""schemathesis hooks for botport's fuzzing (``SCHEMATHESIS_HOOKS=fuzz_hooks``, with scripts/ on the path).

One hook: a generated ``Idempotency-Key`` is made specific to the request it comes with. schemathesis
draws keys from a tiny space (``""``, ``"0"``, ``"null"``...) and sends the same key with different
bodies; botport then answers 422 ``idempotency_key_reused``, as the IETF Idempotency-Key draft asks
and docs/api.md promises, and positive_data_acceptance reports a "schema-valid request rejected". A
real client never reuses a key for another request. The key keeps its drawn value and gets a digest of
the request appended (within the 255 characters the schema allows), so a repeat of the same request
still carries the same key and still re-attaches. Keys already invalid (too long) are left alone.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import schemathesis

HEADER = "Idempotency-Key"
MAX_LENGTH = 255  # botport.api.turn_edge.IdempotencyKeyHeader


def request_specific(key: str, method: str, path: str, body: Any) -> str:
    if len(key) > MAX_LENGTH:
        return key  # a negative case: keep it invalid
    if type(body).__name__ == "NotSet":  # no body
        body = None
    what = json.dumps([method, path, body], sort_keys=True, default=repr, ensure_ascii=True)
    digest = hashlib.sha256(what.encode()).hexdigest()[:16]
    return f"{key[: MAX_LENGTH - len(digest) - 1]}.{digest}"


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        if name.lower() == HEADER.lower() and isinstance(headers[name], str):
            headers[name] = request_specific(headers[name], case.method, case.formatted_path, case.body)
