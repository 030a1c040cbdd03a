"""The emulator's scripted workflows and chatflow. ``DEMO_WORKFLOWS`` is what the emulator serves.

A workflow is a pure function from its checked inputs (and the answers to its questions so far) to a
:class:`WorkflowPlan`; :mod:`botport.emulator.workflow_runs` plays a plan out as a run (sync, async or
streamed). A chatflow answers a conversation turn with a :class:`TurnPlan`, played by the chat runner.

- ``7100000000000000001`` Greeting demo: inputs ``name`` (required) and ``count`` (1-10, default 1);
  its JSON output depends on both.
- ``7100000000000000002`` Question demo: streams, asks which city (``Interrupt``), then finishes with
  the ``resume_data`` it gets (a blank answer is asked again).
- ``7100000000000000003`` Failing demo: starts, then its node fails (``Error`` event, an error envelope
  for a sync run, ``Fail`` in the run history).
- ``7100000000000000004`` Chatflow demo: a chatflow (``/v1/workflows/chat``) answering the user's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botport.emulator.envelope import BAD_REQUEST, EmulatorError
from botport.emulator.plan import TurnContext, TurnPlan

GREETING_WORKFLOW_ID = "7100000000000000001"
QUESTION_WORKFLOW_ID = "7100000000000000002"
FAILING_WORKFLOW_ID = "7100000000000000003"
CHATFLOW_ID = "7100000000000000004"

MAX_GREETINGS = 10


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input parameter of a workflow's Start node."""

    name: str
    type: Literal["string", "integer"]
    description: str
    required: bool = False
    default: str | int | None = None

    def to_wire(self) -> dict[str, Any]:
        """The shape of ``input.parameters`` in Coze's workflow info."""
        default = "" if self.default is None else str(self.default)
        return {
            "type": self.type,
            "required": self.required,
            "description": self.description,
            "default_value": default,
        }


@dataclass(frozen=True, slots=True)
class WorkflowInput:
    parameters: dict[str, Any]  # checked against the workflow's inputs, defaults filled in
    answers: tuple[str, ...] = ()  # the resume_data of each interrupt so far, oldest first


@dataclass(frozen=True, slots=True)
class NodeMessage:
    """What an Output node says; streamed word by word as Message events."""

    node_title: str
    content: str


@dataclass(frozen=True, slots=True)
class WorkflowPlan:
    """How a run goes: its node messages, then exactly one ending (output, question or error)."""

    messages: tuple[NodeMessage, ...] = ()
    output: dict[str, Any] | None = None  # the End node's output: the run succeeds
    question: str = ""  # a Question node asks the user: the run is interrupted until resumed
    error: tuple[int, str] | None = None  # a node fails: the run fails
    ping: bool = False  # a PING heartbeat before the first message (a node that takes its time)


WorkflowScript = Callable[[WorkflowInput], WorkflowPlan]
ChatflowScript = Callable[[TurnContext, Mapping[str, Any]], TurnPlan]


@dataclass(frozen=True, slots=True)
class EmulatedWorkflow:
    id: str
    name: str
    description: str
    inputs: tuple[InputSpec, ...] = ()
    script: WorkflowScript | None = None  # a workflow (``/v1/workflow/run`` and friends)
    chat_script: ChatflowScript | None = None  # a chatflow (``/v1/workflows/chat``)

    @property
    def mode(self) -> Literal["workflow", "chatflow"]:
        return "chatflow" if self.chat_script is not None else "workflow"


def check_parameters(workflow: EmulatedWorkflow, raw: object) -> dict[str, Any]:
    """The run's parameters checked against the Start node; a 4000 error says which one is wrong.

    Coze documents ``parameters`` as an object (the SDKs send one) and also as a JSON string: both work.
    """
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise _bad(workflow, "parameters must be a JSON object") from None
    if not isinstance(raw, dict):
        raise _bad(workflow, "parameters must be a JSON object")
    checked: dict[str, Any] = dict(raw)  # parameters the Start node does not declare are passed through
    for spec in workflow.inputs:
        value = raw.get(spec.name)
        if value is None or value == "":
            if spec.required:
                raise _bad(
                    workflow,
                    f"the input parameter {spec.name!r} is required ({spec.type}: {spec.description})",
                )
            checked[spec.name] = spec.default
        elif spec.type == "integer":
            checked[spec.name] = _integer(workflow, spec.name, value)
        elif not isinstance(value, str):
            raise _bad(workflow, f"the input parameter {spec.name!r} must be a string")
    return checked


