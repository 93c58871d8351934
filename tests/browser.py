"""Debian's Chromium, headless, driven over the DevTools protocol (aiohttp's websocket).

``make test`` installs the ``chromium`` package; missing means skipped with the reason,
except under CI=true, where it fails (as for the Prometheus tools).

``open_page`` loads a file, gathers what a person would see as a problem (console
errors and warnings, uncaught exceptions, the browser's own error log) and every
request that leaves the file, and saves a full-page screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

START_SECONDS = 30.0
WIDTH = 1280
MAX_HEIGHT = 16_000


def chromium() -> str:
    """The path of Chromium, or a skip (a failure under CI=true)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = "chromium is not installed (make test installs Debian's chromium package)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true: the browser tests must run")
        pytest.skip(reason)
    return path


@dataclass
class Visit:
    """What one page load showed: problems, outside requests and values asked of the DOM."""

    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


class _Session:
    def __init__(self, socket: aiohttp.ClientWebSocketResponse, visit: Visit) -> None:
        self.socket, self.visit, self.next_id = socket, visit, 0
        self.loaded = asyncio.Event()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id
        await self.socket.send_json({"id": wanted, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.socket.receive_json(), START_SECONDS)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.event(message)

    def event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Page.loadEventFired":
            self.loaded.set()
        elif method == "Runtime.consoleAPICalled" and params["type"] in (
                "error", "warning", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in
                            params.get("args", []))
            self.visit.problems.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            self.visit.problems.append(f"exception: {params['exceptionDetails']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            entry = params["entry"]
            self.visit.problems.append(f"log {entry['level']}: {entry['text']}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file://", "data:", "about:")):
                self.visit.requests.append(url)

    async def wait_loaded(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not self.loaded.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("the page did not finish loading")
            message = await asyncio.wait_for(self.socket.receive_json(), START_SECONDS)
            self.event(message)


async def _visit(port: int, page: Path, screenshot: Path, expressions: dict[str, str]
                 ) -> Visit:
    visit = Visit()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
            targets = await answer.json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        async with http.ws_connect(url, max_msg_size=0) as socket:
            session = _Session(socket, visit)
            for domain in ("Runtime", "Log", "Network", "Page"):
                await session.call(f"{domain}.enable")
            await session.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900,
                               deviceScaleFactor=1, mobile=False)
            await session.call("Page.navigate", url=page.resolve().as_uri())
            await session.wait_loaded()
            for name, expression in expressions.items():
                found = await session.call("Runtime.evaluate", expression=expression,
                                           returnByValue=True)
                visit.values[name] = found["result"].get("value")
            size = (await session.call("Page.getLayoutMetrics"))["cssContentSize"]
            height = min(int(size["height"]) + 1, MAX_HEIGHT)
            shot = await session.call("Page.captureScreenshot", format="png",
                                      captureBeyondViewport=True, clip={
                                          "x": 0, "y": 0, "width": WIDTH, "height": height,
                                          "scale": 1})
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            await asyncio.sleep(0.2)  # late messages of the load
            while not socket.closed:
                try:
                    message = await asyncio.wait_for(socket.receive_json(), 0.2)
                except (TimeoutError, TypeError, ValueError):
                    break
                session.event(message)
    return visit


def open_page(page: Path, screenshot: Path, expressions: dict[str, str] | None = None
              ) -> Visit:
    """Load ``page`` in headless Chromium with no network, screenshot it whole."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="driftline-chromium-") as profile:
        args = [binary, "--headless", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--remote-debugging-port=0",
                f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # root in a container has no user namespace
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + START_SECONDS
            while not port_file.exists() or not port_file.read_text().strip():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chromium did not start (exit {process.poll()})")
                time.sleep(0.05)
            port = int(port_file.read_text().split()[0])
            return asyncio.run(_visit(port, page, screenshot, expressions or {}))
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
