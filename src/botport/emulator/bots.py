"""The emulator's scripted bots. ``DEMO_BOTS`` is what ``create_emulator_app`` serves by default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from botport.emulator.faults import Faults
from botport.emulator.plan import TurnContext, TurnPlan
from botport.emulator.scripts import demo_script, failing_script, weather_script

DEMO_BOT_ID = "7000000000000000001"
TOOL_BOT_ID = "7000000000000000002"
SLOW_BOT_ID = "7000000000000000003"
FAILING_BOT_ID = "7000000000000000004"

Script = Callable[[TurnContext], TurnPlan]

# Small enough to stay snappy, large enough that a demo visibly streams.
DEFAULT_DELTA_DELAY = 0.02


@dataclass(frozen=True, slots=True)
class EmulatedBot:
    id: str
    name: str
    description: str
    greeting: str
    script: Script
    faults: Faults = field(default_factory=lambda: Faults(delta_delay=DEFAULT_DELTA_DELAY))


DEMO_BOTS: list[EmulatedBot] = [
    EmulatedBot(
        id=DEMO_BOT_ID,
        name="Demo",
        description="Answers in markdown, remembers the conversation, streams word by word.",
        greeting="Hi! I am the offline demo bot. Ask me anything, or try /long, /slow, /fail or /error.",
        script=demo_script,
    ),
    EmulatedBot(
        id=TOOL_BOT_ID,
        name="Weather tool demo",
        description="Calls a get_weather tool that the client must run (requires_action).",
        greeting="Ask me about the weather in a city, e.g. “What is the weather in Paris?”",
        script=weather_script,
    ),
    EmulatedBot(
        id=SLOW_BOT_ID,
        name="Slow demo",
        description="Waits a second before answering, then streams slowly.",
        greeting="I take my time: one second to start, then a word every 0.2 s.",
        script=demo_script,
        faults=Faults(first_delay=1.0, delta_delay=0.2),
    ),
    EmulatedBot(
        id=FAILING_BOT_ID,
        name="Failing demo",
        description="Starts to answer, then the chat fails (last_error 5000).",
        greeting="I always fail part-way through, so you can see how errors look.",
        script=failing_script,
    ),
]
