from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from gongkai_shared.auth import TokenSigner
from gongkai_shared.service import create_service_app
from pydantic import ValidationError
from starlette.middleware import Middleware

from gongkai_gateway import service
from gongkai_gateway.asyncapi import asyncapi_router
from gongkai_gateway.edge_endpoints import api_keys_router, webhooks_router
from gongkai_gateway.endpoints import auth_router, calendar_router, users_router
from gongkai_gateway.forwarded import ForwardedHeadersMiddleware, TrustedProxies
from gongkai_gateway.health import health_router
from gongkai_gateway.metrics import Metrics, MetricsMiddleware, metrics_router
from gongkai_gateway.openapi import UpstreamDocs, docs_router, remove_fastapi_docs, warn_if_docs_need_a_cdn
from gongkai_gateway.passwords import warm_up
from gongkai_gateway.proxy import ProxyMiddleware, Upstreams, proxy_router
from gongkai_gateway.ratelimit import RateLimiter, SignInThrottle
from gongkai_gateway.settings import GatewaySettings

log = structlog.get_logger("gongkai.gateway")


async def _startup(app: FastAPI) -> None:
    settings: GatewaySettings = app.state.settings
    warn_if_docs_need_a_cdn()
    await warm_up()
    if not (settings.admin_username and settings.admin_password):
        return
    try:
        async with app.state.sessionmaker() as session, session.begin():
            created = await service.bootstrap_admin(
                session, username=settings.admin_username, password=settings.admin_password.get_secret_value()
            )
    except ValidationError as exc:
        fields = ", ".join(f"GK_ADMIN_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise RuntimeError(f"bootstrap administrator is invalid ({fields})") from None
    log.info("bootstrap_admin", username=settings.admin_username, created=created)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    app = create_service_app(
        settings=settings,
        title="Gongkai API",
        description="政务公开（Gongkai）统一接口：登录、用户、工作日历，以及 /api/v1/<服务>/… 下的各服务接口。",
        # The proxy's catch-all comes last: the gateway's own /api/v1/… routes match first.
        routers=[
            auth_router,
            users_router,
            calendar_router,
            api_keys_router,
            webhooks_router,
            health_router,
            metrics_router,
            docs_router,
            asyncapi_router,
            proxy_router,
        ],
        on_startup=_startup,
    )
    remove_fastapi_docs(app)
    app.state.token_signer = TokenSigner(settings.jwt_secret.get_secret_value(), audience=settings.token_audience)
    app.state.metrics = Metrics()
    # Outermost first (after the forwarding headers, below): CORS answers preflights before anything
    # else; metrics time everything else.
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,  # bearer tokens, not cookies
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "Idempotency-Key"],
            expose_headers=["X-Request-ID", "Retry-After", "Location"],
            max_age=600,
        )
    # Outermost: whose X-Forwarded-* are believed is settled before anything reads the address.
    app.add_middleware(ForwardedHeadersMiddleware, trusted=TrustedProxies(settings.trusted_proxies))
    # Innermost of the middleware (inside request ids, metrics and CORS), in front of the router.
    app.user_middleware.append(Middleware(ProxyMiddleware))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # create_service_app's lifespan (database, bootstrap) around the upstream connection pools.
        async with inner(app):
            app.state.rate_limiter = RateLimiter(app.state.engine, settings.rate_limits)
            app.state.sign_in_throttle = SignInThrottle(app.state.engine, settings)
            upstreams = Upstreams(settings)
            await upstreams.start()
            app.state.upstreams = upstreams
            app.state.upstream_docs = UpstreamDocs(upstreams, ttl=settings.openapi_cache_seconds)
            try:
                yield
            finally:
                await upstreams.close()

    app.router.lifespan_context = lifespan
    return app
