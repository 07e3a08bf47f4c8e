"""The gateway's edge (issue 7): sessions with refresh tokens, failed sign-in slowdown, API keys with
scopes, public rate limits, webhooks (signed, retried in order, paused, SSRF-guarded), metrics.

Real PostgreSQL and NATS; the gateway, a stand-in upstream and a webhook receiver run under uvicorn
in this process; the gateway worker (relay, consumers, dispatcher) runs as a task. Nothing mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from conftest import migrate
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from gongkai_gateway import worker
from gongkai_gateway.app import create_app as create_gateway_app
from gongkai_gateway.netguard import address_refused
from gongkai_gateway.settings import GatewaySettings, RateLimitRule
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.errors import Unauthorized
from gongkai_shared.events import Namespace, new_envelope
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

PROBLEM_JSON = "application/problem+json"
ADMIN, ADMIN_PASSWORD = "edge-admin", "correct-horse-battery-staple"
PASSWORD = "a-long-enough-password"
FREE_FAILURES = 3
PAUSE_AFTER = 3.0


# -- servers --------------------------------------------------------------------------------------


def _bound_socket(host: str = "127.0.0.1") -> socket.socket:
    # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on accepted connections (with proto 0 every
    # answer waited ~40 ms for a delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((host, 0))
    return sock


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    sock = _bound_socket()
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def upstream_app() -> FastAPI:
    """A stand-in service: shows the Authorization it got; ``/follow`` knows no tracking code."""
    app = FastAPI()

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.api_route("/echo/{rest:path}", methods=["GET", "POST"])
    async def echo(request: Request) -> dict[str, Any]:
        return {"authorization": request.headers.get("authorization"), "x_api_key": request.headers.get("x-api-key")}

    @app.get("/search")
    async def search() -> dict[str, list[str]]:
        return {"items": []}

    @app.post("/follow")
    async def follow(request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("tracking_code") == "GOOD":
            return JSONResponse({"status": "received"})
        return JSONResponse({"code": "not_found"}, status_code=404, media_type=PROBLEM_JSON)

    return app


class Receiver:
    """A webhook receiver: fails the first ``fail_first`` requests with 500, records the others."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False) -> None:
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.calls = 0
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> JSONResponse:
            self.calls += 1
            body = await request.body()
            if self.always_fail or self.calls <= self.fail_first:
                return JSONResponse({"error": "down"}, status_code=500)
            self.received.append((dict(request.headers), body))
            return JSONResponse({"ok": True})


