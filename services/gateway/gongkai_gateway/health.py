"""``/api/v1/health``: the gateway and every upstream at once (``/healthz`` and ``/readyz`` are the gateway's own)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from gongkai_shared.access import public
from gongkai_shared.errors import PROBLEM_JSON, Problem, ServiceUnavailable
from gongkai_shared.service import database_problem
from sqlalchemy.ext.asyncio import AsyncEngine

from gongkai_gateway.proxy import Upstreams
from gongkai_gateway.schemas import HealthOut, ServiceHealth

__all__ = ["health_router"]

#: Each check gives up after this long: a hung upstream must not hang the health answer.
CHECK_TIMEOUT_SECONDS = 3.0

health_router = APIRouter(prefix="/api/v1", tags=["health"])


async def _database(engine: AsyncEngine) -> ServiceHealth:
    started = time.perf_counter()
    problem = await database_problem(engine, timeout=CHECK_TIMEOUT_SECONDS)
    if problem is not None:
        return ServiceHealth(status="unavailable", latency_ms=_ms(started), detail=problem)
    return ServiceHealth(status="ready", latency_ms=_ms(started))


async def _upstream(upstreams: Upstreams, service: str) -> ServiceHealth:
    probe = await upstreams.probe(service, timeout=CHECK_TIMEOUT_SECONDS)
    return ServiceHealth(
        status="ready" if probe.ready else "unavailable",
        latency_ms=probe.latency_ms,
        http_status=probe.http_status,
        detail=probe.detail,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


@health_router.get(
    "/health",
    openapi_extra=public("health"),
    response_model=HealthOut,
    summary="整体就绪检查（网关及各上游服务）",
    responses={
        503: {
            "model": Problem,
            "description": "有服务未就绪；services 给出每个服务的状态",
            "content": {PROBLEM_JSON: {}},
        }
    },
)
async def health(request: Request) -> HealthOut:
    upstreams: Upstreams = request.app.state.upstreams
    names = list(upstreams.urls)
    results = await asyncio.gather(_database(request.app.state.engine), *(_upstream(upstreams, name) for name in names))
    services = dict(zip(["gateway", *names], results, strict=True))
    down = [name for name, result in services.items() if result.status != "ready"]
    if down:
        raise ServiceUnavailable(
            f"未就绪的服务：{'、'.join(down)}",
            code="services_unavailable",
            extra={"services": {name: result.model_dump() for name, result in services.items()}},
        )
    return HealthOut(status="ready", services=services)
