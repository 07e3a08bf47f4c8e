"""Trusted proxies (issue 7, the edge): ``X-Forwarded-For`` / ``-Host`` / ``-Proto`` are believed only
from the peers of ``GK_GATEWAY_TRUSTED_PROXIES``; from anyone else they are dropped before anything
reads them, and the peer's own address counts for the per-address rate limits.

Real servers: the gateway (in this process, and once as the real ``python -m gongkai_gateway api``
command) in front of an echo service that shows what reached it, on real PostgreSQL. Callers come
from distinct loopback addresses (127.0.0.2, 127.0.0.3: the whole 127.0.0.0/8 is the loopback
interface), so one machine plays a proxy, a direct caller and the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import migrate
from gongkai_gateway.app import create_app as create_gateway_app
from gongkai_gateway.forwarded import TrustedProxies
from gongkai_gateway.settings import DEFAULT_TRUSTED_PROXIES, GatewaySettings, RateLimitRule
from pydantic import ValidationError
from test_gateway import assert_problem, echo_app, serve

PROXY = "127.0.0.2"  # a reverse proxy in front of the gateway (when trusted)
STRANGER = "127.0.0.3"  # another peer, never trusted here
ECHO = r"/api/v1/requests/echo/.*"
LIMIT = 3


@pytest.fixture(scope="module")
def database() -> str:
    return migrate("gateway")


@pytest.fixture(scope="module")
async def echo() -> AsyncIterator[str]:
    async with serve(echo_app()) as url:
        yield url


def _dead() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: refused
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def gateway(database: str, echo: str, route_class: str, **settings: Any) -> AsyncIterator[str]:
    """The gateway in this process with the echo service as ``requests`` and ``route_class`` limiting
    GET /api/v1/requests/echo/… to LIMIT per address (a class of its own: counters are per class)."""
    dead = _dead()
    config = GatewaySettings(
        database_url=database,
        catalog_url=dead,
        requests_url=echo,
        interpretation_url=dead,
        sentiment_url=dead,
        rate_limits={route_class: RateLimitRule(methods=["GET"], path=ECHO, limit=LIMIT, window_seconds=600)},
        **settings,
    )
    async with serve(create_gateway_app(config)) as url:
        yield url


def client_from(address: str, base_url: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (a loopback address of this machine)."""
    return httpx.AsyncClient(base_url=base_url, transport=httpx.AsyncHTTPTransport(local_address=address), timeout=15)


def seen_headers(r: httpx.Response) -> dict[str, str]:
    """The headers the echo service received, as it answered them."""
    assert r.status_code == 201, r.text
    return dict(r.json()["headers"])


async def test_forged_forwarding_headers_from_an_untrusted_peer_are_dropped_and_do_not_dodge_the_limit(
    database: str, echo: str, unique: str
) -> None:
    async with gateway(database, echo, f"untrusted{unique}", trusted_proxies=["127.0.0.1/32"]) as url:
        host = url.removeprefix("http://")
        async with client_from(PROXY, url) as caller, client_from(STRANGER, url) as other:
            answers = []
            for i in range(LIMIT + 1):
                forged = {
                    "X-Forwarded-For": f"203.0.113.{i + 1}",  # a new address each time
                    "X-Forwarded-Host": "attacker.example",
                    "X-Forwarded-Proto": "https",
                    "Forwarded": f"for=203.0.113.{i + 1};host=attacker.example;proto=https",
                    "X-Real-IP": f"203.0.113.{i + 1}",
                }
                answers.append(await caller.get(f"/api/v1/requests/echo/{i}", headers=forged))
            # Counted against the peer's own address: the last is refused whatever it claimed.
            assert [r.status_code for r in answers] == [201] * LIMIT + [429]
            assert_problem(answers[-1], 429, "rate_limited")
            assert 1 <= int(answers[-1].headers["retry-after"]) <= 600
            # Nothing of the forgery reached the service: the peer, the gateway's own host and scheme.
            seen = seen_headers(answers[0])
            assert seen["x-forwarded-for"] == PROXY
            assert seen["x-forwarded-host"] == host
            assert seen["x-forwarded-proto"] == "http"
            assert "forwarded" not in seen and "x-real-ip" not in seen
            # The limit is the peer's: another peer is still served.
            assert (await other.get("/api/v1/requests/echo/other")).status_code == 201


async def test_a_trusted_proxy_is_believed_for_the_callers_address_scheme_and_host(
    database: str, echo: str, unique: str
) -> None:
    async with gateway(database, echo, f"trusted{unique}", trusted_proxies=[f"{PROXY}/32"]) as url:
        async with client_from(PROXY, url) as proxy, client_from(STRANGER, url) as stranger:
            behind = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gongkai.example.gov.cn"}
            first = await proxy.get("/api/v1/requests/echo/0", headers={**behind, "X-Forwarded-For": "198.51.100.7"})
            seen = seen_headers(first)
            # The service learns the caller (then the proxy), and builds its links for the public host.
            assert seen["x-forwarded-for"] == f"198.51.100.7, {PROXY}"
            assert seen["x-forwarded-proto"] == "https"
            assert seen["x-forwarded-host"] == "gongkai.example.gov.cn"
            for i in range(1, LIMIT):
                r = await proxy.get(f"/api/v1/requests/echo/{i}", headers={"X-Forwarded-For": "198.51.100.7"})
                assert r.status_code == 201
            # The caller's limit is used up; a caller that wrote an address of its choosing before the
            # one the proxy appended is still that caller.
            for chain in ("198.51.100.7", "192.0.2.99, 198.51.100.7"):
                r = await proxy.get("/api/v1/requests/echo/again", headers={"X-Forwarded-For": chain})
                assert_problem(r, 429, "rate_limited")
            # Another caller behind the same proxy is not blocked with it.
            r = await proxy.get("/api/v1/requests/echo/next", headers={"X-Forwarded-For": "198.51.100.8"})
            assert seen_headers(r)["x-forwarded-for"] == f"198.51.100.8, {PROXY}"
            # The same headers from a peer that is not the proxy are not believed.
            r = await stranger.get("/api/v1/requests/echo/s", headers={**behind, "X-Forwarded-For": "198.51.100.9"})
            seen = seen_headers(r)
            assert seen["x-forwarded-for"] == STRANGER and seen["x-forwarded-proto"] == "http"
            assert seen["x-forwarded-host"] == url.removeprefix("http://")


