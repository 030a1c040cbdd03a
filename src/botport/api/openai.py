"""OpenAI-compatible edge: /v1/models and /v1/chat/completions (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["openai"])
