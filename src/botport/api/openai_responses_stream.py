"""A turn's domain events as the Responses API's typed stream events, each with its ``sequence_number``.

The rendering is a pure function of the turn's events from its start, so the numbers are the same each
time: a stream resumed with ``starting_after=N`` renders the turn again from its first event and sends
what comes after N. Once the turn's live log is gone (past its retention) the stored answer stands in
for it (:mod:`botport.chat.replay`): its text comes as one delta, and a client that had read further
than that gets the final event, numbered after what it saw.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from botport.api.openai_responses_objects import (
    ResponseMeta,
    ended_status,
    function_call_id,
    function_call_item,
    item_id,
    message_item,
    reasoning_item,
    reasoning_part,
    response_object,
    text_part,
)
from botport.chat.eventlog import Entry, Keepalive
from botport.chat.events import (
    DomainEvent,
    MessageCompleted,
    ReasoningDelta,
    TextDelta,
    ToolCallsRequired,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from botport.sse import KEEPALIVE_FRAME, frame

Kind = Literal["msg", "rs"]


class ResponseRenderer:
    """Feeds on a turn's events; gives the stream events they make, numbered from 0."""

    def __init__(self, meta: ResponseMeta) -> None:
        self.meta = meta
        self.sequence = -1
        self.output: list[dict[str, Any]] = []
        self._open: Kind | None = None
        self._text = ""  # of the open item
        self._firsts: set[Kind] = set()
        self._wrote: set[Kind] = set()  # kinds that had any delta: a stand-in's whole text is not repeated

    def feed(self, event: DomainEvent) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if isinstance(event, TurnStarted):
            self._lifecycle(out, "response.created", "in_progress")
            self._lifecycle(out, "response.in_progress", "in_progress")
        elif isinstance(event, ReasoningDelta):
            self._delta(out, "rs", event.text)
        elif isinstance(event, TextDelta):
            self._delta(out, "msg", event.text)
        elif isinstance(event, MessageCompleted):
            # A stored answer standing in for the live log: its whole text, once.
            if event.reasoning and "rs" not in self._wrote:
                self._delta(out, "rs", event.reasoning)
            if event.content and "msg" not in self._wrote:
                self._delta(out, "msg", event.content)
        elif isinstance(event, ToolCallsRequired):
            self._close(out, "completed")
            for call in event.tool_calls:
                self._function_call(out, call)
        elif isinstance(event, TurnCompleted):
            if event.status == "completed" and not self.output and self._open is None:
                self._delta(out, "msg", "")  # an empty answer is still a message
            self._close(out, "completed")
            done = response_object(
                self.meta, status="completed", output=self.output, usage=event.usage, completed_at=_now()
            )
            out.append(self._event("response.completed", response=done))
        elif isinstance(event, TurnFailed):
            self._close(out, "incomplete")
            out.append(self.failed(event))
        return out

    def failed(self, event: TurnFailed) -> dict[str, Any]:
        """``response.failed`` with why (a cancelled response says ``cancelled``)."""
        status, error = ended_status(event.status, event.code, event.message)
        if error is not None and event.logid:
            error["message"] = f"{error['message']} (logid {event.logid})"
        body = response_object(self.meta, status=status, output=self.output, error=error, completed_at=_now())
        return self._event("response.failed", response=body)

    # --- items --------------------------------------------------------------------------------

    def _delta(self, out: list[dict[str, Any]], kind: Kind, text: str) -> None:
        if self._open != kind:
            self._close(out, "completed")
            self._start(out, kind)
        self._wrote.add(kind)
        self._text += text
        index = len(self.output) - 1
        name = "response.output_text.delta" if kind == "msg" else "response.reasoning_text.delta"
        extra: dict[str, Any] = {"logprobs": []} if kind == "msg" else {}
        out.append(
            self._event(
                name,
                item_id=self.output[index]["id"],
                output_index=index,
                content_index=0,
                delta=text,
                **extra,
            )
        )

    def _start(self, out: list[dict[str, Any]], kind: Kind) -> None:
        index = len(self.output)
        first = kind not in self._firsts
        self._firsts.add(kind)
        item_id_ = item_id(kind, self.meta.message_id, index, first)
        make = message_item if kind == "msg" else reasoning_item
        self.output.append(make(item_id_, None, "in_progress"))
        self._open, self._text = kind, ""
        out.append(
            self._event("response.output_item.added", output_index=index, item=dict(self.output[index]))
        )
        part = text_part("") if kind == "msg" else reasoning_part("")
        out.append(
            self._event(
                "response.content_part.added",
                item_id=item_id_,
                output_index=index,
                content_index=0,
                part=part,
            )
        )

    def _close(self, out: list[dict[str, Any]], status: Literal["completed", "incomplete"]) -> None:
        kind = self._open
        if kind is None:
            return
        index = len(self.output) - 1
        item_id_ = self.output[index]["id"]
        place = {"item_id": item_id_, "output_index": index, "content_index": 0}
        if kind == "msg":
            out.append(self._event("response.output_text.done", **place, text=self._text, logprobs=[]))
            part = text_part(self._text)
            self.output[index] = message_item(item_id_, self._text, status)
        else:
            out.append(self._event("response.reasoning_text.done", **place, text=self._text))
            part = reasoning_part(self._text)
            self.output[index] = reasoning_item(item_id_, self._text, status)
        out.append(self._event("response.content_part.done", **place, part=part))
        out.append(self._event("response.output_item.done", output_index=index, item=self.output[index]))
        self._open, self._text = None, ""

    def _function_call(self, out: list[dict[str, Any]], call: Any) -> None:
        index = len(self.output)
        calls = sum(1 for item in self.output if item["type"] == "function_call")
        item_id_ = function_call_id(self.meta.message_id, calls)
        self.output.append(function_call_item(item_id_, call, "", "in_progress"))
        out.append(
            self._event("response.output_item.added", output_index=index, item=dict(self.output[index]))
        )
        place = {"item_id": item_id_, "output_index": index}
        out.append(self._event("response.function_call_arguments.delta", **place, delta=call.arguments))
        out.append(
            self._event(
                "response.function_call_arguments.done", **place, name=call.name, arguments=call.arguments
            )
        )
        self.output[index] = function_call_item(item_id_, call, call.arguments, "completed")
        out.append(self._event("response.output_item.done", output_index=index, item=self.output[index]))

    # --- events -------------------------------------------------------------------------------

    def _lifecycle(self, out: list[dict[str, Any]], name: str, status: Literal["in_progress"]) -> None:
        out.append(self._event(name, response=response_object(self.meta, status=status, output=[])))

    def _event(self, event_type: str, /, **fields: Any) -> dict[str, Any]:
        self.sequence += 1
        return {"type": event_type, "sequence_number": self.sequence, **fields}


def _now() -> int:
    return int(time.time())


async def response_frames(
    meta: ResponseMeta, events: AsyncIterator[Entry | Keepalive], *, starting_after: int = -1
) -> AsyncIterator[bytes]:
    """The stream's SSE frames (``event:`` the type, ``data:`` the event), after ``starting_after``."""
    renderer = ResponseRenderer(meta)
    async for item in events:
        if isinstance(item, Keepalive):
            yield KEEPALIVE_FRAME
            continue
        for event in renderer.feed(item[1]):
            if event["sequence_number"] > starting_after:
                yield frame(event, event=event["type"])
            elif event["type"] in ("response.completed", "response.failed"):
                # A stand-in shorter than what the client saw: it still gets the end.
                yield frame({**event, "sequence_number": starting_after + 1}, event=event["type"])
