"""The proxy: ``/api/v1/<service>/…`` to the service, bodies streamed both ways.

aiohttp, not httpx, is the upstream client: measured on this machine, a FastAPI proxy forwarded
~540 req/s with aiohttp against ~190 req/s with httpx.AsyncClient. One pooled ClientSession per
upstream lives as long as the app (created in the lifespan, closed on shutdown).

The proxy is a pure ASGI layer (:class:`ProxyMiddleware`), inside the request-id, metrics and CORS
middleware but in front of FastAPI's router: profiled with py-spy under bench/gateway.py, FastAPI's
routing, dependency solving and StreamingResponse took more of the gateway's time per proxied read
than forwarding it. Per request it only parses the headers it needs, checks API keys and counts rate
limits where they apply (an API key; a public route class), and copies the answer through: a body
of known, small length is read in one piece and sent in one message, anything else is streamed in
chunks. Errors are problem+json like every other answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog
from fastapi import APIRouter, Request
from gongkai_shared.auth import service_scope
from gongkai_shared.errors import (
    PROBLEM_JSON,
    Forbidden,
    GongkaiError,
    NotFound,
    Unauthorized,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gongkai_shared.logging import current_request_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from gongkai_gateway.keys import KEY_PREFIX, internal_token, require_scope, resolve_key
from gongkai_gateway.ratelimit import FOLLOW_FAILURES, RateLimiter
from gongkai_gateway.settings import GatewaySettings

__all__ = ["HOP_BY_HOP", "ProxyMiddleware", "UpstreamTimeout", "UpstreamUnavailable", "Upstreams", "proxy_router"]

log = structlog.get_logger("gongkai.proxy")

#: RFC 9110 §7.6.1: meaningful for one connection only, never forwarded (plus any named in Connection).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Request headers the gateway sets itself or that belong to its own connection to the client.
#: X-API-Key never leaves the gateway: the upstream gets a signed internal token instead.
_REQUEST_OWN = frozenset(
    {"host", "expect", "x-request-id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-api-key"}
)
#: Response headers the gateway's server writes itself (uvicorn's date/server; our request id).
_RESPONSE_OWN = frozenset({"date", "server", "x-request-id"})
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_CHUNK = 64 * 1024
#: Bodies up to this size (with a Content-Length) are read whole and sent in one message.
_WHOLE = 256 * 1024
_REQUEST_DROP = HOP_BY_HOP | _REQUEST_OWN
_RESPONSE_DROP = frozenset(n.encode("latin-1") for n in HOP_BY_HOP | _RESPONSE_OWN)


@dataclass(frozen=True)
class Probe:
    """One upstream's readiness as ``/api/v1/health`` reports it."""

    ready: bool
    latency_ms: float
    http_status: int | None
    detail: str | None


