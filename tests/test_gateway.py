"""The gateway: sign-in, users, calendar administration, the proxy, the merged OpenAPI, health.

Everything runs for real: PostgreSQL databases built by the migrations, the gateway and its
upstreams served by uvicorn on free ports in this process (the real catalog and interpretation
apps, and a small echo app standing in for a service whose requests we want to see), NATS for the
worker. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from conftest import migrate
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from gongkai_catalog.app import create_app as create_catalog_app
from gongkai_catalog.settings import CatalogSettings
from gongkai_gateway import worker
from gongkai_gateway.__main__ import main as gateway_main
from gongkai_gateway.app import create_app as create_gateway_app
from gongkai_gateway.settings import GatewaySettings
from gongkai_interpretation.app import create_app as create_interpretation_app
from gongkai_interpretation.settings import InterpretationSettings
from gongkai_shared.auth import Role, TokenSigner
from gongkai_shared.events import Namespace
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

PROBLEM_JSON = "application/problem+json"
ADMIN = "admin"
ADMIN_PASSWORD = "correct-horse-battery-staple"
PASSWORD = "a-long-enough-password"
SLOW_SECONDS = 8.0
UPSTREAM_TIMEOUT = 2.5  # generous: CI machines are shared and loaded; the 504 test still proves the cut-off

# A 2027 arrangement for tests only, NOT the official one (not published when this was written).
TEST_2027 = {
    "year": 2027,
    "holidays": [
        {"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"},
        {"name": "春节", "start": "2027-02-05", "end": "2027-02-13"},
        {"name": "国庆节", "start": "2027-10-01", "end": "2027-10-07"},
    ],
    "workdays": ["2027-02-20", "2027-10-09"],
    "source": "测试数据，非官方安排",
}


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


def _bound_socket() -> socket.socket:
    # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on accepted connections (with proto 0 every
    # answer waited ~40 ms for a delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free port of this process; yield its base URL."""
    sock = _bound_socket()
    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", access_log=False, ws="none", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped during start-up")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` started (its lifespan) without a server, with a client that calls it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client


def echo_app() -> FastAPI:
    """A stand-in service that shows what reached it, and answers with headers a proxy must filter."""
    app = FastAPI()

    @app.get("/readyz", tags=["health"])
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.api_route("/echo/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        response = JSONResponse(
            {
                "method": request.method,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "headers": [[k.decode(), v.decode()] for k, v in request.headers.raw],
                "body": body.decode(),
            },
            status_code=201,
            headers={
                "X-Upstream": "echo",
                "Keep-Alive": "timeout=5",
                "Proxy-Authenticate": "Basic",
                "Connection": "x-hop",
                "X-Hop": "only for this connection",
            },
        )
        response.raw_headers += [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/")]
        return response

    @app.post("/digest")
    async def digest(request: Request) -> dict[str, Any]:
        sha, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            sha.update(chunk)
            size += len(chunk)
        return {"sha256": sha.hexdigest(), "size": size, "chunked": "transfer-encoding" in request.headers}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(50):
                yield bytes([65 + i % 26]) * 10_000
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.get("/slow")
    async def slow(request: Request) -> dict[str, str]:
        await request.body()
        with contextlib.suppress(TimeoutError):
            # The next message is http.disconnect: the gateway gives up and hangs up before SLOW_SECONDS.
            await asyncio.wait_for(request.receive(), timeout=SLOW_SECONDS)
        return {"status": "late"}

    @app.get("/moved")
    async def moved() -> RedirectResponse:
        return RedirectResponse("/echo/here", status_code=307)

    return app


@pytest.fixture(scope="session")
def databases() -> dict[str, str]:
    return {s: migrate(s) for s in ("gateway", "catalog", "interpretation")}


@pytest.fixture(scope="session")
async def upstreams(databases: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    catalog = create_catalog_app(CatalogSettings(database_url=databases["catalog"]))
    interpretation = create_interpretation_app(InterpretationSettings(database_url=databases["interpretation"]))
    dead = _bound_socket()  # bound, never listening: connections are refused
    async with serve(catalog) as catalog_url, serve(interpretation) as interpretation_url, serve(echo_app()) as echo:
        yield {
            "catalog": catalog_url,
            "interpretation": interpretation_url,
            "requests": echo,
            "sentiment": f"http://127.0.0.1:{dead.getsockname()[1]}",
        }
    dead.close()


@pytest.fixture(scope="session")
def settings(databases: dict[str, str], upstreams: dict[str, str]) -> GatewaySettings:
    return GatewaySettings(
        database_url=databases["gateway"],
        catalog_url=upstreams["catalog"],
        requests_url=upstreams["requests"],
        interpretation_url=upstreams["interpretation"],
        sentiment_url=upstreams["sentiment"],
        upstream_timeout_seconds=UPSTREAM_TIMEOUT,
        admin_username=ADMIN,
        admin_password=ADMIN_PASSWORD,
    )


@pytest.fixture(scope="session")
async def gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    async with serve(create_gateway_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
async def client(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as c:
        yield c


@pytest.fixture(scope="session")
async def db(databases: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(databases["gateway"])
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def admin_token(client: httpx.AsyncClient) -> str:
    return await sign_in(client, ADMIN, ADMIN_PASSWORD)


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> str:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_user(
    client: httpx.AsyncClient, admin_token: str, username: str, *roles: Role, department: uuid.UUID | None = None
) -> str:
    """Create a user through the API and return a token of theirs."""
    body = {"username": username, "password": PASSWORD, "roles": [r.value for r in roles]}
    if department is not None:
        body["department_id"] = str(department)
    r = await client.post("/api/v1/users", json=body, headers=bearer(admin_token))
    assert r.status_code == 201, r.text
    return await sign_in(client, username, PASSWORD)


def assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    body = r.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code
    return body


def field_errors(problem: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["type"] for e in problem["errors"]}


# --------------------------------------------------------------------------------------------
# Settings, bootstrap, CLI
# --------------------------------------------------------------------------------------------


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GK_ADMIN_USERNAME", "root")
    monkeypatch.setenv("GK_ADMIN_PASSWORD", "from-the-environment")
    monkeypatch.setenv("GK_GATEWAY_CATALOG_URL", "http://catalog.internal:9001/")
    monkeypatch.setenv("GK_GATEWAY_UPSTREAM_TIMEOUT_SECONDS", "12")
    s = GatewaySettings()
    assert s.admin_username == "root"
    assert s.admin_password is not None and s.admin_password.get_secret_value() == "from-the-environment"
    assert s.upstream_urls()["catalog"] == "http://catalog.internal:9001"
    assert s.upstream_urls()["sentiment"] == "http://127.0.0.1:8004"
    assert (s.upstream_timeout_seconds, s.upstream_connect_timeout_seconds, s.access_token_minutes) == (12, 3, 15)
    assert s.port == 8000 and s.database_url.endswith("_gateway")


async def test_bootstrap_admin_is_created_once_by_two_replicas_and_restarts(
    settings: GatewaySettings, db: AsyncEngine, unique: str
) -> None:
    username = f"root-{unique}"
    replica = settings.model_copy(update={"admin_username": username})
    apps = [create_gateway_app(replica), create_gateway_app(replica)]
    async with contextlib.AsyncExitStack() as stack:
        # Both replicas start at once: both see no user, both insert; ON CONFLICT keeps one.
        clients = await asyncio.gather(*(stack.enter_async_context(running(app)) for app in apps))
        token = await sign_in(clients[1], username, ADMIN_PASSWORD)
    async with running(create_gateway_app(replica)) as restarted:  # a restart changes nothing
        r = await restarted.get("/api/v1/auth/me", headers=bearer(token))
    async with db.connect() as conn:
        rows = (await conn.execute(text("SELECT roles FROM users WHERE username = :u"), {"u": username})).all()
    assert [sorted(row.roles) for row in rows] == [["admin", "office"]]
    assert r.status_code == 200 and set(r.json()["roles"]) == {"admin", "office"}


async def test_create_user_cli(
    databases: dict[str, str],
    client: httpx.AsyncClient,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    department = uuid.uuid4()
    args = ["create-user", "--username", f"cli-{unique}", "--password-stdin", "--role", "staff", "--role", "reviewer"]
    args += ["--department", str(department)]
    # The real command line once (a process start costs seconds here: fastapi and friends import slowly).
    env = {**os.environ, "GK_GATEWAY_DATABASE_URL": databases["gateway"]}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gongkai_gateway", *args],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["roles"] == ["staff", "reviewer"] and created["department_id"] == str(department)
    assert "password" not in done.stdout
    token = await sign_in(client, f"cli-{unique}", PASSWORD)
    principal = TokenSigner(os.environ["GK_JWT_SECRET"]).verify(token)
    assert principal.subject == created["id"] and principal.department_id == department

    # Refusals, in this process: a taken name, a short password, staff without a department.
    monkeypatch.setenv("GK_GATEWAY_DATABASE_URL", databases["gateway"])
    staff_only = ["create-user", "--username", f"cli3-{unique}", "--password-stdin", "--role", "staff"]
    for argv, password, code, message in [
        (args, PASSWORD, 1, "已被使用"),
        ([*args[:2], f"cli2-{unique}", *args[3:]], "short", 2, "password"),
        (staff_only, PASSWORD, 2, "department_id"),
    ]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
        with pytest.raises(SystemExit) as exited:
            await asyncio.to_thread(gateway_main, argv)
        assert exited.value.code == code
        assert message in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Sign-in and users
# --------------------------------------------------------------------------------------------


async def test_sign_in_issues_a_token_every_service_can_verify(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/token", data={"username": "ADMIN", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    principal = TokenSigner(os.environ["GK_JWT_SECRET"]).verify(body["access_token"])
    assert principal.roles == {Role.admin, Role.office} and principal.name == "系统管理员"
    uuid.UUID(principal.subject)  # the user's id

    me = await client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["subject"] == principal.subject and set(me.json()["roles"]) == {"admin", "office"}
    assert_problem(await client.get("/api/v1/auth/me"), 401)
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer("not-a-jwt")), 401, "token_invalid")


async def test_wrong_password_and_unknown_user_get_the_same_answer(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/api/v1/auth/token", data={"username": ADMIN, "password": "wrong-password-123"})
    unknown = await client.post("/api/v1/auth/token", data={"username": "nobody-here", "password": "whatever-12345"})
    for r in (wrong, unknown):
        assert_problem(r, 401, "invalid_credentials")
        assert r.headers["www-authenticate"] == "Bearer"
    a, b = wrong.json(), unknown.json()
    assert a.pop("request_id") != b.pop("request_id")
    assert a == b
    missing = assert_problem(await client.post("/api/v1/auth/token", data={"username": ADMIN}), 422)
    assert "body.password" in field_errors(missing)


async def test_admin_creates_and_lists_users(client: httpx.AsyncClient, admin_token: str, unique: str) -> None:
    department = uuid.uuid4()
    staff_token = await new_user(client, admin_token, f"Staff-{unique}", Role.staff, department=department)
    staff = TokenSigner(os.environ["GK_JWT_SECRET"]).verify(staff_token)
    assert staff.roles == {Role.staff} and staff.department_id == department

    async def create(**body: Any) -> httpx.Response:
        body = {"username": f"u-{unique}", "password": PASSWORD, "roles": ["office"], **body}
        return await client.post("/api/v1/users", json=body, headers=bearer(admin_token))

    assert field_errors(assert_problem(await create(password="too-short"), 422)) == {
        "body.password": "string_too_short"
    }
    assert "body.department_id" in field_errors(assert_problem(await create(roles=["staff"]), 422))
    assert "body.roles" in field_errors(assert_problem(await create(roles=["public"]), 422))
    assert "body.roles" in field_errors(assert_problem(await create(roles=[]), 422))
    assert "body.username" in field_errors(assert_problem(await create(username="ab"), 422))
    assert_problem(await create(username=f"staff-{unique}"), 409, "username_taken")  # names ignore case
    assert_problem(await client.post("/api/v1/users", json={}, headers=bearer(staff_token)), 403)
    assert_problem(await client.post("/api/v1/users", json={}), 401)

    users, cursor = [], None
    while True:
        r = await client.get(
            "/api/v1/users",
            params={"limit": 200, **({"cursor": cursor} if cursor else {})},
            headers=bearer(admin_token),
        )
        assert r.status_code == 200
        users += r.json()["items"]
        if not (cursor := r.json()["next_cursor"]):
            break
    mine = next(u for u in users if u["username"] == f"staff-{unique}")
    assert mine["roles"] == ["staff"] and mine["department_id"] == str(department) and mine["active"]
    assert not any("password" in key for u in users for key in u)
    assert_problem(await client.get("/api/v1/users", headers=bearer(staff_token)), 403)


# --------------------------------------------------------------------------------------------
# The proxy
# --------------------------------------------------------------------------------------------


async def test_token_is_accepted_by_the_real_catalog_through_the_proxy(
    client: httpx.AsyncClient, admin_token: str, unique: str
) -> None:
    org = {"name": f"测试市人民政府办公室 {unique}"}
    created = await client.post("/api/v1/catalog/organizations", json=org, headers=bearer(admin_token))
    assert created.status_code == 201, created.text
    assert created.json()["name"] == org["name"]

    assert_problem(await client.post("/api/v1/catalog/organizations", json=org), 401, "unauthorized")
    staff = await new_user(client, admin_token, f"clerk-{unique}", Role.staff, department=uuid.uuid4())
    assert_problem(
        await client.post("/api/v1/catalog/organizations", json=org, headers=bearer(staff)), 403, "forbidden"
    )
    # A validation error of the service comes back as the service wrote it.
    bad = assert_problem(await client.post("/api/v1/catalog/organizations", json={}, headers=bearer(admin_token)), 422)
    assert "body.name" in field_errors(bad)

    listed = await client.get("/api/v1/catalog/organizations", params={"limit": 200})
    assert created.json()["id"] in {o["id"] for o in listed.json()["items"]}


async def test_proxy_forwards_the_request_and_returns_the_response(client: httpx.AsyncClient, gateway: str) -> None:
    r = await client.put(
        "/api/v1/requests/echo/a%2Fb/%E4%B8%AD?x=1&y=%E4%B8%AD&y=2",
        content=b'{"hello": "\xe4\xb8\x96\xe7\x95\x8c"}',
        headers={
            "Authorization": "Bearer passed-through-unchecked",
            "Content-Type": "application/json",
            "X-Request-ID": "req-gateway-test-1",
            "X-Custom": "kept",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "for the gateway only",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic c2VjcmV0",
        },
    )
    assert r.status_code == 201, r.text
    seen = r.json()
    headers = dict(seen["headers"])
    assert seen["method"] == "PUT"
    assert seen["raw_path"] == "/echo/a%2Fb/%E4%B8%AD"
    assert seen["query"] == "x=1&y=%E4%B8%AD&y=2"
    assert seen["body"] == '{"hello": "世界"}'
    assert headers["authorization"] == "Bearer passed-through-unchecked"
    assert headers["content-type"] == "application/json" and headers["x-custom"] == "kept"
    assert headers["x-request-id"] == "req-gateway-test-1"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == gateway.removeprefix("http://")
    assert headers["host"] != headers["x-forwarded-host"]  # the upstream's own host
    for hop in ("x-secret-hop", "keep-alive", "proxy-authorization", "te", "upgrade"):
        assert hop not in headers
    assert [k for k, _ in seen["headers"]].count("x-request-id") == 1

    assert r.headers["x-upstream"] == "echo"
    assert r.headers["content-type"] == "application/json"
    assert r.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert r.headers.get_list("x-request-id") == ["req-gateway-test-1"]
    for hop in ("x-hop", "keep-alive", "proxy-authenticate"):
        assert hop not in r.headers

    # Without an incoming id the gateway makes one, sends it upstream and returns it.
    r = await client.get("/api/v1/requests/echo/plain")
    assert dict(r.json()["headers"])["x-request-id"] == r.headers["x-request-id"]
    assert r.json()["method"] == "GET" and r.json()["body"] == ""

    moved = await client.get("/api/v1/requests/moved")
    assert moved.status_code == 307 and moved.headers["location"] == "/api/v1/requests/echo/here"


async def test_proxy_streams_bodies_both_ways(client: httpx.AsyncClient) -> None:
    payload = os.urandom(3 * 1024 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 100_000):
            yield payload[i : i + 100_000]

    r = await client.post("/api/v1/requests/digest", content=chunks())  # chunked, no Content-Length
    assert r.json() == {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload), "chunked": True}
    r = await client.post("/api/v1/requests/digest", content=payload)  # with Content-Length
    assert r.json() == {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload), "chunked": False}

    async with client.stream("GET", "/api/v1/requests/stream") as r:
        assert r.status_code == 200 and "content-length" not in r.headers
        received = b"".join([chunk async for chunk in r.aiter_bytes()])
    assert received == b"".join(bytes([65 + i % 26]) * 10_000 for i in range(50))


async def test_proxy_errors_are_problems(client: httpx.AsyncClient) -> None:
    unknown = assert_problem(await client.get("/api/v1/nothing/here"), 404, "unknown_service")
    assert "nothing" in unknown["detail"]

    down = assert_problem(await client.post("/api/v1/sentiment/posts", json={"a": 1}), 502, "upstream_unavailable")
    assert down["title"] == "上游服务不可用" and down["service"] == "sentiment" and "sentiment" in down["detail"]

    started = asyncio.get_running_loop().time()
    slow = assert_problem(await client.get("/api/v1/requests/slow"), 504, "upstream_timeout")
    assert slow["service"] == "requests"
    assert asyncio.get_running_loop().time() - started < SLOW_SECONDS


# --------------------------------------------------------------------------------------------
# One OpenAPI, interactive docs
# --------------------------------------------------------------------------------------------


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def test_merged_openapi(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    schemas = doc["components"]["schemas"]

    # The gateway's own routes, the catalog's and the interpretation's under their prefixes.
    assert {"/api/v1/auth/token", "/api/v1/users", "/api/v1/calendar/years/{year}", "/api/v1/health"} <= set(paths)
    assert {"/api/v1/catalog/organizations", "/api/v1/catalog/items/{item_id}/publish"} <= set(paths)
    assert "/api/v1/interpretation/tasks" in paths
    assert not [p for p in paths if p.endswith(("/healthz", "/readyz")) and p.startswith("/api/v1/")]
    assert not [p for p in paths if "{service}" in p]
    create_org = paths["/api/v1/catalog/organizations"]["post"]
    assert create_org["operationId"] == "catalog_create_organization"
    assert create_org["tags"] == ["机关"]
    assert paths["/api/v1/interpretation/tasks"]["get"]["operationId"] == "interpretation_list_tasks"
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op]
    assert len(operation_ids) == len(set(operation_ids))

    # Components renamed <Service>_<Name>, and every $ref leads somewhere.
    assert {"Catalog_OrganizationCreate", "Catalog_Problem", "Interpretation_TaskOut", "UserCreate"} <= set(schemas)
    assert "OrganizationCreate" not in schemas
    body_ref = create_org["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/Catalog_OrganizationCreate"
    refs = _refs(doc)
    assert len(refs) > 20
    for ref in refs:
        assert _resolve(doc, ref) is not None

    # Swagger's Authorize: the OAuth2 password flow at the gateway's token endpoint, for every route.
    scheme = doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert {"OAuth2PasswordBearer": []} in doc["security"]
    assert doc["info"]["x-unavailable-services"] == ["sentiment"]


async def test_docs_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in r.text and "swagger-ui" in r.text
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200
    assert_problem(await client.get("/redoc"), 404)


# --------------------------------------------------------------------------------------------
# Calendar administration (domain.md §6)
# --------------------------------------------------------------------------------------------


async def test_office_loads_a_year_and_the_event_goes_out_with_it(
    client: httpx.AsyncClient, admin_token: str, db: AsyncEngine, settings: GatewaySettings, namespace: str, unique: str
) -> None:
    office = await new_user(client, admin_token, f"office-{unique}", Role.office)
    r = await client.put("/api/v1/calendar/years/2027", json=TEST_2027, headers=bearer(office))
    assert r.status_code == 200, r.text
    assert r.json()["arrangement"]["workdays"] == TEST_2027["workdays"]
    years = await client.get("/api/v1/calendar/years")
    assert 2027 in [y["year"] for y in years.json()]

    async with db.connect() as conn:
        stored = (await conn.execute(text("SELECT arrangement, loaded_at FROM calendar_years WHERE year = 2027"))).one()
        event = (
            await conn.execute(
                text(
                    "SELECT id, envelope, created_at FROM outbox WHERE subject = 'gateway.calendar.updated' "
                    "AND (envelope->'data'->>'year')::int = 2027 ORDER BY seq DESC LIMIT 1"
                )
            )
        ).one()
    assert stored.arrangement["source"] == TEST_2027["source"]
    assert event.envelope["type"] == "gateway.calendar.updated.v1"
    assert event.envelope["data"]["arrangement"] == stored.arrangement
    # now() is the transaction's start: equal timestamps mean one transaction wrote both rows.
    assert event.created_at == stored.loaded_at
    assert dt.datetime.fromisoformat(event.envelope["data"]["loaded_at"]) == stored.loaded_at
    assert event.envelope["correlation_id"] == r.headers["x-request-id"]

    # The worker's relay publishes it.
    nc = await nats.connect(os.environ["NATS_URL"])
    sub = await nc.subscribe(Namespace(namespace).subject("gateway.calendar.updated"))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.main(settings, stop=stop))
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            msg = await sub.next_msg(timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
            if msg.headers and msg.headers.get("Nats-Msg-Id") == str(event.id):
                break
        assert json.loads(msg.data)["data"]["year"] == 2027
    finally:
        stop.set()
        await task
        await nc.close()


async def test_bad_arrangements_are_422_and_store_nothing(
    client: httpx.AsyncClient, admin_token: str, db: AsyncEngine
) -> None:
    wednesday = {**TEST_2027, "year": 2028, "holidays": [], "workdays": ["2028-01-05"]}  # a Wednesday
    problem = assert_problem(
        await client.put("/api/v1/calendar/years/2028", json=wednesday, headers=bearer(admin_token)), 422
    )
    assert field_errors(problem) == {"body.workdays": "workday_not_weekend"}

    mismatch = {**TEST_2027, "year": 2028, "holidays": [], "workdays": []}
    problem = assert_problem(
        await client.put("/api/v1/calendar/years/2029", json=mismatch, headers=bearer(admin_token)), 422
    )
    assert field_errors(problem) == {"body.year": "year_mismatch"}

    async with db.connect() as conn:
        assert not (await conn.execute(text("SELECT year FROM calendar_years WHERE year IN (2028, 2029)"))).all()
        events = await conn.execute(text("SELECT 1 FROM outbox WHERE (envelope->'data'->>'year')::int IN (2028, 2029)"))
        assert not events.all()


async def test_loading_a_year_needs_the_office(client: httpx.AsyncClient, admin_token: str, unique: str) -> None:
    assert_problem(await client.put("/api/v1/calendar/years/2027", json=TEST_2027), 401)
    staff = await new_user(client, admin_token, f"desk-{unique}", Role.staff, Role.reviewer, department=uuid.uuid4())
    assert_problem(await client.put("/api/v1/calendar/years/2027", json=TEST_2027, headers=bearer(staff)), 403)


async def test_deadline_explains_twenty_working_days_across_national_day(client: httpx.AsyncClient) -> None:
    # The 2026 arrangement (domain.md §6): 中秋 9-25..9-27 off, 国庆 10-1..10-7 off, Saturday 10-10 worked.
    # Received Monday 2026-09-28 (not counted). Counting by hand:
    #   9-29 Tue 1, 9-30 Wed 2; 10-1..10-7 国庆 skipped (7 days);
    #   10-8 Thu 3, 10-9 Fri 4, 10-10 Sat 5 (调休上班); 10-11 Sun skipped;
    #   10-12..10-16 Mon-Fri 6-10; 10-17/18 skipped; 10-19..10-23 11-15; 10-24/25 skipped;
    #   10-26..10-30 Mon-Fri 16-20.  The deadline ends on Friday 2026-10-30; 12 days skipped.
    r = await client.get("/api/v1/calendar/deadline", params={"start": "2026-09-28", "working_days": 20})
    assert r.status_code == 200, r.text
    trace = r.json()
    assert trace["end"] == "2026-10-30" and trace["provisional"] is False and trace["unknown_years"] == []
    counted = {c["day"]: c["number"] for c in trace["counted"]}
    assert len(counted) == 20
    assert (counted["2026-09-29"], counted["2026-09-30"], counted["2026-10-08"]) == (1, 2, 3)
    assert counted["2026-10-10"] == 5
    skipped = {s["day"]: s["reason"] for s in trace["skipped"]}
    assert skipped == {
        **{f"2026-10-0{d}": "国庆节" for d in range(1, 8)},
        **{day: "周末" for day in ("2026-10-11", "2026-10-17", "2026-10-18", "2026-10-24", "2026-10-25")},
    }

    # A year nobody has loaded is counted provisionally, never refused.
    r = await client.get("/api/v1/calendar/deadline", params={"start": "2030-12-20", "working_days": 10})
    assert r.status_code == 200 and r.json()["provisional"] is True and r.json()["unknown_years"] == [2030, 2031]
    problem = assert_problem(
        await client.get("/api/v1/calendar/deadline", params={"start": "someday", "working_days": -1}), 422
    )
    assert {"query.start", "query.working_days"} <= set(field_errors(problem))
    problem = assert_problem(
        await client.get("/api/v1/calendar/deadline", params={"start": "9999-12-20", "working_days": 30}), 422
    )
    assert "query.working_days" in field_errors(problem)


# --------------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------------


async def test_health(client: httpx.AsyncClient, settings: GatewaySettings, upstreams: dict[str, str]) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "gateway"}
    assert (await client.get("/readyz")).status_code == 200

    problem = assert_problem(await client.get("/api/v1/health"), 503, "services_unavailable")
    services = problem["services"]
    assert set(services) == {"gateway", "catalog", "requests", "interpretation", "sentiment"}
    assert {name for name, s in services.items() if s["status"] == "ready"} == {
        "gateway",
        "catalog",
        "requests",
        "interpretation",
    }
    assert services["sentiment"]["status"] == "unavailable" and services["sentiment"]["detail"]
    assert services["catalog"]["http_status"] == 200 and services["catalog"]["latency_ms"] >= 0
    assert "sentiment" in problem["detail"]

    every_upstream_up = settings.model_copy(update={f"{s}_url": upstreams["catalog"] for s in upstreams})
    async with running(create_gateway_app(every_upstream_up)) as other:
        r = await other.get("/api/v1/health")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"
    assert all(s["status"] == "ready" for s in r.json()["services"].values())
