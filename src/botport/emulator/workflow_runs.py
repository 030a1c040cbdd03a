"""Workflow runs: the record behind ``execute_id`` and a :class:`WorkflowPlan` played out as events.

A plan is pure, so a run's outcome is known when it starts. The record keeps that outcome; an async
run only *reports* ``Running`` until its scripted duration has passed, so no background task is left
to clean up. A stream plays the same plan as SSE events with Coze's workflow framing::

    id: 0
    event: Message
    data: {"content":"...","node_title":"...","node_seq_id":"0","node_is_finish":false}

Event ids start at 0 in every response (a resumed stream starts again at 0), as in Coze's docs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from botport.emulator.ids import new_id, now
from botport.emulator.plan import word_chunks
from botport.emulator.runner import count_tokens
from botport.emulator.sse import dumps
from botport.emulator.workflows import WorkflowPlan

SYNC, STREAM, ASYNC = 0, 1, 2  # Coze's run_mode values
QUESTION_INTERRUPT = 2  # interrupt_data.type of a Question node
END_NODE_ID = "900001"  # Coze numbers the Start node 100001 and the End node 900001

# An event to send: its name, its data and whether it follows a pause (the pace of streamed text).
Event = tuple[str, dict[str, Any], bool]


@dataclass(slots=True)
class WorkflowRun:
    account: str
    workflow_id: str
    run_mode: int
    parameters: dict[str, Any]
    debug_base: str  # the emulator's own address: debug_url points there (it has no debug page)
    logid: str
    bot_id: str = ""
    connector_uid: str = ""
    execute_id: str = field(default_factory=new_id)
    create_time: int = field(default_factory=now)
    update_time: int = field(default_factory=now)
    answers: list[str] = field(default_factory=list)  # resume_data so far
    status: str = "Running"  # Running, Success or Fail once the plan is applied
    output: str = ""
    error: tuple[int, str] | None = None
    interrupt: dict[str, Any] | None = None  # the pending interrupt_data, while waiting for an answer
    input_tokens: int = 0
    output_tokens: int = 0
    visible_at: float = 0.0  # monotonic time from which the outcome shows (async runs take a while)

    @property
    def debug_url(self) -> str:
        return f"{self.debug_base}/work_flow?execute_id={self.execute_id}&workflow_id={self.workflow_id}"

    def usage(self) -> dict[str, int]:
        return {
            "input_count": self.input_tokens,
            "output_count": self.output_tokens,
            "token_count": self.input_tokens + self.output_tokens,
        }

    def apply(self, plan: WorkflowPlan, *, error_suffix: str = "") -> None:
        """Record the outcome of ``plan`` (a new leg after each resume)."""
        self.update_time = now()
        self.input_tokens += count_tokens(json.dumps(self.parameters) + "".join(self.answers))
        self.output_tokens += count_tokens("".join(m.content for m in plan.messages))
        self.interrupt = None
        if plan.error is not None:
            self.status, self.error = "Fail", (plan.error[0], plan.error[1] + error_suffix)
        elif plan.question:
            self.status = "Running"
            self.interrupt = {
                "data": json.dumps({"content_type": "text", "content": plan.question}, ensure_ascii=False),
                "event_id": f"{self.execute_id}/{len(self.answers) + 1}",
                "type": QUESTION_INTERRUPT,
            }
        else:
            self.status, self.output = "Success", dumps(plan.output or {})
            self.output_tokens += count_tokens(self.output)

    def history(self) -> dict[str, Any]:
        """The run as ``GET /v1/workflows/{id}/run_histories/{execute_id}`` lists it."""
        shown = time.monotonic() >= self.visible_at
        status = self.status if shown else "Running"
        error = self.error if shown and self.error else None
        data: dict[str, Any] = {
            "execute_id": self.execute_id,
            "execute_status": status,
            "bot_id": self.bot_id or "0",
            "connector_id": "1024",
            "connector_uid": self.connector_uid,
            "run_mode": self.run_mode,
            "logid": self.logid,
            "create_time": self.create_time,
            "update_time": self.update_time,
            "output": self.output if shown else "",
            "token": str(self.input_tokens + self.output_tokens),
            "cost": "0",
            # Coze sends error_code as a string, "" when the run did not fail.
            "error_code": str(error[0]) if error else "",
            "error_message": error[1] if error else "",
            "debug_url": self.debug_url,
            "usage": self.usage(),
            "is_output_trimmed": False,
        }
        if shown and self.interrupt is not None:
            data["interrupt_data"] = self.interrupt
        return data


def plan_events(run: WorkflowRun, plan: WorkflowPlan) -> list[Event]:
    """The events of one leg of a run (``run.apply(plan)`` already done)."""
    events: list[Event] = []
    if plan.ping:
        events.append(("PING", {}, False))
    for index, node in enumerate(plan.messages):
        node_id, node_uuid = str(100002 + index), new_id()
        chunks = word_chunks(node.content) or [""]
        for seq, chunk in enumerate(chunks):
            data = _message(node.node_title, chunk, seq, last=seq == len(chunks) - 1)
            events.append(("Message", {**data, "node_id": node_id, "node_execute_uuid": node_uuid}, True))
    if run.status == "Fail" and run.error is not None:
        events.append(("Error", {"error_code": run.error[0], "error_message": run.error[1]}, False))
    elif run.interrupt is not None:
        events.append(("Message", _message("Question", plan.question, 0, last=True), False))
        events.append(("Interrupt", {"interrupt_data": run.interrupt, "node_title": "Question"}, False))
    else:
        end = {**_message("End", run.output, 0, last=True), "node_id": END_NODE_ID, "usage": run.usage()}
        events.append(("Message", end, False))
        events.append(("Done", {"debug_url": run.debug_url}, False))
    return events


def _message(node_title: str, content: str, seq: int, *, last: bool) -> dict[str, Any]:
    return {
        "content": content,
        "content_type": "text",
        "node_title": node_title,
        "node_seq_id": str(seq),
        "node_is_finish": last,
    }


def encode_workflow_event(event_id: int, name: str, data: object) -> bytes:
    """One frame as Coze's workflow docs show it: ``id``, ``event`` and ``data`` lines, a blank line."""
    return f"id: {event_id}\nevent: {name}\ndata: {dumps(data)}\n\n".encode()


async def workflow_frames(
    events: list[Event], *, first_delay: float, delta_delay: float
) -> AsyncIterator[bytes]:
    """The frames of ``events``, paced like a workflow whose Output nodes stream."""
    await asyncio.sleep(first_delay)
    for event_id, (name, data, paced) in enumerate(events):
        if paced and event_id:
            await asyncio.sleep(delta_delay)
        yield encode_workflow_event(event_id, name, data)