class Upstreams:
    """The services behind the gateway, each with its own connection pool."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.urls = settings.upstream_urls()
        self._pool_size = settings.upstream_pool_size
        self._keepalive = settings.upstream_keepalive_seconds
        self._timeout = aiohttp.ClientTimeout(
            total=None,  # a long download is fine as long as bytes keep coming
            connect=settings.upstream_connect_timeout_seconds,  # includes waiting for a pooled connection
            sock_connect=settings.upstream_connect_timeout_seconds,
            sock_read=settings.upstream_timeout_seconds,
        )
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    async def start(self) -> None:
        for name in self.urls:
            self._sessions[name] = aiohttp.ClientSession(
                # Idle connections are dropped before the upstream drops them (uvicorn: after 5 s).
                connector=aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=self._keepalive),
                timeout=self._timeout,
                # Bytes pass through untouched, Content-Encoding and Content-Length with them.
                auto_decompress=False,
                # Never keep one caller's cookies for the next caller.
                cookie_jar=aiohttp.DummyCookieJar(),
                # Send what the client sent, not aiohttp's defaults.
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
                trust_env=False,
            )

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    def session(self, service: str) -> aiohttp.ClientSession:
        session = self._sessions.get(service)
        if session is None:
            raise NotFound(f"没有名为 {service} 的服务", code="unknown_service")
        return session

    async def get_json(self, service: str, path: str, *, timeout: float) -> tuple[int, bytes]:
        """GET ``path`` of ``service`` (status, body): for the merged OpenAPI and health checks."""
        session = self.session(service)
        async with session.get(
            f"{self.urls[service]}{path}",
            headers={"Accept": "application/json", **_request_id_header()},
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as resp:
            return resp.status, await resp.read()

    async def probe(self, service: str, *, timeout: float) -> Probe:
        started = time.perf_counter()
        try:
            status, _ = await self.get_json(service, "/readyz", timeout=timeout)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Probe(False, _ms_since(started), None, _describe(exc))
        return Probe(status == 200, _ms_since(started), status, None if status == 200 else f"就绪检查返回 {status}")

    async def forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        service: str,
        *,
        authorization: str | None = None,
    ) -> int:
        """Forward the request and send the answer; its status. ``authorization`` replaces the
        caller's (an API key's internal token)."""
        session = self.session(service)
        base = self.urls[service]
        headers, has_body, length = _request_headers(scope, authorization)
        data: bytes | AsyncIterator[bytes] | None = None
        if has_body:
            data = await _read_body(receive) if 0 <= length <= _WHOLE else _stream_body(receive)
        url = _upstream_url(base, scope, service)
        try:
            try:
                resp = await session.request(scope["method"], url, headers=headers, data=data, allow_redirects=False)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                # A pooled connection the upstream closed just as it was reused (its keep-alive ran
                # out): nothing was processed. A request without a body that only reads is sent once
                # more on a fresh connection; anything else could have had an effect, so it is a 502.
                if data is not None or scope["method"] not in _READ_METHODS:
                    raise
                resp = await session.request(scope["method"], url, headers=headers, allow_redirects=False)
        except TimeoutError as exc:  # aiohttp's ServerTimeoutError is a TimeoutError too
            # Class names only: an exception's text can carry the URL, and query strings carry secrets.
            log.warning("upstream_timeout", upstream=service, error=type(exc).__name__)
            raise UpstreamTimeout(f"{service} 服务未在规定时间内响应", extra={"service": service}) from exc
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("upstream_unavailable", upstream=service, error=type(exc).__name__)
            raise UpstreamUnavailable(f"{service} 服务暂时无法访问", extra={"service": service}) from exc
        try:
            out_headers = _response_headers(resp.raw_headers, base, scope, service)
            size = resp.content_length
            if size is not None and size <= _WHOLE:
                try:
                    body = await resp.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    log.warning("upstream_stream_broken", upstream=service, error=type(exc).__name__)
                    raise UpstreamUnavailable(f"{service} 服务的响应中断", extra={"service": service}) from exc
                await send({"type": "http.response.start", "status": resp.status, "headers": out_headers})
                await send({"type": "http.response.body", "body": body})
                return resp.status
            await send({"type": "http.response.start", "status": resp.status, "headers": out_headers})
            try:
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The status line is gone already: all that is left is to cut the connection short.
                log.warning("upstream_stream_broken", upstream=service, error=type(exc).__name__)
                raise
            await send({"type": "http.response.body", "body": b""})
            return resp.status
        finally:
            resp.release()


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def _request_id_header() -> dict[str, str]:
    request_id = current_request_id()
    return {"X-Request-ID": request_id} if request_id else {}


def _connection_tokens(values: Iterable[str]) -> set[str]:
    """Header names listed in Connection: hop-by-hop too (RFC 9110 §7.6.1)."""
    return {token.strip().lower() for value in values for token in value.split(",") if token.strip()}


def _upstream_url(base: str, scope: Scope, service: str) -> URL:
    # Forward the path as the client encoded it (%2F stays %2F), with the query string unchanged.
    raw: bytes | None = scope.get("raw_path")
    prefix = f"/api/v1/{service}/".encode()
    if raw and raw.startswith(prefix):
        tail = raw[len(prefix) :].decode("latin-1")
    else:
        tail = quote(scope["path"][len(prefix) :])
    query = scope.get("query_string", b"").decode("latin-1")
    return URL(f"{base}/{tail}" + (f"?{query}" if query else ""), encoded=True)


def _request_headers(scope: Scope, authorization: str | None) -> tuple[list[tuple[str, str]], bool, int]:
    """The headers to send upstream, whether the request has a body, and its length (-1: chunked)."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    drop = _REQUEST_DROP
    connection = [v for k, v in raw if k == b"connection"]
    if connection:
        drop = drop | _connection_tokens(v.decode("latin-1") for v in connection)
    if authorization is not None:
        drop = drop | {"authorization"}
    length = 0
    chunked = False
    host = None
    prior: list[str] = []
    headers: list[tuple[str, str]] = []
    for k, v in raw:
        name = k.decode("latin-1")
        if name == "content-length":
            length = int(v) if v.isdigit() else 0
        elif name == "transfer-encoding":
            chunked = True
        elif name == "host":
            host = v.decode("latin-1")
        elif name == "x-forwarded-for":
            prior.append(v.decode("latin-1").strip())
        if name not in drop:
            headers.append((name, v.decode("latin-1")))
    has_body = chunked or length > 0
    if not has_body:
        headers = [(k, v) for k, v in headers if k != "content-length"]
    # The chain the gateway believes (its trusted proxies'; forwarded.py drops anyone else's) plus
    # the peer it was called from: each hop appends the address it was called from.
    client = scope.get("client")
    peer = scope["gk_peer"] if "gk_peer" in scope else (client[0] if client else None)
    forwarded_for = ", ".join(x for x in (*prior, peer) if x)
    if forwarded_for:
        headers.append(("X-Forwarded-For", forwarded_for))
    headers.append(("X-Forwarded-Proto", scope.get("scheme", "http")))
    if host:
        headers.append(("X-Forwarded-Host", host))
    if request_id := current_request_id():
        headers.append(("X-Request-ID", request_id))
    if authorization is not None:
        headers.append(("Authorization", authorization))
    return headers, has_body, -1 if chunked else length


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _stream_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body", False):
            return


