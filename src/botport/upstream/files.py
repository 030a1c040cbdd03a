"""Uploading a file to Coze (``POST /v1/files/upload``, multipart field ``file``), so that a question
can name it by ``file_id`` in its ``object_string`` parts. :class:`FileCalls` is part of
:class:`~botport.upstream.client.CozeClient`::

    async with CozeClient(base_url=..., token=...) as coze:
        file_id = await coze.upload_file("photo.png", "image/png", data)

Errors are the client's (:mod:`botport.errors`), their message saying that the file was refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from botport.errors import UpstreamError, UpstreamProtocolError
from botport.upstream.detached import DetachedExchanges

UPLOAD_PATH = "/v1/files/upload"


class FileCalls:
    """The file calls (a mixin of ``CozeClient``)."""

    if TYPE_CHECKING:  # CozeClient's, typed here for the call below
        _http: httpx.AsyncClient
        _detached: DetachedExchanges

        def _build(
            self,
            method: str,
            path: str,
            params: Mapping[str, str] | None,
            body: Any | None,
            http: httpx.AsyncClient | None = None,
        ) -> httpx.Request: ...

        async def _exchange(self, request: httpx.Request) -> httpx.Response: ...

        def _envelope_data(self, response: httpx.Response) -> Any: ...

        def _logid(self, response: httpx.Response) -> str | None: ...

    async def upload_file(self, name: str, content_type: str, data: bytes) -> str:
        """Upload ``data`` as ``name``; returns Coze's file id."""
        # The client's own request (its URL, token and timeouts), carrying a multipart body instead.
        base = self._build("POST", UPLOAD_PATH, None, None)
        dropped = ("content-length", "content-type")
        headers = {k: v for k, v in base.headers.items() if k.lower() not in dropped}
        request = self._http.build_request(
            "POST",
            base.url,
            headers=headers,
            files={"file": (name, data, content_type)},
            extensions=base.extensions,
        )
        try:
            response = await self._detached.run(self._exchange(request))
            found = self._envelope_data(response)
        except UpstreamError as exc:
            raise type(exc)(
                f"Coze did not take the file {name!r}: {exc.message}",
                upstream_code=exc.upstream_code,
                logid=exc.logid,
                http_status=exc.http_status,
                status=exc.status,
                code=exc.code,
            ) from exc
        file_id = found.get("id") if isinstance(found, dict) else None
        if not isinstance(file_id, str | int) or not str(file_id):
            raise UpstreamProtocolError(
                "Coze answered the file upload without a file id", logid=self._logid(response)
            )
        return str(file_id)
