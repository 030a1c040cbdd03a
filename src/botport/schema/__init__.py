"""OpenAPI documents for agent platforms: botport's tool endpoint (Zhipu Qingyan, GPTs, Coze plugins)
and a corrected schema of Coze's own chat API for those who call Coze directly."""

from __future__ import annotations

from botport.schema.coze_doc import coze_document
from botport.schema.render import Format, render
from botport.schema.targets import Target
from botport.schema.tool_doc import ASK_PATH, tool_document

__all__ = ["ASK_PATH", "Format", "Target", "coze_document", "render", "tool_document"]
