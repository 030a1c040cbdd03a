"""botport's exceptions. Every error says what a user needs to report it.

::

    BotportError                      status, code, message; never holds a token
    ├── UpstreamError                 + upstream_code, logid (Coze's x-tt-logid)
    │   ├── UpstreamConnectionError   the network failed (DNS, refused, reset, cut mid-stream)
    │   ├── UpstreamTimeout           connect or read timeout, or a turn deadline
    │   ├── UpstreamOverloadedError   503: every connection to Coze is in use (with retry_after)
    │   ├── UpstreamHTTPError         an HTTP status >= 400 without a Coze envelope
    │   ├── UpstreamProtocolError     malformed data: bad JSON, unexpected content type
    │   ├── CozeAPIError              Coze answered code > 0 (envelope or ``error`` event)
    │   │   ├── CozeAuthError         4100 / 4101: token invalid, expired or lacking permission
    │   │   ├── BotNotPublishedError  4015: bot not published to the Agent-as-API channel
    │   │   ├── ConversationBusyError 4016: a chat is already running in the conversation
    │   │   ├── ConversationNotFoundError  Coze no longer knows the conversation (4200, expired, deleted)
    │   │   └── RateLimitedError      4013 or a rate-limit message
    │   └── ChatFailedError           the chat ended ``failed`` (``last_error``)
    └── GatewayError                  botport's own refusals, raised by the edges
        ├── BadRequestError           400 / 422: the request is wrong
        ├── AuthenticationError       401
        ├── NotFoundError             404 (also: someone else's conversation)
        ├── TurnInProgressError       409: one running turn per conversation (with retry_after)
        ├── ConflictError             409: not in a state for this (rating an answer not completed)
        ├── IdempotencyKeyReusedError 422: an Idempotency-Key sent again with another request
        ├── PayloadTooLargeError      413
        └── TooManyRequestsError      429: a rate limit or quota of the caller's (with retry_after)

The app maps this tree to HTTP responses and SSE error frames in one place.
"""

from __future__ import annotations


class BotportError(Exception):
    """Base of all botport errors."""

    status: int = 500
    code: str = "internal_error"
    retry_after: int | None = None  # seconds, sent as Retry-After: trying again then may work

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}

    @property
    def http_headers(self) -> dict[str, str]:
        """The headers its HTTP response carries (``Retry-After`` when trying again later may work)."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


# --- upstream ---------------------------------------------------------------------------------


class UpstreamError(BotportError):
    """Talking to Coze failed. ``logid`` is Coze's request id, for support tickets."""

    status = 502
    code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        upstream_code: int | None = None,
        logid: str | None = None,
        http_status: int | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.upstream_code = upstream_code
        self.logid = logid
        self.http_status = http_status

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        if self.upstream_code is not None:
            data["upstream_code"] = self.upstream_code
        if self.logid:
            data["logid"] = self.logid
        return data

    def __str__(self) -> str:
        parts = [self.message]
        if self.upstream_code is not None:
            parts.append(f"code={self.upstream_code}")
        if self.logid:
            parts.append(f"logid={self.logid}")
        return " ".join(parts)


class UpstreamConnectionError(UpstreamError):
    code = "upstream_unreachable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamOverloadedError(UpstreamError):
    """botport's own limit: every connection to Coze is in use. Nothing was asked; try again soon."""

    status = 503
    code = "upstream_busy"
    retry_after = 5


class UpstreamHTTPError(UpstreamError):
    code = "upstream_http_error"


class UpstreamProtocolError(UpstreamError):
    code = "upstream_protocol_error"


class CozeAPIError(UpstreamError):
    code = "coze_error"


class CozeAuthError(CozeAPIError):
    code = "coze_auth_failed"


class BotNotPublishedError(CozeAPIError):
    code = "bot_not_published"


class ConversationBusyError(CozeAPIError):
    status = 409
    code = "conversation_busy"


class ConversationNotFoundError(CozeAPIError):
    status = 502
    code = "upstream_conversation_lost"


class RateLimitedError(CozeAPIError):
    status = 429
    code = "rate_limited"


class ChatFailedError(UpstreamError):
    code = "chat_failed"


# Coze error codes with a class of their own.
_COZE_CODES: dict[int, type[CozeAPIError]] = {
    4100: CozeAuthError,
    4101: CozeAuthError,
    4015: BotNotPublishedError,
    4016: ConversationBusyError,
    4013: RateLimitedError,
    4200: ConversationNotFoundError,
}


def coze_error(
    upstream_code: int, msg: str, *, logid: str | None = None, http_status: int | None = None
) -> CozeAPIError:
    """The exception for a Coze ``code > 0`` answer."""
    cls = _COZE_CODES.get(upstream_code, CozeAPIError)
    lowered = msg.lower()
    if cls is CozeAPIError and "rate limit" in lowered:
        cls = RateLimitedError
    lost = "not found" in lowered or "not exist" in lowered
    if cls is CozeAPIError and "conversation" in lowered and lost:
        cls = ConversationNotFoundError
    message = msg or f"Coze returned error code {upstream_code}"
    return cls(message, upstream_code=upstream_code, logid=logid, http_status=http_status)


def with_logid(message: str, logid: object) -> str:
    """``message (logid …)``: Coze's log id at the end of a message, where no field holds it (the
    OpenAI and tutorial error shapes, ``botport doctor``), so that a person can still report it."""
    return f"{message} (logid {logid})" if logid else message


# --- gateway ----------------------------------------------------------------------------------


class GatewayError(BotportError):
    """A request botport itself refuses."""


class BadRequestError(GatewayError):
    status = 400
    code = "bad_request"


class AuthenticationError(GatewayError):
    status = 401
    code = "unauthorized"


class NotFoundError(GatewayError):
    status = 404
    code = "not_found"


class TurnInProgressError(GatewayError):
    status = 409
    code = "turn_in_progress"
    retry_after = 2


class ConflictError(GatewayError):
    """The thing exists but is not in a state for this request (an answer still being written, or
    one that failed, cannot be rated)."""

    status = 409
    code = "conflict"


class IdempotencyKeyReusedError(GatewayError):
    """The Idempotency-Key was already used for a different request."""

    status = 422
    code = "idempotency_key_reused"


class PayloadTooLargeError(GatewayError):
    status = 413
    code = "payload_too_large"


class TooManyRequestsError(GatewayError):
    """The caller went over one of its limits (requests or turns per minute, answers at once, a key's
    daily quota); ``retry_after`` says when trying again will work."""

    status = 429
    code = "rate_limited"
