"""Who may call each operation, declared in the OpenAPI document as ``x-gongkai-access``.

The declaration is metadata: the lock is the route's own dependency (``require_roles``) and the
service's rules. It is derived from the route where it can be, so it follows the code:

- a route that depends on ``require_roles(...)`` admits exactly those roles;
- a route without such a dependency admits anonymous callers, and must then say why: with
  :func:`public` in its decorator (``openapi_extra=public("published")``) or in :data:`PUBLIC_ROUTES`
  below. Anonymous callers may read published information, submit an application and follow their
  own with its tracking code and secret (architecture.md, "The edge"; issue 7 point 3); besides those,
  only signing in, health probes and comments on a draft put out for public comment (公众参与, issue 9)
  are open to them;
- :func:`restricted` declares roles checked inside the handler (no ``require_roles`` dependency), and
  :func:`signed` an operation only a partner system holding a shared signing secret may call.

``tests/test_permissions.py`` reads the merged OpenAPI and checks every operation's actual answers
against its declaration, for every kind of caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gongkai_shared.auth import Role

__all__ = [
    "ACCESS_KEY",
    "PUBLIC_PURPOSES",
    "PUBLIC_ROUTES",
    "SIGNED_ROUTES",
    "declare_access",
    "public",
    "restricted",
    "signed",
]

ACCESS_KEY = "x-gongkai-access"

#: What anonymous callers may do at all (the purposes a public operation may declare).
PUBLIC_PURPOSES = {
    "published": "查阅已公开的政府信息",
    "apply": "提交政府信息公开申请",
    "follow": "凭查询码和密码查询本人的申请",
    "comment": "对公开征求意见的决策草案提交意见（公众参与）",
    "sign_in": "登录、换取访问令牌",
    "health": "健康检查",
}

#: Anonymous operations of each service, declared here rather than in the route decorators (either
#: works; a decorator's declaration wins): ``(method, path template) -> purpose``. A route that admits
#: anonymous callers and is in neither place has no purpose, which tests/test_permissions.py refuses.
PUBLIC_ROUTES: dict[str, dict[tuple[str, str], str]] = {
    "catalog": {
        ("GET", "/organizations"): "published",
        ("GET", "/organizations/tree"): "published",
        ("GET", "/organizations/{org_id}"): "published",
        ("GET", "/categories"): "published",
        ("GET", "/pilot-areas"): "published",
        ("GET", "/organizations/{org_id}/catalog-entries"): "published",
        ("GET", "/organizations/{org_id}/catalog-entries/export"): "published",
        ("GET", "/organizations/{org_id}/catalog-entries/{entry_id}"): "published",
        ("GET", "/items"): "published",
        ("GET", "/items/{item_id}"): "published",
        ("GET", "/items/{item_id}/deadline"): "published",
        ("GET", "/items/{item_id}/attachments/{attachment_id}"): "published",
        ("GET", "/organizations/{org_id}/annual-report/{year}/table2"): "published",
        ("GET", "/search"): "published",
        ("GET", "/feeds/atom"): "published",
        ("GET", "/consultations"): "published",
        ("GET", "/consultations/{consultation_id}"): "published",
        ("POST", "/consultations/{consultation_id}/comments"): "comment",
    },
    "requests": {
        ("POST", "/applications"): "apply",
        ("POST", "/follow"): "follow",
    },
}
_EVERY_SERVICE = {("GET", "/healthz"): "health", ("GET", "/readyz"): "health"}
#: Operations of each service that only a partner system holding a shared signing secret may call.
SIGNED_ROUTES: dict[str, set[tuple[str, str]]] = {
    "sentiment": {("POST", "/webhooks/hotline")},
}

_SIGNED_IN = [r.value for r in (Role.staff, Role.reviewer, Role.office, Role.admin, Role.system)]


def public(purpose: str) -> dict[str, Any]:
    """``openapi_extra`` of an operation anonymous callers may reach, and why (a PUBLIC_PURPOSES key)."""
    if purpose not in PUBLIC_PURPOSES:
        raise ValueError(f"unknown public purpose {purpose!r}: anonymous callers may only {sorted(PUBLIC_PURPOSES)}")
    return {ACCESS_KEY: {"public": purpose}}


def restricted(*roles: Role, scope: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` of an operation whose roles are checked in the handler (not by a dependency).

    ``scope``: the API-key scope a system caller needs besides its role (e.g. ``webhooks``).
    """
    access: dict[str, Any] = {"roles": sorted(r.value for r in roles)}
    if scope is not None:
        access["scope"] = scope
    return {ACCESS_KEY: access}


def signed(scheme: str = "hmac-sha256") -> dict[str, Any]:
    """``openapi_extra`` of an operation for a partner system that signs its requests with a shared
    secret (no role, no token: whoever cannot sign gets 401)."""
    return {ACCESS_KEY: {"roles": [], "signed": scheme}}


def _dependency_roles(dependant: Dependant) -> frozenset[Role] | None:
    """The roles admitted by the ``require_roles`` dependencies of ``dependant`` (None: none found)."""
    found: frozenset[Role] | None = None
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        roles: Iterable[Role] | None = getattr(dep.call, "gongkai_roles", None)
        if roles is not None:
            found = frozenset(roles) if found is None else found & frozenset(roles)
        stack.extend(dep.dependencies)
    return found


def declare_access(app: FastAPI, service: str | None = None) -> None:
    """Put ``x-gongkai-access`` on every documented operation of ``app``: ``roles`` (who may call it),
    ``anonymous`` (whether anonymous callers may), ``public`` (why, when they may), ``scope`` and
    ``signed``. ``service`` names the service whose PUBLIC_ROUTES / SIGNED_ROUTES apply."""
    public_routes = {**_EVERY_SERVICE, **PUBLIC_ROUTES.get(service or "", {})}
    signed_routes = SIGNED_ROUTES.get(service or "", set())
    # FastAPI keeps included routers as such and builds each route's effective context (prefix,
    # router dependencies) from the original route: the declaration goes on all of them.
    for ctx in routing.iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute) or not getattr(ctx, "include_in_schema", True):
            continue
        extra = dict(getattr(ctx, "openapi_extra", None) or route.openapi_extra or {})
        declared = dict(extra.get(ACCESS_KEY) or {})
        for method in getattr(ctx, "methods", None) or route.methods or ():
            key = (method, getattr(ctx, "path_format", None) or route.path_format)
            if key in public_routes:
                declared.setdefault("public", public_routes[key])
            if key in signed_routes:
                declared.setdefault("roles", [])
                declared.setdefault("signed", "hmac-sha256")
        roles = _dependency_roles(getattr(ctx, "dependant", None) or route.dependant)
        access: dict[str, Any] = {}
        if "roles" in declared:
            access["roles"] = sorted(declared["roles"])
        elif roles is not None:
            access["roles"] = sorted(r.value for r in roles)
        else:
            access["roles"] = sorted([Role.public.value, *_SIGNED_IN])
        access["anonymous"] = Role.public.value in access["roles"]
        if "public" in declared:
            access["public"] = declared["public"]
        for field in ("scope", "signed"):
            if field in declared:
                access[field] = declared[field]
        extra[ACCESS_KEY] = access
        for target in (route, getattr(ctx, "_route_context", None), getattr(ctx, "_effective_route", None)):
            if target is not None and hasattr(target, "openapi_extra"):
                target.openapi_extra = extra
