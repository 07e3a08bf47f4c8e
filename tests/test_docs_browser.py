"""``/docs`` renders in a real browser (issue 7 point 6): headless Chromium loads the gateway's
Swagger UI in front of the whole stack and lists every operation of the merged OpenAPI.

The stack runs in this process (tests/test_permissions.py's ``running_stack``: the four services
and the gateway on real PostgreSQL). Chromium is driven over its DevTools protocol with aiohttp's
websocket client (a gateway dependency already), so the test waits for Swagger UI to finish instead
of guessing a delay. Chromium resolves no host name at all (``--host-resolver-rules``), like a
browser on an office intranet without Internet access: the page must come whole from the gateway,
with no CDN.

Chromium is a system package, not a Python one: ``.ci/run`` installs Debian's ``chromium`` when it
is missing. Elsewhere the test looks for ``GK_CHROMIUM`` (a path), then ``chromium``,
``chromium-browser``, ``google-chrome`` on the PATH, and fails (never skips) when there is none.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from gongkai_gateway.settings import UPSTREAMS
from test_permissions import migrate_stack, running_stack

HAN = re.compile(r"[\u4e00-\u9fff]")
OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Swagger UI builds a few hundred operations on a loaded 2-core machine: generous.
RENDER_TIMEOUT_SECONDS = 150.0
#: Operations a person looks for first, with their readable ids (the contract every client uses).
KNOWN_OPERATIONS = {
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/catalog/search"),
    ("POST", "/api/v1/requests/applications"),
}


def chromium_path() -> str:
    configured = os.environ.get("GK_CHROMIUM")
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            pytest.fail(f"GK_CHROMIUM={configured} is not an executable file")
        return configured
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    pytest.fail(
        "no Chromium or Chrome found (tried GK_CHROMIUM, then " + ", ".join(BROWSERS) + " on the PATH). "
        "This test renders /docs in a real browser. Install one: on Debian or Ubuntu "
        "`sudo apt-get install --no-install-recommends chromium` (.ci/run does this), "
        "or set GK_CHROMIUM to the browser's executable."
    )


class DevTools:
    """A minimal Chrome DevTools protocol client over one page's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = self._pending.pop(data["id"], None) if "id" in data else None
            if future is None:
                self.events.append(data)
            elif not future.done():
                if "error" in data:
                    future.set_exception(RuntimeError(f"DevTools: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RuntimeError("the browser closed the DevTools connection"))

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        await self._ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        return await asyncio.wait_for(future, timeout=60)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def headless_chromium(executable: str, profile: Path) -> AsyncIterator[DevTools]:
    """Chromium without a window, resolving no host name, driven over DevTools; its one page."""
    log = (profile.parent / "chromium.log").open("wb")
    args = [
        executable,
        "--headless=new",
        "--no-sandbox",  # the CI machine runs tests as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # No DNS at all, like an intranet without Internet access: a CDN address fails to load.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--window-size=1280,1600",
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "about:blank",
    ]
    browser = await asyncio.create_subprocess_exec(
        *args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
    )
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(600):
            if port_file.exists() and len(port_file.read_text().split()) >= 2:
                break
            if browser.returncode is not None:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("Chromium did not open its DevTools port within 60 s")
        if browser.returncode is not None:
            log.flush()
            tail = (profile.parent / "chromium.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"Chromium exited with {browser.returncode}:\n{tail}")
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as r:
                targets = await r.json()
            page = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                devtools = DevTools(ws)
                try:
                    yield devtools
                finally:
                    await devtools.close()
    finally:
        if browser.returncode is None:
            browser.terminate()
            try:
                await asyncio.wait_for(browser.wait(), timeout=10)
            except TimeoutError:
                browser.kill()
                await browser.wait()
        log.close()


# What Swagger UI shows: each operation block with its method, path, summary and operation id.
_RENDERED = """
(() => {
  const text = (el, sel) => { const e = el.querySelector(sel); return e ? e.textContent.trim() : null; };
  const blocks = Array.from(document.querySelectorAll('.opblock'));
  return {
    title: text(document, '.information-container .title'),
    authorize: document.querySelectorAll('.auth-wrapper .authorize').length,
    failure: text(document, '.errors-wrapper') || text(document, '.loading-container .errors'),
    operations: blocks.map(b => ({
      method: text(b, '.opblock-summary-method'),
      path: (b.querySelector('.opblock-summary-path') || {getAttribute: () => null}).getAttribute('data-path'),
      summary: text(b, '.opblock-summary-description'),
      operation_id: text(b, '.opblock-summary-operation-id'),
    })),
  };
})()
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


@pytest.fixture(scope="module")
def databases() -> dict[str, str]:
    return migrate_stack()  # synchronous: the migrations run their own event loop


@pytest.fixture(scope="module")
async def gateway(databases: dict[str, str]) -> AsyncIterator[str]:
    async with running_stack(databases) as url:
        yield url


async def test_docs_renders_every_operation_of_the_merged_openapi_in_headless_chromium(
    chromium: str, gateway: str, tmp_path: Path
) -> None:
    """(``chromium`` first: without a browser the test fails with the install hint before the stack starts.)"""
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        doc = (await client.get("/openapi.json")).json()
        assert doc["info"]["x-unavailable-services"] == []
        expected = {
            (method.upper(), path): op
            for path, item in doc["paths"].items()
            for method, op in item.items()
            if method in OPENAPI_METHODS
        }
        profile = tmp_path / "profile"
        profile.mkdir()
        async with headless_chromium(chromium, profile) as page:
            await page.call("Network.enable")
            await page.call("Page.enable")
            await page.call("Page.navigate", url=f"{gateway}/docs")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + RENDER_TIMEOUT_SECONDS
            rendered: dict[str, Any] = {}
            while loop.time() < deadline:
                rendered = await page.evaluate(_RENDERED) or {}
                if rendered.get("failure") or len(rendered.get("operations", ())) >= len(expected):
                    break
                if any(e.get("method") == "Network.loadingFailed" for e in page.events):
                    break  # a file of the page did not load: it will not render (asserted below)
                await asyncio.sleep(0.5)
            shot = await page.call("Page.captureScreenshot", format="png")
            (tmp_path / "docs.png").write_bytes(base64.b64decode(shot["data"]))
            events = list(page.events)

    requested = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    failed = [
        (e["params"].get("errorText"), e["params"]["requestId"])
        for e in events
        if e.get("method") == "Network.loadingFailed"
    ]
    # Everything the page needs comes from the gateway itself: nothing from a CDN.
    elsewhere = [u for u in requested if not u.startswith((gateway + "/", "data:"))]
    assert not elsewhere, f"/docs loads files from outside the gateway (an intranet cannot): {elsewhere}"
    assert f"{gateway}/openapi.json" in requested
    assert not failed, f"loads failed: {failed}"
    assert not rendered.get("failure"), f"Swagger UI could not render the document: {rendered['failure']}"

    operations = rendered["operations"]
    shown = {(o["method"].upper(), o["path"]) for o in operations if o["method"] and o["path"]}
    assert shown == set(expected), (
        f"missing: {sorted(set(expected) - shown)[:20]}; unexpected: {sorted(shown - set(expected))[:20]}"
    )
    # Each service's operations are there (the merged document, not only the gateway's own).
    for service in UPSTREAMS:
        assert any(path.startswith(f"/api/v1/{service}/") for _, path in shown), service
    # Each block shows its operation's summary and readable id as the document states them.
    wrong = [
        f"{o['method']} {o['path']}: {o['summary']!r} / {o['operation_id']!r}"
        for o in operations
        if (op := expected[(o["method"].upper(), o["path"])])
        and (o["summary"] != (op.get("summary") or "") or o["operation_id"] != op.get("operationId"))
    ]
    assert not wrong, "\n".join(wrong[:20])
    for key in KNOWN_OPERATIONS:
        block = next(o for o in operations if (o["method"].upper(), o["path"]) == key)
        assert HAN.search(block["summary"]), f"{key}: summary in Chinese, got {block['summary']!r}"
        assert block["operation_id"] == expected[key]["operationId"]
    assert rendered["title"] and rendered["title"].startswith(doc["info"]["title"])
    assert rendered["authorize"] >= 1, "the Authorize button (password sign-in) is shown"


async def test_the_docs_assets_are_served_by_the_gateway(gateway: str) -> None:
    """The page names only the gateway's own files; each is served with its type and is cacheable."""
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        html = (await client.get("/docs")).text
        names = re.findall(r"""(?:src|href)=['"](/docs/assets/[^'"?]+)\?v=[^'"]+['"]""", html)
        assert sorted(names) == [f"/docs/assets/{n}" for n in ("favicon.png", "swagger-ui-bundle.js", "swagger-ui.css")]
        assert not re.search(r"""(?:src|href)=['"]https?:""", html), "no file from another site"
        for name, kind in zip(sorted(names), ("image/png", "text/javascript", "text/css"), strict=True):
            r = await client.get(name)
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
            assert "max-age" in r.headers["cache-control"] and len(r.content) > 1000
        # Only the listed files: not another file of the package's folder, not a made-up name.
        for wrong in ("/docs/assets/redoc.standalone.js", "/docs/assets/__init__.py", "/docs/assets/index.html"):
            r = await client.get(wrong)
            assert r.status_code == 404, wrong
