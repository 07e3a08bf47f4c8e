"""The permission matrix (issue 7 point 3): every operation of the merged OpenAPI, called by every kind
of caller, answers as the operation's ``x-gongkai-access`` declaration says.

The whole stack runs in this process on real PostgreSQL: the four services' apps and the gateway,
each served by uvicorn on a free port, the gateway proxying to the others. The operations are read
from the gateway's merged ``/openapi.json``, never typed here, so a route another engineer adds is in
the matrix the next run. The declaration comes from the route itself (``gongkai_shared.access``: its
``require_roles`` dependency, or a public purpose), so the test checks the code against the policy
rather than against a second list.

Callers: anonymous; staff of department A; staff of department B; a reviewer of A; the office; the
administrator; API keys holding every service scope for organization A, for organization B, and a
key without any service scope. Expectations per operation:

- nobody gets a 5xx;
- a caller the declaration excludes gets 401, 403 or 404 — never a 2xx;
- a caller it admits is not turned away as unauthenticated (401), nor (inside its department) with 403;
- on an operation about department A's organization, staff of B and the key for B are refused
  (403/404) unless the operation is public, and staff of A and the key for A are not;
- anonymous callers reach only operations declared public, for a purpose of the short list: published
  information (GET only), submitting an application, following one's own with code and secret
  (条例 art. 27-29: 依申请公开 is open to everyone; architecture.md "The edge"), plus signing in,
  health probes, and comments on a draft put out for public comment (公众参与).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import migrate
from gongkai_catalog.app import create_app as create_catalog_app
from gongkai_catalog.settings import CatalogSettings
from gongkai_gateway.app import create_app as create_gateway_app
from gongkai_gateway.settings import UPSTREAMS, GatewaySettings
from gongkai_interpretation.app import create_app as create_interpretation_app
from gongkai_interpretation.settings import InterpretationSettings
from gongkai_requests.app import create_app as create_requests_app
from gongkai_requests.settings import RequestsSettings
from gongkai_sentiment.app import create_app as create_sentiment_app
from gongkai_sentiment.settings import SentimentSettings
from gongkai_shared.access import ACCESS_KEY, PUBLIC_PURPOSES

ADMIN = ("matrix-admin", "matrix-admin-password-1")
PASSWORD = "matrix-user-password-1"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
#: Path parameters that name an organization (department): filled with department A's.
ORGANIZATION_PARAMS = frozenset({"org_id", "organization_id", "department_id"})
#: Purposes that only read.
READ_ONLY_PURPOSES = frozenset({"published", "health"})


# --------------------------------------------------------------------------------------------
# The stack, in this process
# --------------------------------------------------------------------------------------------


def _bound_socket() -> socket.socket:
    # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on accepted connections (else each answer
    # waits ~40 ms for a delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serve(app: Any, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on ``sock`` (a free port by default) in this process; yield its URL."""
    sock = sock or _bound_socket()
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


def migrate_stack() -> dict[str, str]:
    return {s: migrate(s) for s in ("gateway", *UPSTREAMS)}


@contextlib.asynccontextmanager
async def running_stack(databases: dict[str, str], **gateway_settings: Any) -> AsyncIterator[str]:
    """Every service app and the gateway in front of them; yields the gateway's base URL."""
    socks = {name: _bound_socket() for name in UPSTREAMS}
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in socks.items()}
    # The catalog asks the others for figures (annual report, assessment): it gets their real addresses.
    others = {f"{name}_url": urls[name] for name in ("requests", "interpretation", "sentiment")}
    apps = {
        "catalog": create_catalog_app(CatalogSettings(database_url=databases["catalog"], **others)),
        "requests": create_requests_app(RequestsSettings(database_url=databases["requests"])),
        "interpretation": create_interpretation_app(InterpretationSettings(database_url=databases["interpretation"])),
        "sentiment": create_sentiment_app(SentimentSettings(database_url=databases["sentiment"])),
    }
    async with contextlib.AsyncExitStack() as stack:
        for name, app in apps.items():
            await stack.enter_async_context(serve(app, socks[name]))
        settings = GatewaySettings(
            database_url=databases["gateway"],
            **{f"{name}_url": url for name, url in urls.items()},
            admin_username=ADMIN[0],
            admin_password=ADMIN[1],
            openapi_cache_seconds=0,
            upstream_timeout_seconds=20,
            **gateway_settings,
        )
        yield await stack.enter_async_context(serve(create_gateway_app(settings)))