def _integer(workflow: EmulatedWorkflow, name: str, value: object) -> int:
    # Coze converts numeric strings for integer inputs; booleans are not numbers here.
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _bad(workflow, f"the input parameter {name!r} must be an integer, got {value!r}")


def _bad(workflow: EmulatedWorkflow, msg: str) -> EmulatorError:
    return EmulatorError(BAD_REQUEST, f"workflow {workflow.id} ({workflow.name}): {msg}")


# --- the scripts ---------------------------------------------------------------------------------


def greeting_script(run: WorkflowInput) -> WorkflowPlan:
    name, count = str(run.parameters["name"]), int(run.parameters["count"])
    if not 1 <= count <= MAX_GREETINGS:
        return WorkflowPlan(error=(BAD_REQUEST, f"count must be between 1 and {MAX_GREETINGS}, got {count}"))
    lines = [f"{i}/{count}: Hello, {name}!" for i in range(1, count + 1)]
    return WorkflowPlan(
        messages=(NodeMessage("Greeting", f"Greeting {name} {count} time(s):\n" + "\n".join(lines)),),
        output={"greeting": f"Hello, {name}!", "count": count, "lines": lines, "name_length": len(name)},
    )


def question_script(run: WorkflowInput) -> WorkflowPlan:
    """Asks which city until it gets a non-blank answer, then plans the trip there."""
    topic = str(run.parameters["topic"])
    answers = [a.strip() for a in run.answers]
    if not answers:
        return WorkflowPlan(
            ping=True,
            messages=(NodeMessage("Plan", f"Let me plan {topic}. First I need one detail from you."),),
            question=f"Which city should {topic} be in?",
        )
    city = answers[-1]
    if not city:
        return WorkflowPlan(question=f"I did not catch that. Which city should {topic} be in?")
    days = [f"Day 1: walk through the old town of {city}.", f"Day 2: a museum and dinner in {city}."]
    return WorkflowPlan(
        messages=(NodeMessage("Plan", f"Great: {topic} in {city}. " + " ".join(days)),),
        output={"topic": topic, "city": city, "plan": days, "questions_asked": len(answers)},
    )


def failing_script(run: WorkflowInput) -> WorkflowPlan:
    return WorkflowPlan(
        messages=(NodeMessage("Fetch data", "Fetching the data from the upstream service..."),),
        error=(5000, "node 'Fetch data' failed: the upstream service is unavailable (scripted failure)"),
    )


def chatflow_script(ctx: TurnContext, parameters: Mapping[str, Any]) -> TurnPlan:
    """Answers with the user's message, the turn number and the chatflow's parameters."""
    before = f" Before that you asked: *{ctx.previous_questions[-1]}*." if ctx.previous_questions else ""
    shown = ", ".join(f"{k}={v}" for k, v in sorted(parameters.items())) or "none"
    return TurnPlan(
        answer=f"**Chatflow, turn {ctx.turn}.** You said: “{ctx.question}”.{before} Parameters: {shown}.",
        follow_ups=("What did I ask before?",),
    )


DEMO_WORKFLOWS: list[EmulatedWorkflow] = [
    EmulatedWorkflow(
        id=GREETING_WORKFLOW_ID,
        name="Greeting demo",
        description="Greets `name` `count` times; its JSON output depends on both inputs.",
        inputs=(
            InputSpec("name", "string", "who to greet", required=True),
            InputSpec("count", "integer", f"how many greetings, 1-{MAX_GREETINGS}", default=1),
        ),
        script=greeting_script,
    ),
    EmulatedWorkflow(
        id=QUESTION_WORKFLOW_ID,
        name="Question demo",
        description="Streams a plan, asks which city (Interrupt), then finishes with the answer.",
        inputs=(InputSpec("topic", "string", "what to plan", default="a weekend trip"),),
        script=question_script,
    ),
    EmulatedWorkflow(
        id=FAILING_WORKFLOW_ID,
        name="Failing demo",
        description="Starts, then its 'Fetch data' node fails (error 5000).",
        script=failing_script,
    ),
    EmulatedWorkflow(
        id=CHATFLOW_ID,
        name="Chatflow demo",
        description="A chatflow: answers the user's message and shows the context and parameters.",
        chat_script=chatflow_script,
    ),
]