class ClientDisconnected(Exception):
    """The client went away while its request body was being read."""


def _response_headers(
    raw: Iterable[tuple[bytes, bytes]], upstream_base: str, scope: Scope, service: str
) -> list[tuple[bytes, bytes]]:
    pairs = [(k.lower(), v) for k, v in raw]
    drop = _RESPONSE_DROP
    connection = [v for k, v in pairs if k == b"connection"]
    if connection:
        drop = drop | {t.encode("latin-1") for t in _connection_tokens(v.decode("latin-1") for v in connection)}
    out = []
    for name, value in pairs:
        if name in drop:
            continue
        if name == b"location":
            gateway_base = f"{_base_url(scope)}/api/v1/{service}"
            value = _rewrite_location(value.decode("latin-1"), upstream_base, gateway_base, service).encode("latin-1")
        out.append((name, value))
    return out


def _base_url(scope: Scope) -> str:
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
    if host is None:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


def _rewrite_location(location: str, upstream_base: str, gateway_base: str, service: str) -> str:
    """A redirect of the service points into the service: make it point through the gateway."""
    if location == upstream_base or location.startswith(upstream_base + "/"):
        return gateway_base + location[len(upstream_base) :]
    if location.startswith("/") and not location.startswith("//"):
        return f"/api/v1/{service}{location}"
    return location


proxy_router = APIRouter()


#: Answers of a follow route that mean "no such code, or the wrong secret": each counts against the
#: stricter limit of failed follow attempts per address (tracking codes cannot be enumerated).
_FOLLOW_FAILED = frozenset({400, 401, 403, 404, 422})
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_API_PREFIX = "/api/v1/"


@proxy_router.api_route("/api/v1/{service}/{path:path}", methods=_METHODS, include_in_schema=False, name="proxy")
async def unknown_service(service: str, path: str, request: Request) -> None:
    """Reached only for a service the gateway does not know (ProxyMiddleware takes the others): 404."""
    raise NotFound(f"没有名为 {service} 的服务", code="unknown_service")


class ProxyMiddleware:
    """Pure ASGI: ``/api/v1/<service>/…`` of a known upstream is forwarded here; everything else
    goes on to the gateway's own routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_API_PREFIX):
            await self.app(scope, receive, send)
            return
        service, slash, _ = scope["path"][len(_API_PREFIX) :].partition("/")
        state = scope["app"].state
        upstreams: Upstreams | None = getattr(state, "upstreams", None)
        if not slash or upstreams is None or service not in upstreams.urls:
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await _proxy(state, upstreams, scope, receive, send_tracked, service)
        except GongkaiError as exc:
            if started:
                raise
            if isinstance(exc, (Unauthorized, Forbidden)):
                log.info("proxy_refused", upstream=service, code=exc.instance_code)
            problem = exc.to_problem(None)
            problem["instance"] = scope["path"]
            headers = [(b"content-type", PROBLEM_JSON.encode())]
            headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
            body = json.dumps(problem, ensure_ascii=False).encode()
            await send({"type": "http.response.start", "status": exc.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        except ClientDisconnected:
            return


async def _proxy(state: Any, upstreams: Upstreams, scope: Scope, receive: Receive, send: Send, service: str) -> None:
    method: str = scope["method"]
    authorization = None
    key = _api_key(scope["headers"])
    if key is not None:
        principal = await resolve_key(state.engine, key)
        access = "read" if method in _READ_METHODS else "write"
        require_scope(principal, service_scope(service, access), what=f"{method} /api/v1/{service}")
        authorization = f"Bearer {internal_token(state.token_signer, principal)}"
    limiter: RateLimiter = state.rate_limiter
    route_class = limiter.classify(method, scope["path"])
    scope["gk_route_class"] = route_class or f"proxy:{service}"
    # The caller: the peer, or whom a trusted proxy forwarded for (forwarded.py).
    client = scope.get("client")
    address = client[0] if client else "unknown"
    if route_class is not None:
        if route_class == "follow":
            (await limiter.peek(FOLLOW_FAILURES, address)).raise_if_refused("查询失败次数过多，请稍后再试")
        (await limiter.hit(route_class, address)).raise_if_refused()
    status = await upstreams.forward(scope, receive, send, service, authorization=authorization)
    if route_class == "follow" and status in _FOLLOW_FAILED and FOLLOW_FAILURES in limiter.rules:
        await limiter.hit(FOLLOW_FAILURES, address)


def _api_key(raw: list[tuple[bytes, bytes]]) -> str | None:
    """The API key the caller presented (``X-API-Key`` or ``Authorization: Bearer gk_…``), if any."""
    authorization = None
    for k, v in raw:
        if k == b"x-api-key" and v.strip():
            return v.decode("latin-1").strip()
        if k == b"authorization":
            authorization = v
    if authorization is not None:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token.startswith(KEY_PREFIX):
            return token
    return None
