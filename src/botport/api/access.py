"""``POST /api/access``: a browser gives the web chat's passcode (``BOTPORT_WEB_ACCESS=passcode``)
and gets its pass cookie (:mod:`botport.api.web_access`). Attempts are limited per client address."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from botport.api.deps import ServicesDep
from botport.api.responses import ErrorBody, errors
from botport.api.web_access import served_over_https
from botport.errors import BotportError, NotFoundError
from botport.identity import COOKIE_MAX_AGE, Identity, access_cookie_name

router = APIRouter(prefix="/api", tags=["chat"], responses=errors(ErrorBody, 400, 408, 413, 422))


class AccessRequest(BaseModel):
    passcode: Annotated[str, Field(min_length=1, max_length=200, description="The web chat's passcode.")]


@router.post(
    "/access",
    status_code=204,
    summary="Give the web chat's passcode",
    responses={
        404: {"model": ErrorBody, "description": "This server's web chat has no passcode"},
        403: {"model": ErrorBody, "description": "Wrong passcode"},
        429: {"model": ErrorBody, "description": "Too many attempts from this address (see Retry-After)"},
    },
)
async def give_passcode(body: AccessRequest, request: Request, services: ServicesDep) -> Response:
    """Exchange the passcode for a pass cookie (when ``BOTPORT_WEB_ACCESS=passcode``)."""
    settings = services.settings
    identity: Identity | None = request.scope.get("state", {}).get("web_identity")
    if settings.web_access != "passcode" or settings.web_passcode is None or identity is None:
        # 404, not 400: a schema-valid request to a server without a passcode finds nothing to unlock.
        raise NotFoundError("this server's web chat has no passcode", code="no_passcode")
    await services.limits.check_passcode_attempt(request.client.host if request.client else None)
    passcode = settings.web_passcode.get_secret_value()
    if not hmac.compare_digest(body.passcode.strip().encode(), passcode.strip().encode()):
        raise BotportError("that is not the passcode", status=403, code="wrong_passcode")
    https = served_over_https(request, settings)
    cookie = (
        f"{access_cookie_name(https=https)}={services.signer.access_pass(identity.id, passcode)}; Path=/; "
        f"Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax" + ("; Secure" if https else "")
    )
    return Response(status_code=204, headers={"Set-Cookie": cookie})