# --------------------------------------------------------------------------------------------
# Callers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str
    kind: str  # anonymous | user | key
    role: str | None = None
    headers: dict[str, str] = field(default_factory=dict, hash=False)
    #: Organization A's side (True), B's (False), or neither (None: anonymous, office, admin, no scope).
    inside: bool | None = None
    scopes: frozenset[str] = frozenset()


@dataclass
class World:
    url: str
    org_a: str
    org_b: str
    callers: list[Caller]


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def make_world(client: httpx.AsyncClient, url: str) -> World:
    admin = await sign_in(client, *ADMIN)
    orgs = []
    for name in ("矩阵测试甲局", "矩阵测试乙局"):
        r = await client.post(
            "/api/v1/catalog/organizations", json={"name": f"{name}{uuid.uuid4().hex[:6]}"}, headers=admin
        )
        assert r.status_code == 201, r.text
        orgs.append(r.json()["id"])
    org_a, org_b = orgs
    callers = [Caller("anonymous", "anonymous"), Caller("admin", "user", "admin", admin)]
    for name, role, dept, inside in (
        ("staff A", "staff", org_a, True),
        ("staff B", "staff", org_b, False),
        ("reviewer A", "reviewer", org_a, True),
        ("office", "office", None, None),
    ):
        username = f"m-{role}-{uuid.uuid4().hex[:8]}"
        body = {"username": username, "password": PASSWORD, "roles": [role], "department_id": dept}
        r = await client.post("/api/v1/users", json=body, headers=admin)
        assert r.status_code == 201, r.text
        callers.append(Caller(name, "user", role, await sign_in(client, username, PASSWORD), inside))
    every_service = [f"{s}:write" for s in UPSTREAMS] + ["webhooks"]
    for name, scopes, orgs_of_key, inside in (
        ("key A", every_service, [org_a], True),
        ("key B", every_service, [org_b], False),
        ("key without scope", ["personal_data"], [org_a], None),
    ):
        body = {"name": name, "scopes": scopes, "organization_ids": orgs_of_key}
        r = await client.post("/api/v1/api-keys", json=body, headers=admin)
        assert r.status_code == 201, r.text
        callers.append(Caller(name, "key", "system", {"X-API-Key": r.json()["key"]}, inside, frozenset(scopes)))
    return World(url=url, org_a=org_a, org_b=org_b, callers=callers)


# --------------------------------------------------------------------------------------------
# Operations, from the merged OpenAPI
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    access: dict[str, Any] = field(hash=False)
    spec: dict[str, Any] = field(hash=False)

    @property
    def service(self) -> str | None:
        """The upstream service behind the proxy, or None for the gateway's own routes."""
        parts = self.path.split("/")
        return parts[3] if len(parts) > 3 and parts[1:3] == ["api", "v1"] and parts[3] in UPSTREAMS else None

    @property
    def path_params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p.get("in") == "path"]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations(doc: dict[str, Any]) -> list[Operation]:
    out = []
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is not None:
                out.append(Operation(method.upper(), path, op.get("operationId", ""), op.get(ACCESS_KEY) or {}, op))
    return out


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [_resolve(doc, s) for s in schema[key] if s.get("type") != "null"]
            if options:
                return options[0]
    return schema


