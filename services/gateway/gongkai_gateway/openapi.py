"""One OpenAPI document for the whole API, and the interactive docs that read it.

The gateway's own routes plus every upstream's ``/openapi.json`` (fetched when asked, cached for
``openapi_cache_seconds``): paths under ``/api/v1/<service>``, operation ids ``<service>_…``,
components ``<Service>_<Name>`` with every ``$ref`` rewritten. An upstream that cannot be fetched
is named in ``info.x-unavailable-services``; the document is served all the same.

``/docs`` (Swagger UI) loads its script, stylesheet and icon from the gateway itself
(``/docs/assets/…``), never from a CDN: an office's intranet reaches no CDN. The files come from
the ``fastapi-offline`` package (Swagger UI 5, which reads OpenAPI 3.1); without it installed the
page falls back to FastAPI's CDN addresses and the gateway says so in its log at start.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import importlib.metadata
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from gongkai_shared.errors import (
    PROBLEM_JSON,
    Forbidden,
    GongkaiError,
    NotFound,
    Problem,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UpstreamTimeout,
    UpstreamUnavailable,
    ValidationFailed,
)

from gongkai_gateway.proxy import Upstreams
from gongkai_gateway.settings import UPSTREAMS

__all__ = ["OAUTH2_SCHEME", "UpstreamDocs", "docs_assets", "docs_router", "merge_openapi", "prefix_document"]

log = structlog.get_logger("gongkai.openapi")

OAUTH2_SCHEME = "OAuth2PasswordBearer"
TOKEN_URL = "/api/v1/auth/token"
OPENAPI_URL = "/openapi.json"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
DOCS_ASSETS_URL = "/docs/assets"
#: The files /docs needs, and their media types (served from the gateway, see the module's docstring).
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
#: The package that ships them (MIT; Swagger UI 5 and ReDoc as published on npm).
DOCS_ASSETS_PACKAGE = "fastapi_offline"
#: FastAPI's own documentation routes, replaced by the merged ones.
FASTAPI_DOC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_UPSTREAM_NAMES = frozenset(UPSTREAMS)
_HEALTH_TAG = "health"
_HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
#: Generous: a service builds its document on the first request, which takes seconds on a loaded machine.
_FETCH_TIMEOUT_SECONDS = 15.0
#: A failed fetch is retried sooner than a good document is refreshed.
_FAILURE_CACHE_SECONDS = 5.0


def _security_scheme() -> dict[str, Any]:
    return {
        "type": "oauth2",
        "description": "用户名和密码登录，获取访问令牌（JWT）",
        "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
    }


def _rename_ref(ref: str, renames: dict[tuple[str, str], str]) -> str:
    # "#/components/<section>/<name>[/<deeper>]"
    parts = ref.split("/", 4)
    if len(parts) >= 4 and parts[0] == "#" and parts[1] == "components":
        new = renames.get((parts[2], parts[3]))
        if new is not None:
            parts[3] = new
            return "/".join(parts)
    return ref


def _rewrite_refs(node: Any, renames: dict[tuple[str, str], str]) -> Any:
    """A copy of ``node`` with every local component reference renamed (``$ref`` and discriminator mappings)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = _rename_ref(value, renames)
            elif key == "mapping" and isinstance(value, dict):
                out[key] = {k: _rename_ref(v, renames) if isinstance(v, str) else v for k, v in value.items()}
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _is_health(path: str, item: dict[str, Any]) -> bool:
    if path in _HEALTH_PATHS:
        return True
    operations = [op for method, op in item.items() if method in _HTTP_METHODS and isinstance(op, dict)]
    return bool(operations) and all(_HEALTH_TAG in (op.get("tags") or ()) for op in operations)