async def test_by_default_only_loopback_is_trusted(database: str, echo: str, unique: str) -> None:
    """The default suits a reverse proxy on the gateway's own host; a caller elsewhere cannot use it."""
    assert [str(n) for n in GatewaySettings(database_url=database).trusted_proxies] == list(DEFAULT_TRUSTED_PROXIES)
    trusted = TrustedProxies(ipaddress.ip_network(n) for n in DEFAULT_TRUSTED_PROXIES)
    assert trusted.trusts("127.0.0.1") and trusted.trusts("::1") and trusted.trusts("::ffff:127.0.0.1")
    assert not trusted.trusts("10.0.0.1") and not trusted.trusts("192.168.1.1") and not trusted.trusts("unknown")
    async with gateway(database, echo, f"default{unique}") as url, client_from(PROXY, url) as local_proxy:
        r = await local_proxy.get("/api/v1/requests/echo/x", headers={"X-Forwarded-For": "198.51.100.20"})
        assert seen_headers(r)["x-forwarded-for"] == f"198.51.100.20, {PROXY}"


def test_the_callers_address_is_the_right_most_one_no_trusted_proxy_wrote() -> None:
    trusted = TrustedProxies([ipaddress.ip_network("10.0.0.0/8")])
    assert trusted.client("10.0.0.1", ["198.51.100.7"]) == "198.51.100.7"
    assert trusted.client("10.0.0.1", ["192.0.2.1", "198.51.100.7", "10.0.0.2"]) == "198.51.100.7"
    assert trusted.client("10.0.0.1", ["198.51.100.7:4711"]) == "198.51.100.7"
    assert trusted.client("10.0.0.1", ["[2001:db8::7]:4711"]) == "2001:db8::7"
    # Only proxies: the left-most. Not an address: never believed as the caller, the hop before it is.
    assert trusted.client("10.0.0.1", ["10.0.0.3", "10.0.0.2"]) == "10.0.0.3"
    assert trusted.client("10.0.0.1", ["198.51.100.7", "unknown"]) == "10.0.0.1"
    assert trusted.client("10.0.0.1", ["unknown", "10.0.0.2"]) == "10.0.0.2"


def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch, database: str) -> None:
    monkeypatch.setenv("GK_GATEWAY_DATABASE_URL", database)
    monkeypatch.setenv("GK_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32")
    assert [str(n) for n in GatewaySettings().trusted_proxies] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    monkeypatch.setenv("GK_GATEWAY_TRUSTED_PROXIES", '["172.18.0.1"]')
    assert [str(n) for n in GatewaySettings().trusted_proxies] == ["172.18.0.1/32"]
    monkeypatch.setenv("GK_GATEWAY_TRUSTED_PROXIES", "")
    assert GatewaySettings().trusted_proxies == []
    for wrong in ("10.0.0.1/8", "proxy.internal"):
        monkeypatch.setenv("GK_GATEWAY_TRUSTED_PROXIES", wrong)
        with pytest.raises(ValidationError) as raised:
            GatewaySettings()
        assert raised.value.errors()[0]["loc"][0] == "trusted_proxies"


async def test_the_api_command_does_not_let_the_server_believe_loopback_on_its_own(
    database: str, echo: str, unique: str, tmp_path: Path
) -> None:
    """``python -m gongkai_gateway api`` as deployed: uvicorn would believe X-Forwarded-For from
    127.0.0.1 by itself; with no trusted proxy configured, a forged one from 127.0.0.1 changes nothing."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    dead = _dead()
    limits = {f"cmd{unique}": {"methods": ["GET"], "path": ECHO, "limit": 2, "window_seconds": 600}}
    env = {
        **os.environ,
        "GK_GATEWAY_DATABASE_URL": database,
        "GK_GATEWAY_TRUSTED_PROXIES": "",
        "GK_GATEWAY_RATE_LIMITS": json.dumps(limits),
        "GK_GATEWAY_REQUESTS_URL": echo,
        **{f"GK_GATEWAY_{s}_URL": dead for s in ("CATALOG", "INTERPRETATION", "SENTIMENT")},
    }
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gongkai_gateway", "api", "--port", str(port),
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            for _ in range(240):  # a process start costs seconds here (imports)
                assert process.returncode is None, log.read_text(errors="replace")[-2000:]
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.25)
            codes = []
            for i in range(3):
                r = await client.get(f"/api/v1/requests/echo/{i}", headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})
                codes.append(r.status_code)
                if i == 0:
                    assert seen_headers(r)["x-forwarded-for"] == "127.0.0.1"
            assert codes == [201, 201, 429]
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()