def _value(doc: dict[str, Any], name: str, schema: dict[str, Any], world: World) -> str:
    if name in ORGANIZATION_PARAMS:
        return world.org_a
    schema = _resolve(doc, schema)
    if "enum" in schema:
        return str(schema["enum"][0])
    if "default" in schema:
        return str(schema["default"]).lower() if isinstance(schema["default"], bool) else str(schema["default"])
    kind, fmt = schema.get("type"), schema.get("format")
    if fmt == "uuid":
        return str(uuid.uuid4())  # nobody's: the answer is about who may ask, not about the row
    if fmt == "date":
        return "2026-03-02"
    if fmt == "date-time":
        return "2026-03-02T08:00:00+08:00"
    if kind == "integer":
        return "2026" if "year" in name else str(max(1, int(schema.get("minimum", 1))))
    if kind == "number":
        return "1"
    if kind == "boolean":
        return "false"
    return "x" * max(1, int(schema.get("minLength", 1)))


def request_for(doc: dict[str, Any], op: Operation, world: World) -> dict[str, Any]:
    """URL, query and body of a call to ``op``: required parameters filled, an empty JSON object as body."""
    path = op.path
    params: dict[str, str] = {}
    for p in op.spec.get("parameters", []):
        value = _value(doc, p["name"], p.get("schema", {}), world)
        if p.get("in") == "path":
            path = path.replace("{" + p["name"] + "}", value)
        elif p.get("in") == "query" and p.get("required"):
            params[p["name"]] = value
    kwargs: dict[str, Any] = {"params": params}
    content = (op.spec.get("requestBody") or {}).get("content") or {}
    if "application/json" in content:
        kwargs["json"] = {}
    elif content:
        kwargs["content"] = b""
        kwargs["headers"] = {"Content-Type": next(iter(content))}
    return {"method": op.method, "url": path, **kwargs}


def admitted(op: Operation, caller: Caller) -> bool:
    """Whether the declaration of ``op`` admits ``caller``."""
    access = op.access
    if caller.kind == "anonymous":
        return bool(access.get("anonymous"))
    if caller.kind == "user":
        return access.get("anonymous") or caller.role in access.get("roles", ())
    # An API key: the gateway lets it through to a service only with that service's scope.
    if not (access.get("anonymous") or "system" in access.get("roles", ())):
        return False
    if op.service is not None:
        need = f"{op.service}:{'read' if op.method == 'GET' else 'write'}"
        return need in caller.scopes or f"{op.service}:write" in caller.scopes
    scope = access.get("scope")
    return scope is None or scope in caller.scopes


# --------------------------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def databases() -> dict[str, str]:
    return migrate_stack()


@pytest.fixture(scope="module")
async def world(databases: dict[str, str]) -> AsyncIterator[World]:
    # Rate limits off: this test calls the public routes hundreds of times from one address
    # (tests/test_gateway_edge.py tests the limits).
    async with running_stack(databases, rate_limits={}) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield await make_world(client, url)


@pytest.fixture(scope="module")
async def document(world: World) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=world.url, timeout=60) as client:
        r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["info"]["x-unavailable-services"] == []
    return doc


@pytest.fixture(scope="module")
async def answers(world: World, document: dict[str, Any]) -> dict[tuple[Operation, str], httpx.Response]:
    """Every operation called by every caller: reads first (writes with department A's id may change it)."""
    ops = sorted(operations(document), key=lambda o: (o.method != "GET", o.path, o.method))
    out: dict[tuple[Operation, str], httpx.Response] = {}
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=world.url, timeout=60) as client:

        async def call(op: Operation, caller: Caller) -> None:
            req = request_for(document, op, world)
            req["headers"] = {**req.get("headers", {}), **caller.headers}
            async with limit:
                out[(op, caller.name)] = await client.request(**req)

        for writes in (False, True):
            batch = [op for op in ops if (op.method != "GET") == writes]
            await asyncio.gather(*(call(op, c) for op in batch for c in world.callers))
    return out


