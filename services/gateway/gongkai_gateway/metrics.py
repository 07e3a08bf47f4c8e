"""``/metrics``: Prometheus text exposition (format 0.0.4), written by hand (no client library here).

Per route class (the public rate-limit classes, ``proxy:<service>``, or the gateway route's
template): request counts by status class and a latency histogram. From the database at scrape
time: webhook deliveries by status and failed attempts (every worker replica's, not only this
process's). Never a path with ids, a query string or a body: nothing personal.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUCKETS", "Metrics", "MetricsMiddleware", "metrics_router"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(route, method, f"{status // 100}xx")] += 1
        buckets = self.buckets[route]
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
        self.sums[route] += seconds
        self.counts[route] += 1

    def render(self, extra: list[str]) -> str:
        lines = [
            "# HELP gongkai_gateway_requests_total Requests answered, by route class, method and status class.",
            "# TYPE gongkai_gateway_requests_total counter",
        ]
        for (route, method, status), n in sorted(self.requests.items()):
            lines.append(
                f'gongkai_gateway_requests_total{{route="{_esc(route)}",method="{method}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP gongkai_gateway_request_seconds Time to the end of the response, by route class.",
            "# TYPE gongkai_gateway_request_seconds histogram",
        ]
        for route in sorted(self.counts):
            label = _esc(route)
            for bound, n in zip(BUCKETS, self.buckets[route], strict=True):
                lines.append(f'gongkai_gateway_request_seconds_bucket{{route="{label}",le="{bound}"}} {n}')
            lines.append(f'gongkai_gateway_request_seconds_bucket{{route="{label}",le="+Inf"}} {self.counts[route]}')
            lines.append(f'gongkai_gateway_request_seconds_sum{{route="{label}"}} {self.sums[route]:.6f}')
            lines.append(f'gongkai_gateway_request_seconds_count{{route="{label}"}} {self.counts[route]}')
        return "\n".join(lines + extra) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _route_class(scope: Scope) -> str:
    if cls := scope.get("gk_route_class"):
        return str(cls)
    route: Any = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return str(route.path)  # the template (/api/v1/webhooks/{subscription_id}), never the ids
    return "unmatched"


class MetricsMiddleware:
    """Pure ASGI (BaseHTTPMiddleware breaks context variables): time and count every request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(_route_class(scope), scope.get("method", ""), status, time.perf_counter() - started)


metrics_router = APIRouter()

_WEBHOOKS = text(
    "SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),"
    " (SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'),"
    " (SELECT count(*) FROM webhook_attempts WHERE NOT succeeded),"
    " (SELECT count(*) FROM webhook_subscriptions WHERE status = 'paused'),"
    " (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM webhook_deliveries"
    "  WHERE status = 'pending')"
)


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> PlainTextResponse:
    extra: list[str] = []
    try:
        async with request.app.state.engine.connect() as conn:
            pending, failed, failed_attempts, paused, oldest = (await conn.execute(_WEBHOOKS)).one()
    except Exception:  # the database away: the request metrics still answer
        pass
    else:
        extra = [
            "# HELP gongkai_webhook_deliveries Webhook deliveries by status (pending: not yet delivered).",
            "# TYPE gongkai_webhook_deliveries gauge",
            f'gongkai_webhook_deliveries{{status="pending"}} {pending}',
            f'gongkai_webhook_deliveries{{status="failed"}} {failed}',
            "# HELP gongkai_webhook_failed_attempts_total Delivery attempts that failed (kept log).",
            "# TYPE gongkai_webhook_failed_attempts_total counter",
            f"gongkai_webhook_failed_attempts_total {failed_attempts}",
            "# HELP gongkai_webhook_subscriptions_paused Subscriptions paused after failing continuously.",
            "# TYPE gongkai_webhook_subscriptions_paused gauge",
            f"gongkai_webhook_subscriptions_paused {paused}",
            "# HELP gongkai_webhook_oldest_pending_seconds Age of the oldest undelivered delivery (lag).",
            "# TYPE gongkai_webhook_oldest_pending_seconds gauge",
            f"gongkai_webhook_oldest_pending_seconds {float(oldest):.3f}",
        ]
    body = request.app.state.metrics.render(extra)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
