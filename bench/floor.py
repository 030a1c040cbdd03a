"""The floor: the least a streaming gateway can do, as a reference for bench_gateway.py (not botport).

A Starlette app with one shared httpx client that forwards ``POST /v3/chat`` to the upstream and
streams the bytes back unchanged: no auth, no storage, no parsing. Whatever botport costs above this
is botport's own.

    python bench/floor.py --upstream http://127.0.0.1:8401 --port 8402
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route


def create_floor(upstream: str) -> Starlette:
    client: httpx.AsyncClient | None = None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal client
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=upstream, timeout=120, limits=limits) as http:
            client = http
            yield

    async def chat(request: Request) -> StreamingResponse:
        assert client is not None
        upstream_request = client.build_request(
            "POST",
            "/v3/chat",
            params=request.query_params,
            content=await request.body(),
            headers={"authorization": request.headers["authorization"], "content-type": "application/json"},
        )
        response = await client.send(upstream_request, stream=True)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()

        return StreamingResponse(body(), media_type=response.headers.get("content-type"))

    return Starlette(routes=[Route("/v3/chat", chat, methods=["POST"])], lifespan=lifespan)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_floor(args.upstream), host="127.0.0.1", port=args.port, log_level="warning")
