"""Gateway settings: ``GK_GATEWAY_…`` plus the unprefixed bootstrap administrator (docs/conventions.md)."""

from __future__ import annotations

from gongkai_shared.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

__all__ = ["UPSTREAMS", "GatewaySettings"]

#: The services behind ``/api/v1/<service>/…``, in the order the merged OpenAPI lists them.
UPSTREAMS = ("catalog", "requests", "interpretation", "sentiment")


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
    #: How long a fetched upstream OpenAPI document is reused by the merged ``/openapi.json``.
    openapi_cache_seconds: float = Field(default=30.0, ge=0)
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    admin_username: str | None = Field(default=None, validation_alias="GK_ADMIN_USERNAME")
    admin_password: SecretStr | None = Field(default=None, validation_alias="GK_ADMIN_PASSWORD")

    def upstream_urls(self) -> dict[str, str]:
        """Base URL of every upstream, without a trailing slash."""
        return {name: str(getattr(self, f"{name}_url")).rstrip("/") for name in UPSTREAMS}
