"""Service-to-service HTTP: httpx, with the current request id carried along (``X-Request-ID``)."""

from __future__ import annotations

from typing import Any

import httpx

from gongkai_shared.logging import current_request_id

__all__ = ["service_client"]


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