def prefix_document(service: str, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc``'s paths, components and tags as they appear in the merged document."""
    prefix = f"{service.capitalize()}_"
    renames: dict[tuple[str, str], str] = {}
    components: dict[str, dict[str, Any]] = {}
    for section, items in (doc.get("components") or {}).items():
        if section == "securitySchemes" or not isinstance(items, dict):
            continue  # one scheme for the whole API: the gateway's
        components[section] = {}
        for name, value in items.items():
            renames[(section, name)] = f"{prefix}{name}"
            components[section][f"{prefix}{name}"] = value
    paths: dict[str, Any] = {}
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict) or _is_health(path, item):
            continue  # each service's /healthz and /readyz are the gateway's business, see /api/v1/health
        item = copy.deepcopy(item)
        for method, op in item.items():
            if method not in _HTTP_METHODS or not isinstance(op, dict):
                continue
            if "operationId" in op:
                op["operationId"] = f"{service}_{op['operationId']}"
            if "security" in op:
                op["security"] = [{OAUTH2_SCHEME: []} if req else {} for req in op["security"]]
        paths[f"/api/v1/{service}{path}"] = item
    tags = [t for t in doc.get("tags") or () if isinstance(t, dict) and t.get("name") != _HEALTH_TAG]
    return _rewrite_refs({"paths": paths, "components": components, "tags": tags}, renames)


