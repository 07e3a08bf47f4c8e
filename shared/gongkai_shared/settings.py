"""Settings: pydantic-settings, one environment prefix per service (``GK_CATALOG_…``).

Deployment-wide values (``DATABASE_URL``, ``NATS_URL``, ``GK_JWT_SECRET``, ``GK_EVENT_NAMESPACE``)
are read once by :class:`CommonSettings`; a service's own prefixed variable wins over them.
See docs/conventions.md for the whole list.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

__all__ = ["DEFAULT_PORTS", "CommonSettings", "ServiceSettings", "service_database_url"]

DEFAULT_PORTS = {"gateway": 8000, "catalog": 8001, "requests": 8002, "interpretation": 8003, "sentiment": 8004}


class CommonSettings(BaseSettings):
    """Values shared by every process of one deployment."""

    model_config = SettingsConfigDict(env_prefix="GK_", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias=AliasChoices("NATS_URL"))
    database_prefix: str = "gongkai_"
    event_namespace: str = ""
    jwt_secret: SecretStr = SecretStr("")
    log_level: str = "INFO"
    log_json: bool = True


def service_database_url(server_url: str, database: str) -> str:
    """The async URL of ``database`` on the server of ``server_url`` (any driver, any database)."""
    url = make_url(server_url)
    return url.set(drivername="postgresql+asyncpg", database=database).render_as_string(hide_password=False)


class ServiceSettings(BaseSettings):
    """Base of every service's settings; subclasses set ``service`` and their ``env_prefix``."""

    service: ClassVar[str] = ""
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = ""
    nats_url: str = ""
    event_namespace: str | None = None
    jwt_secret: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = 0
    log_level: str = ""
    log_json: bool | None = None
    # Relay and consumers (events that cannot be lost).
    relay_batch_size: int = 500
    relay_poll_seconds: float = 1.0
    consumer_max_deliver: int = 5
    consumer_backoff_seconds: list[float] = Field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0])
    consumer_ack_wait_seconds: float = 60.0
    stream_duplicate_window_seconds: float = 600.0
    outbox_retention_days: int = 7

    @model_validator(mode="after")
    def _fill_from_common(self) -> ServiceSettings:
        common = CommonSettings()
        if not self.database_url:
            if not common.database_url:
                raise ValueError(
                    f"no database: set DATABASE_URL (a PostgreSQL server) or GK_{self.service.upper()}_DATABASE_URL"
                )
            self.database_url = service_database_url(common.database_url, f"{common.database_prefix}{self.service}")
        else:
            self.database_url = service_database_url(self.database_url, make_url(self.database_url).database or "")
        if not self.nats_url:
            self.nats_url = common.nats_url
        if self.event_namespace is None:
            self.event_namespace = common.event_namespace
        if not self.jwt_secret.get_secret_value():
            self.jwt_secret = common.jwt_secret
        if not self.port:
            self.port = DEFAULT_PORTS.get(self.service, 8000)
        if not self.log_level:
            self.log_level = common.log_level
        if self.log_json is None:
            self.log_json = common.log_json
        return self
