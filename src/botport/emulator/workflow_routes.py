"""Coze's workflow API: run (sync or ``is_async``), stream_run, stream_resume, run histories, info.

Paths and shapes are the ones ``cozepy`` 0.20 and ``@coze/api`` 1.3.9 use:

- ``POST /v1/workflow/run`` → ``{code, msg, data (the output as a JSON string), execute_id, debug_url,
  usage}``; with ``is_async: true`` only ``execute_id`` and ``debug_url`` (read the result from the
  run history). An interrupted run answers ``data: ""`` with ``interrupt_data``.
- ``POST /v1/workflow/stream_run`` and ``/v1/workflow/stream_resume`` → SSE: ``Message``, ``PING``,
  then ``Done``, ``Interrupt`` or ``Error`` (see :mod:`botport.emulator.workflow_runs`).
- ``GET /v1/workflows/{workflow_id}/run_histories/{execute_id}`` → ``data: [history]``.
- ``GET /v1/workflows`` (``{items, has_more}``) and ``GET /v1/workflows/{workflow_id}``.
- ``POST /v1/workflows/chat``: the chatflow, in :mod:`botport.emulator.chatflow_routes`.

Errors: an unknown workflow is 4200 (Coze's answer for a workflow that was never published); bad
input is 4000 — an envelope for ``run``, an ``Error`` event for a stream (where Coze's Start node
reports it). A node failing in a sync run answers an error envelope that also carries ``debug_url``.
The fault header's ``first_delay``, ``delta_delay`` and ``envelope_error`` apply to streams here too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.bots import DEFAULT_DELTA_DELAY
from botport.emulator.chatflow_routes import ChatflowRoutes, ext_user_id
from botport.emulator.context import Emulator
from botport.emulator.envelope import NOT_FOUND, EmulatorError, JSONResponse, error_body, logid_of, ok
from botport.emulator.faults import Faults
from botport.emulator.inputs import bad, fault_overrides, json_body, optional_str
from botport.emulator.streaming import EventStreamResponse
from botport.emulator.workflow_runs import (
    ASYNC,
    STREAM,
    SYNC,
    Event,
    WorkflowRun,
    plan_events,
    workflow_frames,
)
from botport.emulator.workflows import (
    DEMO_WORKFLOWS,
    EmulatedWorkflow,
    WorkflowInput,
    WorkflowPlan,
    check_parameters,
)

_CREATED = "1700000000"  # a fixed time (Coze sends these as strings): the demo workflows never change
MAX_PAGE_SIZE = 100


class WorkflowRoutes:
    def __init__(
        self,
        emulator: Emulator,
        workflows: Sequence[EmulatedWorkflow] | None = None,
        *,
        async_duration: float = 0.3,  # how long an async run reports Running
        delta_delay: float = DEFAULT_DELTA_DELAY,
    ) -> None:
        self.emulator = emulator
        self.workflows = {w.id: w for w in (DEMO_WORKFLOWS if workflows is None else workflows)}
        self.runs: dict[str, WorkflowRun] = {}
        self.async_duration = async_duration
        self.delta_delay = delta_delay

    def routes(self) -> list[Route]:
        chatflows = ChatflowRoutes(self.emulator, self.workflow, delta_delay=self.delta_delay)
        return [
            Route("/v1/workflow/run", self.run, methods=["POST"]),
            Route("/v1/workflow/stream_run", self.stream_run, methods=["POST"]),
            Route("/v1/workflow/stream_resume", self.stream_resume, methods=["POST"]),
            *chatflows.routes(),  # /v1/workflows/chat, before /v1/workflows/{workflow_id}
            Route("/v1/workflows", self.list_workflows, methods=["GET"]),
            Route("/v1/workflows/{workflow_id}", self.retrieve, methods=["GET"]),
            Route("/v1/workflows/{workflow_id}/run_histories/{execute_id}", self.history, methods=["GET"]),
        ]

    def workflow(self, workflow_id: object, mode: str | None = None) -> EmulatedWorkflow:
        """The workflow (of ``mode``, when given); unknown ids get 4200 with the ids that exist."""
        if not isinstance(workflow_id, str) or not workflow_id:
            raise bad("workflow_id is required")
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            known = ", ".join(f"{w.id} ({w.name}, {w.mode})" for w in self.workflows.values())
            raise EmulatorError(
                NOT_FOUND,
                f"workflow {workflow_id!r} not found or not published; this emulator serves: {known}",
            )
        if mode is not None and workflow.mode != mode:
            use = "/v1/workflows/chat" if workflow.mode == "chatflow" else "/v1/workflow/run or stream_run"
            raise bad(f"workflow {workflow.id} ({workflow.name}) is a {workflow.mode}: call it with {use}")
        return workflow

    # --- runs ------------------------------------------------------------------------------------

    async def _new_run(
        self, request: Request, run_mode: int
    ) -> tuple[EmulatedWorkflow, WorkflowRun, object, Faults]:
        """The workflow, a run record (not yet stored), the raw parameters and the faults in force."""
        account = self.emulator.account(request)
        faults = Faults(delta_delay=self.delta_delay).with_overrides(fault_overrides(request))
        body = await json_body(request)
        workflow = self.workflow(body.get("workflow_id"), "workflow")
        bot_id, app_id = optional_str(body, "bot_id"), optional_str(body, "app_id")
        if bot_id and app_id:
            raise bad("give bot_id or app_id, not both")  # Coze answers 4000 to both too
        if faults.envelope_error:
            raise EmulatorError(
                faults.envelope_error, f"error {faults.envelope_error} (fault injected: envelope_error)"
            )
        if run_mode != STREAM and body.get("is_async") is True:
            run_mode = ASYNC
        run = WorkflowRun(
            account=account,
            workflow_id=workflow.id,
            run_mode=run_mode,
            parameters={},
            debug_base=str(request.base_url).rstrip("/"),
            logid=logid_of(request),
            bot_id=bot_id,
            connector_uid=ext_user_id(body) or account,
        )
        return workflow, run, body.get("parameters"), faults

    def _record(self, run: WorkflowRun, plan: WorkflowPlan, request: Request) -> None:
        run.apply(plan, error_suffix=self.emulator.echo(request))
        self.runs[run.execute_id] = run

    async def run(self, request: Request) -> Response:
        workflow, run, parameters, _ = await self._new_run(request, SYNC)
        run.parameters = check_parameters(workflow, parameters)
        self._record(run, _script(workflow, run), request)
        if run.run_mode == ASYNC:
            run.visible_at = time.monotonic() + self.async_duration
            return JSONResponse(
                {"code": 0, "msg": "", "execute_id": run.execute_id, "debug_url": run.debug_url}
            )
        if run.error is not None:
            body = {**error_body(*run.error, logid_of(request)), "debug_url": run.debug_url}
            return JSONResponse(body)
        extra: dict[str, Any] = {
            "execute_id": run.execute_id,
            "debug_url": run.debug_url,
            "usage": run.usage(),
        }
        if run.interrupt is not None:
            extra["interrupt_data"] = run.interrupt
        return ok(run.output, **extra)

    async def stream_run(self, request: Request) -> Response:
        workflow, run, parameters, faults = await self._new_run(request, STREAM)
        try:
            run.parameters = check_parameters(workflow, parameters)
            plan = _script(workflow, run)
        except EmulatorError as exc:  # the Start node rejects the input: an Error event, as on Coze
            plan = WorkflowPlan(error=(exc.code, exc.msg))
        self._record(run, plan, request)
        return _stream(plan_events(run, plan), faults)

    async def stream_resume(self, request: Request) -> Response:
        account = self.emulator.account(request)
        faults = Faults(delta_delay=self.delta_delay).with_overrides(fault_overrides(request))
        body = await json_body(request)
        workflow = self.workflow(body.get("workflow_id"), "workflow")
        event_id, resume_data = body.get("event_id"), body.get("resume_data")
        interrupt_type = body.get("interrupt_type")
        if not isinstance(event_id, str) or not event_id:
            raise bad("event_id is required (from the Interrupt event's interrupt_data)")
        if not isinstance(resume_data, str):
            raise bad("resume_data must be a string: the user's answer")
        if not isinstance(interrupt_type, int) or isinstance(interrupt_type, bool):
            raise bad("interrupt_type is required (the Interrupt event's interrupt_data.type)")
        run = self.runs.get(event_id.partition("/")[0])
        pending = run.interrupt if run is not None and time.monotonic() >= run.visible_at else None
        if run is None or run.account != account or run.workflow_id != workflow.id or pending is None:
            raise bad(f"event_id {event_id!r} is not a pending interrupt of workflow {workflow.id}")
        if pending["event_id"] != event_id:
            raise bad(f"event_id {event_id!r} was answered already; the pending one is {pending['event_id']}")
        if interrupt_type != pending["type"]:
            raise bad(
                f"interrupt_type {interrupt_type} does not match the interrupt (type {pending['type']})"
            )
        run.answers.append(resume_data)
        plan = _script(workflow, run)
        self._record(run, plan, request)
        return _stream(plan_events(run, plan), faults)

    async def history(self, request: Request) -> Response:
        account = self.emulator.account(request)
        workflow = self.workflow(request.path_params["workflow_id"])
        execute_id = request.path_params["execute_id"]
        run = self.runs.get(execute_id)
        if run is None or run.account != account or run.workflow_id != workflow.id:
            raise EmulatorError(
                NOT_FOUND, f"execute_id {execute_id!r} is not a run of workflow {workflow.id}"
            )
        return ok([run.history()])

    # --- workflow info ---------------------------------------------------------------------------

    async def list_workflows(self, request: Request) -> Response:
        self.emulator.account(request)
        query = request.query_params
        mode = query.get("workflow_mode") or None
        if mode not in (None, "workflow", "chatflow"):
            # cozepy 0.20 sends WorkflowMode.CHATFLOW as "WorkflowMode.CHATFLOW" (httpx uses str()).
            raise bad(
                f"workflow_mode must be 'workflow' or 'chatflow', got {mode!r} "
                "(with cozepy, pass the plain string: workflow_mode='chatflow')"
            )
        page_num = _int_query(request, "page_num", 1, 1, 10**6)
        page_size = _int_query(request, "page_size", 100, 1, MAX_PAGE_SIZE)
        found = [w for w in self.workflows.values() if mode is None or w.mode == mode]
        # The demo workflows belong to no app and are all published.
        if query.get("app_id") not in (None, "", "0") or query.get("publish_status") == "unpublished_draft":
            found = []
        start = (page_num - 1) * page_size
        items = [_basic(w) for w in found[start : start + page_size]]
        return ok({"items": items, "has_more": start + page_size < len(found)})

    async def retrieve(self, request: Request) -> Response:
        self.emulator.account(request)
        workflow = self.workflow(request.path_params["workflow_id"])
        data: dict[str, Any] = {"workflow_detail": _basic(workflow)}
        if request.query_params.get("include_input_output") == "true":
            data["input"] = {"parameters": {spec.name: spec.to_wire() for spec in workflow.inputs}}
        return ok(data)


def _stream(events: list[Event], faults: Faults) -> EventStreamResponse:
    frames = workflow_frames(events, first_delay=faults.first_delay, delta_delay=faults.delta_delay)
    return EventStreamResponse(frames)


def _script(workflow: EmulatedWorkflow, run: WorkflowRun) -> WorkflowPlan:
    assert workflow.script is not None  # workflow(..., "workflow") returns only workflows
    return workflow.script(WorkflowInput(run.parameters, tuple(run.answers)))


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise bad(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def _basic(workflow: EmulatedWorkflow) -> dict[str, Any]:
    return {
        "workflow_id": workflow.id,
        "workflow_name": workflow.name,
        "description": workflow.description,
        "icon_url": "",
        "app_id": "0",
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "creator": {"id": "0", "name": "botport emulator"},
    }