def verify_signature(secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does: recompute the HMAC over timestamp + "." + body, refuse old timestamps."""
    timestamp = headers["x-gongkai-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-gongkai-signature"], f"v1={expected}")


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database() -> str:
    return migrate("gateway")


@pytest.fixture(scope="module")
async def upstream() -> AsyncIterator[str]:
    async with serve(upstream_app()) as url:
        yield url


@pytest.fixture(scope="module")
def settings(database: str, upstream: str) -> GatewaySettings:
    dead = f"http://127.0.0.1:{_bound_socket().getsockname()[1]}"
    return GatewaySettings(
        database_url=database,
        catalog_url=upstream,
        requests_url=upstream,
        interpretation_url=dead,
        sentiment_url=dead,
        admin_username=ADMIN,
        admin_password=ADMIN_PASSWORD,
        sign_in_free_failures=FREE_FAILURES,
        sign_in_lock_base_seconds=30,
        sign_in_free_failures_per_address=10_000,  # every test here comes from 127.0.0.1
        rate_limits={
            "search": RateLimitRule(methods=["GET"], path=r"/api/v1/catalog/search", limit=3, window_seconds=60),
            "follow": RateLimitRule(methods=["POST"], path=r"/api/v1/requests/follow", limit=100, window_seconds=60),
            "follow_failures": RateLimitRule(
                methods=["POST"], path=r"/api/v1/requests/follow", limit=2, window_seconds=3600
            ),
        },
        cors_origins=["https://portal.example.gov.cn"],
        webhook_poll_seconds=0.1,
        webhook_backoff_initial_seconds=0.2,
        webhook_backoff_max_seconds=0.5,
        webhook_pause_after_seconds=PAUSE_AFTER,
        webhook_timeout_seconds=3,
        relay_poll_seconds=0.1,
    )


@pytest.fixture(scope="module")
async def gateway(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_gateway_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
async def gateway_worker(settings: GatewaySettings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.main(settings, stop))
    await asyncio.sleep(1.0)  # consumers subscribe
    yield
    stop.set()
    await asyncio.wait_for(task, timeout=20)


@pytest.fixture(scope="module")
async def db(database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def admin(gateway: httpx.AsyncClient) -> dict[str, str]:
    r = await gateway.post("/api/v1/auth/token", data={"username": ADMIN, "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    body = r.json()
    if code is not None:
        assert body["code"] == code, body
    return body


async def new_user(gateway: httpx.AsyncClient, admin: dict[str, str], username: str) -> None:
    body = {"username": username, "password": PASSWORD, "roles": ["office"]}
    r = await gateway.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 201, r.text


async def sign_in(gateway: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await gateway.post("/api/v1/auth/token", data={"username": username, "password": password})


async def wait_for(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# -- people: access and refresh tokens ------------------------------------------------------------


async def test_access_token_is_short_lived_with_an_audience_and_wrong_audience_is_refused(
    gateway: httpx.AsyncClient, unique: str, admin: dict[str, str]
) -> None:
    await new_user(gateway, admin, f"aud-{unique}")
    body = (await sign_in(gateway, f"aud-{unique}")).json()
    assert body["expires_in"] == 15 * 60 and body["refresh_expires_in"] == 14 * 86_400
    secret = os.environ["GK_JWT_SECRET"]
    assert TokenSigner(secret).verify(body["access_token"]).roles == {Role.office}
    with pytest.raises(Unauthorized) as refused:
        TokenSigner(secret, audience="another-system").verify(body["access_token"])
    assert refused.value.instance_code == "token_wrong_audience"
    foreign = TokenSigner(secret, audience="another-system").issue(
        Principal(subject="x", roles=frozenset({Role.admin}))
    )
    r = await gateway.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {foreign}"})
    assert_problem(r, 401, "token_wrong_audience")


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_whole_family(
    gateway: httpx.AsyncClient, unique: str, admin: dict[str, str]
) -> None:
    await new_user(gateway, admin, f"rot-{unique}")
    first = (await sign_in(gateway, f"rot-{unique}")).json()["refresh_token"]
    r = await gateway.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200, r.text
    second = r.json()["refresh_token"]
    assert second != first
    me = await gateway.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.status_code == 200

    # The first token again: stolen or replayed. Refused, and the thief's and the owner's newest die too.
    assert_problem(await gateway.post("/api/v1/auth/refresh", json={"refresh_token": first}), 401)
    assert_problem(await gateway.post("/api/v1/auth/refresh", json={"refresh_token": second}), 401)
    # Another session of the same user is a different family: untouched.
    other = (await sign_in(gateway, f"rot-{unique}")).json()["refresh_token"]
    assert (await gateway.post("/api/v1/auth/refresh", json={"refresh_token": other})).status_code == 200
    assert_problem(
        await gateway.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 43}), 401, "refresh_token_invalid"
    )


async def test_sign_out_and_password_change_revoke_refresh_tokens(
    gateway: httpx.AsyncClient, unique: str, admin: dict[str, str]
) -> None:
    user = f"out-{unique}"
    await new_user(gateway, admin, user)
    session = (await sign_in(gateway, user)).json()
    auth = {"Authorization": f"Bearer {session['access_token']}"}
    r = await gateway.post("/api/v1/auth/logout", json={"refresh_token": session["refresh_token"]}, headers=auth)
    assert r.status_code == 204, r.text
    assert_problem(await gateway.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}), 401)

    a, b = (await sign_in(gateway, user)).json(), (await sign_in(gateway, user)).json()
    auth = {"Authorization": f"Bearer {a['access_token']}"}
    wrong = await gateway.post(
        "/api/v1/auth/password", json={"current_password": "not-the-password", "new_password": "x" * 14}, headers=auth
    )
    assert {e["field"] for e in assert_problem(wrong, 422)["errors"]} == {"body.current_password"}
    assert (await gateway.post("/api/v1/auth/refresh", json={"refresh_token": a["refresh_token"]})).status_code == 200
    new_password = "another-long-password"
    r = await gateway.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": new_password}, headers=auth
    )
    assert r.status_code == 204, r.text
    # Every device signs in again.
    assert_problem(await gateway.post("/api/v1/auth/refresh", json={"refresh_token": b["refresh_token"]}), 401)
    assert_problem(await sign_in(gateway, user), 401, "invalid_credentials")
    assert (await sign_in(gateway, user, new_password)).status_code == 200


async def test_repeated_failed_sign_ins_are_slowed_without_revealing_who_exists(
    gateway: httpx.AsyncClient, unique: str, admin: dict[str, str]
) -> None:
    existing, ghost = f"slow-{unique}", f"ghost-{unique}"
    await new_user(gateway, admin, existing)
    answers: dict[str, list[tuple[int, str]]] = {existing: [], ghost: []}
    for name in (existing, ghost):
        for _ in range(FREE_FAILURES + 2):
            r = await sign_in(gateway, name, "wrong-password-123")
            answers[name].append((r.status_code, r.json()["code"]))
    # Same sequence for both: the free failures and the one that locks are 401, then 429.
    expected = [(401, "invalid_credentials")] * (FREE_FAILURES + 1) + [(429, "sign_in_locked")]
    assert answers[existing] == expected and answers[ghost] == expected
    locked = await sign_in(gateway, existing)  # even the right password waits
    assert_problem(locked, 429, "sign_in_locked")
    assert 1 <= int(locked.headers["retry-after"]) <= 30


# -- systems: API keys --------------------------------------------------------------------------------


async def test_api_keys_scopes_rotation_and_revocation(
    gateway: httpx.AsyncClient, admin: dict[str, str], unique: str, db: AsyncEngine
) -> None:
    org = uuid.uuid4()
    r = await gateway.post(
        "/api/v1/api-keys",
        json={"name": f"大数据平台-{unique}", "scopes": ["catalog:read"], "organization_ids": [str(org)]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    key = created["key"]
    assert key.startswith("gk_") and created["prefix"] == key[:11]
    async with db.connect() as conn:
        stored = (
            await conn.execute(text("SELECT key_hash FROM api_keys WHERE id = :i"), {"i": created["id"]})
        ).scalar()
    assert stored == hashlib.sha256(key.encode()).hexdigest() and key not in json.dumps(
        (await gateway.get("/api/v1/api-keys", headers=admin)).json()
    )

    # Allowed: a read of the catalog; the upstream sees a signed system principal, never the key.
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        r = await gateway.get("/api/v1/catalog/echo/items", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["x_api_key"] is None
        principal = TokenSigner(os.environ["GK_JWT_SECRET"]).verify(r.json()["authorization"].split()[1])
        assert principal.roles == {Role.system} and principal.subject == f"apikey:{created['id']}"
        assert principal.has_scope("catalog:read") and principal.can_act_for(org)
        assert not principal.can_act_for(uuid.uuid4())
    # Beyond its scope: writing the catalog, reading requests.
    assert_problem(await gateway.post("/api/v1/catalog/echo/items", headers={"X-API-Key": key}), 403, "scope_denied")
    assert_problem(await gateway.get("/api/v1/requests/echo/x", headers={"X-API-Key": key}), 403, "scope_denied")
    # Not the office: keys cannot manage keys.
    assert_problem(await gateway.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {key}"}), 401)

    r = await gateway.post(f"/api/v1/api-keys/{created['id']}/rotate", headers=admin)
    assert r.status_code == 200 and r.json()["key"] != key
    rotated = r.json()["key"]
    assert_problem(await gateway.get("/api/v1/catalog/echo/items", headers={"X-API-Key": key}), 401, "api_key_invalid")
    assert (await gateway.get("/api/v1/catalog/echo/items", headers={"X-API-Key": rotated})).status_code == 200
    r = await gateway.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert_problem(await gateway.get("/api/v1/catalog/echo/items", headers={"X-API-Key": rotated}), 401)

    bad = await gateway.post("/api/v1/api-keys", json={"name": "x", "scopes": ["catalog:delete"]}, headers=admin)
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["body.scopes.0"]


# -- rate limits ------------------------------------------------------------------------------------


async def test_public_search_is_rate_limited_with_retry_after(gateway: httpx.AsyncClient, db: AsyncEngine) -> None:
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM rate_counters WHERE key LIKE 'search|%'"))
    codes = [(await gateway.get("/api/v1/catalog/search", params={"q": "环境"})).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = await gateway.get("/api/v1/catalog/search")
    assert_problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60


async def test_failed_follow_attempts_hit_a_stricter_limit_against_enumeration(
    gateway: httpx.AsyncClient, db: AsyncEngine
) -> None:
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM rate_counters WHERE key LIKE 'follow%'"))
    good = {"tracking_code": "GOOD", "secret": "s"}
    for _ in range(3):  # successes do not count as failures
        assert (await gateway.post("/api/v1/requests/follow", json=good)).status_code == 200
    for code in ("GUESS1", "GUESS2"):
        r = await gateway.post("/api/v1/requests/follow", json={"tracking_code": code, "secret": "s"})
        assert r.status_code == 404
    # Two failures used up the limit: further guesses, and even a right code, wait.
    r = await gateway.post("/api/v1/requests/follow", json={"tracking_code": "GUESS3", "secret": "s"})
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1


async def test_every_anonymous_write_is_in_a_rate_limited_class(db: AsyncEngine) -> None:
    """Public writes (an application, a follow attempt, a consultation comment) are limited per address."""
    from gongkai_gateway.ratelimit import RateLimiter
    from gongkai_gateway.settings import DEFAULT_RATE_LIMITS

    limiter = RateLimiter(db, DEFAULT_RATE_LIMITS)
    consultation = "01a20000-0000-7000-8000-000000000000"
    assert limiter.classify("POST", "/api/v1/requests/applications") == "submit"
    assert limiter.classify("POST", "/api/v1/requests/follow") == "follow"
    assert limiter.classify("POST", f"/api/v1/catalog/consultations/{consultation}/comments") == "comment"
    assert limiter.classify("GET", f"/api/v1/catalog/consultations/{consultation}/comments") is None  # staff read


async def test_rate_limit_counter_cost_per_request(settings: GatewaySettings, db: AsyncEngine) -> None:
    """The shared store's price: one UNLOGGED upsert per limited request (recorded in bench/README.md)."""
    from gongkai_gateway.ratelimit import RateLimiter

    limiter = RateLimiter(db, {"bench": RateLimitRule(methods=["GET"], path="/x", limit=10**9, window_seconds=60)})
    await limiter.hit("bench", "warm-up")
    n = 300
    started = time.perf_counter()
    for i in range(n):
        await limiter.hit("bench", f"10.0.{i % 50}.1")
    per_hit_ms = (time.perf_counter() - started) / n * 1000
    print(f"\nrate-limit upsert: {per_hit_ms:.3f} ms per request (sequential, {n} hits)")
    assert per_hit_ms < 20


# -- webhooks ---------------------------------------------------------------------------------------


async def publish(nc: nats.aio.client.Client, subject_type: str, data: dict[str, Any]) -> str:
    envelope = new_envelope(subject_type, data)
    ns = Namespace(os.environ["GK_EVENT_NAMESPACE"])
    await nc.jetstream().publish(
        ns.subject(envelope.subject), envelope.model_dump_json().encode(), headers={"Nats-Msg-Id": str(envelope.id)}
    )
    return str(envelope.id)


async def subscribe(
    gateway: httpx.AsyncClient, headers: dict[str, str], url: str, filters: list[str], secret: str, **extra: Any
) -> dict[str, Any]:
    body = {"name": "测试订阅", "target_url": url, "filters": filters, "secret": secret, **extra}
    r = await gateway.post("/api/v1/webhooks", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_subscriber_receives_signed_events_and_can_detect_a_forged_one(
    gateway: httpx.AsyncClient, admin: dict[str, str], gateway_worker: None, nc: Any, unique: str
) -> None:
    receiver = Receiver()
    secret = f"secret-{unique}-0123456789"
    async with serve(receiver.app) as url:
        topic = f"t{unique}"
        await subscribe(gateway, admin, f"{url}/hook", [f"catalog.{topic}.*"], secret, allow_private=True)
        event_id = await publish(nc, f"catalog.{topic}.published.v1", {"item_id": str(uuid.uuid4()), "title": "公告"})
        await publish(nc, f"catalog.other{unique}.published.v1", {"x": 1})  # not matched
        await wait_for(lambda: _true(len(receiver.received) >= 1), what="a delivery")
        await asyncio.sleep(0.5)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert headers["x-gongkai-event-id"] == event_id
    assert headers["x-gongkai-event-type"] == f"catalog.{topic}.published.v1"
    assert verify_signature(secret, headers, body)
    payload = json.loads(body)
    assert set(payload) <= {"id", "type", "source", "occurred_at", "correlation_id", "data"}
    assert payload["data"]["title"] == "公告"
    # A forger without the secret: a changed body, or a signature made with another secret, fails.
    assert not verify_signature(secret, headers, body.replace("公告".encode(), "伪造".encode()))
    assert not verify_signature("someone-elses-secret", headers, body)
    stale = {**headers, "x-gongkai-timestamp": str(int(headers["x-gongkai-timestamp"]) - 3600)}
    assert not verify_signature(secret, stale, body)


async def _true(value: bool) -> bool:
    return value


async def test_a_receiver_that_fails_then_recovers_gets_every_event_in_order_per_subject(
    gateway: httpx.AsyncClient, admin: dict[str, str], gateway_worker: None, nc: Any, unique: str
) -> None:
    receiver = Receiver(fail_first=3)
    async with serve(receiver.app) as url:
        topic = f"o{unique}"
        sub = await subscribe(gateway, admin, f"{url}/hook", [f"requests.{topic}.>"], "s" * 20, allow_private=True)
        first = [await publish(nc, f"requests.{topic}.alpha.v1", {"n": i}) for i in range(4)]
        second = [await publish(nc, f"requests.{topic}.beta.v1", {"n": i}) for i in range(3)]
        await wait_for(lambda: _true(len(receiver.received) >= 7), timeout=30, what="all deliveries")
        await asyncio.sleep(0.5)
        log = (await gateway.get(f"/api/v1/webhooks/{sub['id']}/deliveries", headers=admin)).json()
        got = [h["x-gongkai-event-id"] for h, _ in receiver.received]
        assert sorted(got) == sorted(first + second) and len(got) == 7  # each once
        assert [e for e in got if e in first] == first  # in order per subject
        assert [e for e in got if e in second] == second
        assert {d["status"] for d in log} == {"succeeded"}
        assert sum(d["attempts"] for d in log) == 7 + 3  # three failed attempts, logged
        retried = next(d for d in log if d["attempts"] > 1)
        attempts = (
            await gateway.get(f"/api/v1/webhooks/{sub['id']}/deliveries/{retried['id']}/attempts", headers=admin)
        ).json()
        assert attempts[0]["status_code"] == 500 and attempts[-1]["succeeded"] is True

        # Replay one delivery, then every delivery of a time range: sent again, same event ids, in order.
        r = await gateway.post(f"/api/v1/webhooks/{sub['id']}/deliveries/{retried['id']}/replay", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "pending"
        await wait_for(lambda: _true(len(receiver.received) == 8), what="the replay")
        assert receiver.received[-1][0]["x-gongkai-event-id"] == retried["event_id"]
        window = {
            "occurred_from": min(d["occurred_at"] for d in log),
            "occurred_to": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat(),
        }
        r = await gateway.post(f"/api/v1/webhooks/{sub['id']}/replay", json=window, headers=admin)
        assert r.status_code == 200 and r.json() == {"replayed": 7}
        await wait_for(lambda: _true(len(receiver.received) == 15), what="the replayed range")
        again = [h["x-gongkai-event-id"] for h, _ in receiver.received[8:]]
        assert [e for e in again if e in first] == first and [e for e in again if e in second] == second
        bad = await gateway.post(
            f"/api/v1/webhooks/{sub['id']}/replay",
            json={"occurred_from": window["occurred_to"], "occurred_to": window["occurred_from"]},
            headers=admin,
        )
        assert_problem(bad, 422)


async def test_a_subscription_failing_continuously_is_paused_and_the_office_told(
    gateway: httpx.AsyncClient, admin: dict[str, str], gateway_worker: None, nc: Any, unique: str, db: AsyncEngine
) -> None:
    receiver = Receiver(always_fail=True)
    async with serve(receiver.app) as url:
        topic = f"p{unique}"
        sub = await subscribe(gateway, admin, f"{url}/hook", [f"sentiment.{topic}.*"], "s" * 20, allow_private=True)
        await publish(nc, f"sentiment.{topic}.detected.v1", {"n": 1})

        async def paused() -> bool:
            r = await gateway.get(f"/api/v1/webhooks/{sub['id']}", headers=admin)
            return r.json()["status"] == "paused"

        await wait_for(paused, timeout=PAUSE_AFTER + 15, what="the pause")
        async with db.connect() as conn:
            event = (
                await conn.execute(
                    text(
                        "SELECT envelope FROM outbox WHERE subject = 'gateway.webhook.paused' ORDER BY id DESC LIMIT 1"
                    )
                )
            ).scalar()
        assert event["data"]["subscription_id"] == sub["id"] and event["data"]["target_host"] == "127.0.0.1"
        calls = receiver.calls
        await asyncio.sleep(1.0)
        assert receiver.calls == calls  # paused: no more attempts

        receiver.always_fail = False
        r = await gateway.post(f"/api/v1/webhooks/{sub['id']}/resume", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "active"
        await wait_for(lambda: _true(len(receiver.received) == 1), what="delivery after resume")


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:9000/hook",
        "http://192.168.1.10/hook",
        "ftp://example.com/hook",
    ],
)
async def test_webhook_targets_on_private_addresses_are_refused(
    gateway: httpx.AsyncClient, admin: dict[str, str], target: str
) -> None:
    before = len((await gateway.get("/api/v1/webhooks", headers=admin)).json())
    body = {"name": "内网", "target_url": target, "filters": ["catalog.>"], "secret": "s" * 20}
    problem = assert_problem(await gateway.post("/api/v1/webhooks", json=body, headers=admin), 422)
    assert [e["field"] for e in problem["errors"]] == ["body.target_url"]
    assert len((await gateway.get("/api/v1/webhooks", headers=admin)).json()) == before  # nothing stored


def test_address_rules_cover_ipv6_and_embedded_ipv4() -> None:
    import ipaddress

    for refused in ("127.0.0.1", "10.0.0.1", "172.16.0.1", "100.64.0.1", "169.254.169.254", "224.0.0.1", "0.0.0.0"):
        assert address_refused(ipaddress.ip_address(refused)), refused
    for refused in ("::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "2002:7f00:1::1", "ff02::1", "::"):
        assert address_refused(ipaddress.ip_address(refused)), refused
    for public in ("8.8.8.8", "2400:3200::1", "::ffff:8.8.8.8"):
        assert address_refused(ipaddress.ip_address(public)) is None, public


@pytest.mark.parametrize("bad", ["catalog..item", "catalog.>.published", "catalog.item published", "", "a.b*"])
async def test_a_subject_filter_that_does_not_parse_is_422_naming_the_field(
    gateway: httpx.AsyncClient, admin: dict[str, str], bad: str
) -> None:
    body = {"name": "x", "target_url": "https://example.com/h", "filters": ["catalog.item.published", bad]}
    problem = assert_problem(await gateway.post("/api/v1/webhooks", json=body, headers=admin), 422)
    assert [e["field"] for e in problem["errors"]] == ["body.filters.1"]


async def test_a_system_subscribes_only_within_its_key_scopes(
    gateway: httpx.AsyncClient, admin: dict[str, str], unique: str
) -> None:
    r = await gateway.post(
        "/api/v1/api-keys", json={"name": f"sys-{unique}", "scopes": ["catalog:read", "webhooks"]}, headers=admin
    )
    key = {"X-API-Key": r.json()["key"]}
    body = {"name": "x", "target_url": "http://127.0.0.1:9/h", "filters": ["catalog.item.*"], "secret": "s" * 20}
    assert_problem(
        await gateway.post("/api/v1/webhooks", json={**body, "allow_private": True}, headers=key),
        403,
        "allow_private_denied",
    )
    beyond = await gateway.post("/api/v1/webhooks", json={**body, "filters": ["requests.>"]}, headers=key)
    assert [e["field"] for e in assert_problem(beyond, 422)["errors"]] == ["body.filters.0"]
    assert_problem(await gateway.post("/api/v1/webhooks", json=body, headers=key), 422)  # loopback target
    assert (await gateway.get("/api/v1/webhooks", headers=key)).json() == []


# -- operations -------------------------------------------------------------------------------------


async def test_metrics_and_cors(gateway: httpx.AsyncClient) -> None:
    await gateway.get("/api/v1/calendar/years")
    r = await gateway.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'gongkai_gateway_requests_total{route="/api/v1/calendar/years",method="GET",status="2xx"}' in r.text
    assert 'gongkai_gateway_request_seconds_bucket{route="/api/v1/calendar/years",le="+Inf"}' in r.text
    assert "gongkai_webhook_deliveries" in r.text
    pre = await gateway.options(
        "/api/v1/calendar/years",
        headers={"Origin": "https://portal.example.gov.cn", "Access-Control-Request-Method": "GET"},
    )
    assert pre.headers["access-control-allow-origin"] == "https://portal.example.gov.cn"
    other = await gateway.get("/api/v1/calendar/years", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_organizations_come_from_the_catalogs_events(
    gateway_worker: None, nc: Any, db: AsyncEngine, unique: str
) -> None:
    org = uuid.uuid4()
    data = {"organization_id": str(org), "name": f"市生态环境局{unique}", "type": "department", "type_label": "部门"}
    await publish(nc, "catalog.organization.created.v1", data)
    await publish(nc, "catalog.organization.updated.v1", {**data, "name": f"市生态环境局（更名）{unique}"})

    async def renamed() -> bool:
        async with db.connect() as conn:
            name = (await conn.execute(text("SELECT name FROM organizations WHERE id = :i"), {"i": org})).scalar()
        return name == f"市生态环境局（更名）{unique}"

    await wait_for(renamed, what="the organization's new name")
