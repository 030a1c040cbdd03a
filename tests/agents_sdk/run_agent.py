"""Run one OpenAI Agents SDK agent against botport's /v1, in the SDK's own virtual environment.

Reads a JSON spec on stdin: ``{"base_url", "key", "api": "responses" | "chat", "bot", "questions": [...],
"stream": bool, "weather_tool": bool, "image_url": "data:..." | null}``. Each question after the first
continues the run before it (``to_input_list()``, as the SDK's docs show). Prints one JSON object:
``{"answers": [...], "tool_calls": [...cities...], "events": [...counts...]}``; an exception is
printed as ``{"error": "Type: message"}``.
"""

import asyncio
import json
import sys

from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

set_tracing_disabled(True)  # no traces sent to OpenAI's servers (there is no network anyway)


async def main(spec):
    client = AsyncOpenAI(base_url=spec["base_url"], api_key=spec["key"], max_retries=0, timeout=60)
    model_class = OpenAIResponsesModel if spec["api"] == "responses" else OpenAIChatCompletionsModel
    cities = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city, now."""
        cities.append(city)
        return f"Sunny, 21 C in {city}"

    agent = Agent(
        name="botport test",
        instructions="Answer briefly.",
        model=model_class(spec["bot"], client),
        tools=[get_weather] if spec.get("weather_tool") else [],
    )
    answers, events, history = [], [], []
    for index, question in enumerate(spec["questions"]):
        if index == 0 and spec.get("image_url"):
            content = [
                {"type": "input_text", "text": question},
                {"type": "input_image", "image_url": spec["image_url"], "detail": "auto"},
            ]
        else:
            content = question
        given = [*history, {"role": "user", "content": content}]
        if spec.get("stream"):
            run = Runner.run_streamed(agent, given)
            kinds = {}
            async for event in run.stream_events():
                kinds[event.type] = kinds.get(event.type, 0) + 1
            events.append(kinds)
        else:
            run = await Runner.run(agent, given)
        answers.append(run.final_output)
        history = run.to_input_list()
    return {"answers": answers, "tool_calls": cities, "events": events}


if __name__ == "__main__":
    try:
        result = asyncio.run(main(json.load(sys.stdin)))
    except Exception as exc:  # the test reads it: which error, said by the SDK or by botport
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))
