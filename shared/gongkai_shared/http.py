"""Service-to-service HTTP: httpx, with the current request id carried along (``X-Request-ID``)."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request

from gongkai_shared.logging import current_request_id

__all__ = ["public_base_url", "service_client"]


async def _add_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and "x-request-id" not in request.headers:
        request.headers["x-request-id"] = request_id


def service_client(base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    """An AsyncClient for another service's API that forwards the caller's request id."""
    hooks = kwargs.pop("event_hooks", {})
    hooks.setdefault("request", []).append(_add_request_id)
    kwargs.setdefault("timeout", httpx.Timeout(10.0, connect=3.0))
    return httpx.AsyncClient(base_url=base_url, event_hooks=hooks, **kwargs)


def public_base_url(request: Request, service: str) -> str:
    """The address callers use for this service: behind the gateway ``<proto>://<host>/api/v1/<service>/``.

    The gateway sets ``X-Forwarded-Host`` and ``X-Forwarded-Proto`` on every proxied request and drops
    any a caller sent, so links a service writes into documents (feeds, notices) point at the
    gateway, not at the internal upstream. Called directly (tests, internal tools), the service's
    own base URL.
    """
    host = request.headers.get("x-forwarded-host")
    if not host:
        return str(request.base_url)
    proto = request.headers.get("x-forwarded-proto", "http")
    return f"{proto}://{host}/api/v1/{service}/"
