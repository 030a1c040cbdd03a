"""Start a real ``botport serve`` (demo mode) and a headless Chromium; shared by the browser tests and
``screenshots.py``."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Request, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 90.0
DEFAULT_TIMEOUT_MS = 20_000


def to_stop(question: str) -> str:
    """A ``/slow`` question whose answer a test stops: the demo bot quotes it, so 80 more words keep it
    streaming well past a minute, and a loaded machine never sees it end before the click."""
    return f"/slow {question} " + " ".join(f"word{i}" for i in range(80))


try:  # under pytest (tests/ on sys.path): a port no other xdist worker is handed, see live_server.py
    from live_server import free_port
except ImportError:  # screenshots.py, run on its own

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def demo_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any botport setting (so: no token, demo mode)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BOTPORT_")}
    env["BOTPORT_DATA_DIR"] = str(data_dir)
    return env


@contextmanager
def running_botport(data_dir: Path, **settings: str) -> Iterator[str]:
    """``botport serve`` on a free loopback port in demo mode; yields its base URL. ``settings`` are
    more BOTPORT_ variables (``turns_per_minute="1"``)."""
    port = free_port()
    command = [sys.executable, "-c", "from botport.cli import app; app()", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    log_path = data_dir / "serve.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        env = demo_env(data_dir) | {f"BOTPORT_{name.upper()}": value for name, value in settings.items()}
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, process, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"botport serve exited ({process.returncode}):\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"botport serve did not become healthy:\n{log_path.read_text()}")


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


class RequestLog:
    """Every URL the page asked for (to prove it never contacts another origin)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def record(self, request: Request) -> None:
        self.urls.append(request.url)

    def foreign(self, base_url: str) -> list[str]:
        own = urlsplit(base_url).netloc
        return [url for url in self.urls if not url.startswith("data:") and urlsplit(url).netloc != own]


def new_context(browser: Browser, base_url: str, **options: Any) -> BrowserContext:
    options.setdefault("viewport", {"width": 1280, "height": 800})
    options.setdefault("locale", "en-US")
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context


def open_page(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_selector("html[data-ready='true']")


@contextmanager
def ready_page(context: BrowserContext, path: str = "/") -> Iterator[Page]:
    """A new page of ``context`` on ``path``, loaded and ready (config, bots and conversations fetched);
    on a normal exit, asserts that no script error was thrown in it."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_page(page, path)
    yield page
    assert errors == [], f"errors in the page: {errors}"


@contextmanager
def own_page(browser: Browser, base_url: str, **options: Any) -> Iterator[Page]:
    """A :func:`ready_page` in a browser context of its own (``options`` as :func:`new_context`'s), for a
    server of the test's own or other browser settings; the context is closed afterwards."""
    context = new_context(browser, base_url, **options)
    try:
        with ready_page(context) as page:
            yield page
    finally:
        context.close()


def ask(page: Page, question: str) -> None:
    box = page.locator("#composer-input")
    box.fill(question)
    box.press("Enter")


def last_answer(page: Page) -> Locator:
    return page.locator(".message.assistant").last


def start_conversation(page: Page, question: str) -> str:
    """Ask `question` in a new chat; the conversation's URL once its answer is complete."""
    page.locator("#new-chat").click()
    ask(page, question)
    expect(page.locator(".message.assistant").last).to_have_attribute("data-status", "completed")
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]+$"))
    return page.url