def merge_openapi(own: dict[str, Any], upstream_docs: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The gateway's document with every upstream's prefixed into it (None: the upstream is down)."""
    merged = copy.deepcopy(own)
    paths = merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    tags: list[dict[str, Any]] = merged.setdefault("tags", [])
    unavailable = []
    for service, doc in upstream_docs.items():
        if doc is None:
            unavailable.append(service)
            continue
        part = prefix_document(service, doc)
        paths.update(part["paths"])
        for section, items in part["components"].items():
            components.setdefault(section, {}).update(items)
        known = {t.get("name") for t in tags}
        tags.extend(t for t in part["tags"] if t.get("name") not in known)
    _document_problems(paths, components)
    components.setdefault("securitySchemes", {})[OAUTH2_SCHEME] = _security_scheme()
    # Optional everywhere ({} = anonymous): Swagger's Authorize then sends the token on every call,
    # and each service decides what needs it.
    merged["security"] = [{OAUTH2_SCHEME: []}, {}]
    if not tags:
        merged.pop("tags")
    merged.setdefault("info", {})["x-unavailable-services"] = unavailable
    return merged


#: The gateway's problem model in the merged document (RFC 9457 with Gongkai's code and field errors).
PROBLEM_SCHEMA = "GongkaiProblem"
_UPSTREAM_PROBLEMS = {
    "502": UpstreamUnavailable,
    "504": UpstreamTimeout,
}


def _problem_response(error: type[GongkaiError]) -> dict[str, Any]:
    return {
        "description": error.title,
        "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}}},
    }


def _document_problems(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """Every problem+json answer an operation can give, documented on it (issue 7 point 6).

    A service documents the errors of its own rules; what every route can answer besides is known
    here: 500 for every route (an unexpected error is problem+json too), 503 for readiness, 401/403
    where ``x-gongkai-access`` does not admit anonymous callers, 404 for a path with
    parameters, 422 for invalid parameters or body (FastAPI's default 422 says application/json, but
    the answer is problem+json), 502/504 when the gateway cannot reach the service, 429 on the
    rate-limited public routes. Existing problem answers are kept as the service wrote them.
    """
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in problem.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[PROBLEM_SCHEMA] = problem
    for path, item in paths.items():
        for method, op in item.items():
            if method not in _HTTP_METHODS or not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            access = op.get("x-gongkai-access") or {}
            # Any route can fail unexpectedly: the answer is still problem+json, with the request id.
            can: dict[str, type[GongkaiError]] = {"500": GongkaiError}
            if path == "/readyz":
                can["503"] = ServiceUnavailable
            if op.get("parameters") or op.get("requestBody"):
                can["422"] = ValidationFailed
            if "{" in path:
                can["404"] = NotFound
            if access and not access.get("anonymous"):
                can["401"] = Unauthorized
                if access.get("roles") != [] or access.get("signed") is None:
                    can["403"] = Forbidden
            if path.startswith("/api/v1/") and path.split("/")[3] in _UPSTREAM_NAMES:
                can.update(_UPSTREAM_PROBLEMS)
                if access.get("public") in ("apply", "follow") or path.split("/")[3:5] == ["catalog", "search"]:
                    can["429"] = RateLimited
            for status, error in can.items():
                existing = responses.get(status)
                if existing is None:
                    responses[status] = _problem_response(error)
                elif PROBLEM_JSON not in (existing.get("content") or {}):
                    responses[status] = {**existing, **_problem_response(error)}


class UpstreamDocs:
    """Upstream OpenAPI documents, fetched when asked and kept for a while."""

    def __init__(self, upstreams: Upstreams, *, ttl: float) -> None:
        self._upstreams = upstreams
        self._ttl = ttl
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._locks = {name: asyncio.Lock() for name in upstreams.urls}

    async def get(self, service: str) -> dict[str, Any] | None:
        async with self._locks[service]:  # one fetch at a time per upstream, the others wait for it
            cached = self._cache.get(service)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            doc = await self._fetch(service)
            ttl = self._ttl if doc is not None else min(self._ttl, _FAILURE_CACHE_SECONDS)
            self._cache[service] = (time.monotonic() + ttl, doc)
            return doc

    async def all(self) -> dict[str, dict[str, Any] | None]:
        names = list(self._upstreams.urls)
        docs = await asyncio.gather(*(self.get(n) for n in names))
        return dict(zip(names, docs, strict=True))

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        try:
            status, body = await self._upstreams.get_json(service, "/openapi.json", timeout=_FETCH_TIMEOUT_SECONDS)
            if status != 200:
                raise ValueError(f"HTTP {status}")
            doc = json.loads(body)
            if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
                raise ValueError("not an OpenAPI document")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            log.warning("upstream_openapi_unavailable", upstream=service, error=f"{type(exc).__name__}: {exc}"[:200])
            return None
        return doc


def remove_fastapi_docs(app: FastAPI) -> None:
    """Drop the routes FastAPI adds for its own document: the merged one replaces them.

    (create_service_app builds the FastAPI object with the default openapi_url and docs_url.)
    """
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in FASTAPI_DOC_PATHS]
    app.docs_url = None
    app.redoc_url = None
    app.swagger_ui_oauth2_redirect_url = None


@functools.cache
def docs_assets() -> tuple[Path, str] | None:
    """Where the Swagger UI files are on this machine, and a version for their URLs; None: not installed."""
    spec = importlib.util.find_spec(DOCS_ASSETS_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    static = Path(spec.origin).parent / "static"
    if not all((static / name).is_file() for name in DOCS_ASSETS):
        return None
    try:
        version = importlib.metadata.version(DOCS_ASSETS_PACKAGE.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return static, version


def warn_if_docs_need_a_cdn() -> None:
    if docs_assets() is None:
        log.warning(
            "docs_assets_missing",
            detail=f"{DOCS_ASSETS_PACKAGE} is not installed: /docs loads Swagger UI from cdn.jsdelivr.net, "
            "which a network without Internet access cannot reach",
        )


docs_router = APIRouter()


@docs_router.get(OPENAPI_URL, include_in_schema=False)
async def openapi_document(request: Request) -> JSONResponse:
    docs: UpstreamDocs = request.app.state.upstream_docs
    return JSONResponse(merge_openapi(request.app.openapi(), await docs.all()))


@docs_router.get(DOCS_URL, include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    assets: dict[str, str] = {}
    if (found := docs_assets()) is not None:
        # The version in the URL: a browser's cached copy is dropped when the package is upgraded.
        url = f"{DOCS_ASSETS_URL}/{{}}?v={found[1]}".format
        assets = {
            "swagger_js_url": url("swagger-ui-bundle.js"),
            "swagger_css_url": url("swagger-ui.css"),
            "swagger_favicon_url": url("favicon.png"),
        }
    return get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        # Operation ids shown next to each operation: the names client code generated from the
        # document uses (issue 7 point 6: readable operation ids).
        swagger_ui_parameters={"persistAuthorization": True, "displayOperationId": True},
        **assets,
    )


@docs_router.get(f"{DOCS_ASSETS_URL}/{{name}}", include_in_schema=False)
async def swagger_ui_asset(name: str) -> FileResponse:
    found = docs_assets()
    if found is None or name not in DOCS_ASSETS:
        raise NotFound("没有这个文档页面资源", code="not_found")
    # A day in caches; the URL carries the package version, so an upgrade is fetched anew.
    return FileResponse(
        found[0] / name, media_type=DOCS_ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
    )


@docs_router.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