def test_every_operation_declares_who_may_call_it(document: dict[str, Any]) -> None:
    ops = operations(document)
    assert len(ops) > 100, "the merged document should hold every service's operations"
    missing = [str(op) for op in ops if not op.access.get("roles") and not op.access.get("signed")]
    assert not missing, "\n".join(missing)
    for op in ops:
        assert set(op.access) >= {"roles", "anonymous"}, op


def test_anonymous_callers_reach_only_the_short_list_of_public_operations(
    document: dict[str, Any], answers: dict[tuple[Operation, str], httpx.Response]
) -> None:
    """Anonymous: published information, submitting an application (条例 art. 27), following one's own
    with code and secret; besides those only signing in, health and public comment. Nothing else."""
    wrong = []
    for op in operations(document):
        reached = 200 <= answers[(op, "anonymous")].status_code < 300
        if not (op.access.get("anonymous") or reached):
            continue
        purpose = op.access.get("public")
        if purpose not in PUBLIC_PURPOSES:
            wrong.append(f"{op}: anonymous {'reached it' if reached else 'admitted'} without a public purpose")
        elif purpose in READ_ONLY_PURPOSES and op.method != "GET":
            wrong.append(f"{op}: public purpose {purpose} but the method writes")
    assert not wrong, "\n".join(wrong)
    purposes = {op.access.get("public") for op in operations(document) if op.access.get("anonymous")}
    # The three capabilities of the law are really there (a rename would otherwise pass silently).
    assert {"published", "apply", "follow"} <= purposes


def test_nobody_gets_a_server_error(
    world: World, document: dict[str, Any], answers: dict[tuple[Operation, str], httpx.Response]
) -> None:
    errors = [
        f"{op} as {name}: {r.status_code} {r.text[:200]}" for (op, name), r in answers.items() if r.status_code >= 500
    ]
    assert not errors, "\n".join(errors)


def test_callers_the_declaration_excludes_are_refused(
    world: World, document: dict[str, Any], answers: dict[tuple[Operation, str], httpx.Response]
) -> None:
    wrong = []
    for op in operations(document):
        for caller in world.callers:
            r = answers[(op, caller.name)]
            if not admitted(op, caller) and r.status_code not in (401, 403, 404):
                wrong.append(f"{op} as {caller.name}: {r.status_code} (declared {op.access})")
            if not admitted(op, caller):
                assert r.headers["content-type"].startswith("application/problem+json"), f"{op} {caller.name}"
    assert not wrong, "\n".join(wrong)


def test_callers_the_declaration_admits_are_not_turned_away(
    world: World, document: dict[str, Any], answers: dict[tuple[Operation, str], httpx.Response]
) -> None:
    """Admitted callers of their own side (or of every department) never get 401, nor 403."""
    wrong = []
    for op in operations(document):
        for caller in world.callers:
            if not admitted(op, caller) or caller.inside is False:
                continue
            r = answers[(op, caller.name)]
            if r.status_code == 401 or (r.status_code == 403 and not op.access.get("signed")):
                wrong.append(f"{op} as {caller.name}: {r.status_code} {r.text[:160]}")
    assert not wrong, "\n".join(wrong)


def test_department_a_resources_are_refused_to_department_b(
    world: World, document: dict[str, Any], answers: dict[tuple[Operation, str], httpx.Response]
) -> None:
    """Reads of department A's organization: its staff and its key get through, B's are refused
    (staff act for their own department only; a key for the organizations it names)."""
    checked = 0
    wrong = []
    for op in operations(document):
        if op.method != "GET" or op.access.get("anonymous") or not ORGANIZATION_PARAMS & set(op.path_params):
            continue
        for caller in world.callers:
            if caller.inside is None or not admitted(op, caller):
                continue
            status = answers[(op, caller.name)].status_code
            checked += 1
            if caller.inside and status in (401, 403):
                wrong.append(f"{op} as {caller.name} (inside): {status}")
            if not caller.inside and 200 <= status < 300:
                wrong.append(f"{op} as {caller.name} (outside): {status}")
    assert not wrong, "\n".join(wrong)
    assert checked > 0
