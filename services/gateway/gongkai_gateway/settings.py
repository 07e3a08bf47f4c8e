"""Gateway settings: ``GK_GATEWAY_…`` plus the unprefixed bootstrap administrator (docs/conventions.md)."""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated, Any

from gongkai_shared.settings import ServiceSettings
from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

__all__ = ["DEFAULT_RATE_LIMITS", "DEFAULT_TRUSTED_PROXIES", "UPSTREAMS", "GatewaySettings", "RateLimitRule"]

#: The services behind ``/api/v1/<service>/…``, in the order the merged OpenAPI lists them.
UPSTREAMS = ("catalog", "requests", "interpretation", "sentiment")


class RateLimitRule(BaseModel):
    """One class of public routes and its limit: at most ``limit`` requests per address per window."""

    methods: list[str] = Field(description="HTTP methods of the class")
    path: str = Field(description="regular expression matched against the whole path")
    limit: int = Field(ge=1)
    window_seconds: int = Field(ge=1, le=86_400)


#: The public routes (architecture.md, "The edge"): submitting an application, following one with
#: its tracking code, catalog search, commenting on a consultation. ``follow_failures`` is not a
#: route class: the failed follow attempts of one address (wrong code or secret), held to a stricter
#: limit against enumeration.
DEFAULT_RATE_LIMITS: dict[str, RateLimitRule] = {
    "submit": RateLimitRule(methods=["POST"], path=r"/api/v1/requests/applications", limit=10, window_seconds=60),
    "follow": RateLimitRule(
        methods=["GET", "POST"], path=r"/api/v1/requests/(follow|track)(/.*)?", limit=30, window_seconds=60
    ),
    "follow_failures": RateLimitRule(
        methods=["GET", "POST"], path=r"/api/v1/requests/(follow|track)(/.*)?", limit=10, window_seconds=3600
    ),
    "search": RateLimitRule(
        methods=["GET"], path=r"/api/v1/catalog/(search|items|public/.*)", limit=120, window_seconds=60
    ),
    # Public comments on a consultation (意见征集, issue 9): anyone may comment without an account.
    "comment": RateLimitRule(
        methods=["POST"], path=r"/api/v1/catalog/consultations/[^/]+/comments", limit=10, window_seconds=600
    ),
}


#: Proxies believed by default: a reverse proxy on the gateway's own host (forwarded.py).
DEFAULT_TRUSTED_PROXIES = ("127.0.0.0/8", "::1/128")


class GatewaySettings(ServiceSettings):
    service = "gateway"
    # populate_by_name: tests and the CLI pass ``admin_username=…``; the environment uses the alias.
    model_config = SettingsConfigDict(env_prefix="GK_GATEWAY_", extra="ignore", populate_by_name=True)

    catalog_url: str = "http://127.0.0.1:8001"
    requests_url: str = "http://127.0.0.1:8002"
    interpretation_url: str = "http://127.0.0.1:8003"
    sentiment_url: str = "http://127.0.0.1:8004"
    #: Longest wait for an upstream's answer (between reads of its response): then 504.
    upstream_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Longest wait to connect to an upstream (and for a free pooled connection).
    upstream_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    #: Connections kept per upstream.
    upstream_pool_size: int = Field(default=100, ge=1)
    #: An idle upstream connection is closed after this long: shorter than the services' own
    #: keep-alive (uvicorn's default is 5 s), so the gateway never reuses one the service closed.
    upstream_keepalive_seconds: float = Field(default=4.0, gt=0)
    #: How long a fetched upstream OpenAPI document is reused by the merged ``/openapi.json``.
    openapi_cache_seconds: float = Field(default=30.0, ge=0)
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    #: The ``aud`` claim of access tokens (services verify it with the same default).
    token_audience: str = "gongkai-api"
    #: How long a refresh token is good for; each use rotates it (a new one in the same family).
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    # Failed sign-ins (per username and per address): the first ``sign_in_free_failures`` cost
    # nothing, then each failure locks the key for ``base · 2^(n-free)`` seconds, up to the cap;
    # failures older than the window are forgotten.
    sign_in_free_failures: int = Field(default=5, ge=1)
    sign_in_lock_base_seconds: float = Field(default=1.0, gt=0)
    sign_in_lock_max_seconds: float = Field(default=900.0, gt=0)
    sign_in_failure_window_seconds: int = Field(default=3600, ge=1)
    #: An address may fail more often than one username (an office behind one NAT address).
    sign_in_free_failures_per_address: int = Field(default=20, ge=1)
    #: Public route classes and their limits (JSON in ``GK_GATEWAY_RATE_LIMITS``); empty disables.
    rate_limits: dict[str, RateLimitRule] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    #: Peers whose X-Forwarded-For/-Host/-Proto are believed (a reverse proxy in front of the
    #: gateway), as addresses or CIDR networks, comma-separated (or a JSON list) in
    #: ``GK_GATEWAY_TRUSTED_PROXIES``; empty: nobody's. From any other peer those headers are dropped
    #: and its own address counts for rate limits (forwarded.py). Default: loopback only.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=lambda: [ipaddress.ip_network(n) for n in DEFAULT_TRUSTED_PROXIES]
    )
    #: Origins a browser may call the API from (CORS); empty: no CORS headers at all.
    cors_origins: list[str] = Field(default_factory=list)
    # Webhooks: retries 1 min doubling up to 2 h, given up after a day; a subscription whose every
    # delivery failed for ``webhook_pause_after_seconds`` is paused and the office told.
    webhook_backoff_initial_seconds: float = Field(default=60.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=7200.0, gt=0)
    webhook_retry_total_seconds: float = Field(default=86_400.0, gt=0)
    webhook_pause_after_seconds: float = Field(default=86_400.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    #: Lanes (one per subscription and subject) sent at the same time.
    webhook_concurrency: int = Field(default=16, ge=1)
    #: Deliveries of one lane claimed together and sent one after the other (see delivery.py).
    webhook_lane_batch: int = Field(default=50, ge=1, le=1000)
    #: Kept delivery rows (and their attempt log) for this long after they succeeded or failed.
    webhook_log_retention_days: int = Field(default=30, ge=1)
    admin_username: str | None = Field(default=None, validation_alias="GK_ADMIN_USERNAME")
    admin_password: SecretStr | None = Field(default=None, validation_alias="GK_ADMIN_PASSWORD")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return json.loads(value) if value.startswith("[") else [p.strip() for p in value.split(",") if p.strip()]
        return value

    def upstream_urls(self) -> dict[str, str]:
        """Base URL of every upstream, without a trailing slash."""
        return {name: str(getattr(self, f"{name}_url")).rstrip("/") for name in UPSTREAMS}
