"""Gateway tables: users (who may sign in) and their refresh tokens, organizations (a copy of the
catalog's), API keys of other systems, webhook subscriptions with their deliveries and attempt log,
the canonical calendar years, outbox and inbox.

Counters that many requests touch (sign-in failures, rate-limit windows) are UNLOGGED tables written
with plain SQL (ratelimit.py): losing them in a crash only forgets who was being slowed down.
"""

from __future__ import annotations

import datetime as dt
import uuid

from gongkai_shared.auth import Role
from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata, utcnow
from gongkai_shared.events import define_event_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ASSIGNABLE_ROLES",
    "DEPARTMENT_ROLES",
    "ApiKey",
    "Base",
    "Organization",
    "RefreshToken",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "calendar_table",
    "event_tables",
]


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
#: The canonical list of loaded years: the office loads a year here and every service follows
#: ``gateway.calendar.updated`` (domain.md §6).
calendar_table = define_calendar_table(Base.metadata)

#: Roles a person can hold. ``public`` is the anonymous caller and ``system`` an API key: neither
#: is a user account.
ASSIGNABLE_ROLES = (Role.staff, Role.reviewer, Role.office, Role.admin)
#: Roles that act only for their own department, so the account must name one.
DEPARTMENT_ROLES = (Role.staff, Role.reviewer)


def _sql_array(roles: tuple[Role, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{r.value}'" for r in roles) + "]::varchar[]"


#: The same rules as the schemas, kept by the database too (the CLI and a later admin tool write here).
ROLES_VALID = f"cardinality(roles) >= 1 AND roles <@ {_sql_array(ASSIGNABLE_ROLES)}"
DEPARTMENT_REQUIRED = f"department_id IS NOT NULL OR NOT (roles && {_sql_array(DEPARTMENT_ROLES)})"
USERNAME_LENGTH = "char_length(username) BETWEEN 3 AND 64"


class User(IdMixin, TimestampMixin, Base):
    """A person who signs in at the gateway: staff, reviewer, disclosure office or administrator."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(ROLES_VALID, name="roles_valid"),
        CheckConstraint(DEPARTMENT_REQUIRED, name="department_required"),
        CheckConstraint(USERNAME_LENGTH, name="username_length"),
    )

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    department_id: Mapped[uuid.UUID | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class RefreshToken(IdMixin, Base):
    """One refresh token (only its sha256 is kept). Each use rotates it: the used one is marked and
    a new one of the same family issued; presenting a used one again revokes the whole family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_user_id", "user_id"), Index("ix_refresh_tokens_family_id", "family_id"))

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID] = mapped_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class Organization(Base):
    """A 机关 as the catalog announces it (catalog.organization.created/updated): names for the users."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(32))
    parent_id: Mapped[uuid.UUID | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(IdMixin, TimestampMixin, Base):
    """Another government system's key: only the sha256 of the (high-entropy) key is kept."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(100))
    #: The first characters of the key (``gk_AbCd1234``), shown in lists so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``<service>:read`` / ``<service>:write``, ``webhooks``, ``personal_data``.
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    #: Organizations it may act for; NULL: all of them.
    organization_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid()))
    created_by: Mapped[str] = mapped_column(String(64))
    rotated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookSubscription(IdMixin, TimestampMixin, Base):
    """Where to send which events: a target URL, NATS subject filters, the signing secret."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (CheckConstraint("status IN ('active', 'paused')", name="status_valid"),)

    name: Mapped[str] = mapped_column(String(100))
    target_url: Mapped[str] = mapped_column(Text)
    filters: Mapped[list[str]] = mapped_column(ARRAY(String(200)))
    #: The HMAC key: kept as given, since every delivery is signed with it.
    secret: Mapped[str] = mapped_column(String(200))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(64))
    #: Set by the office only: the target may be a private or loopback address.
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The payload may carry personal data (the owner's key holds the ``personal_data`` scope).
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(10), default="active", server_default="active")
    failing_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(IdMixin, Base):
    """One event for one subscription: pending until the receiver answered 2xx, or failed after a day.

    ``seq`` orders the deliveries of a subscription as the events arrived; a pending delivery holds
    back later deliveries of the same subject for the same subscription (in order per subject).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_valid"),
        Index("uq_webhook_deliveries_subscription_event", "subscription_id", "event_id", unique=True),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"),
        Index(
            "ix_webhook_deliveries_chain", "subscription_id", "subject", "seq", postgresql_where="status = 'pending'"
        ),
        Index("ix_webhook_deliveries_log", "subscription_id", "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), unique=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: The body as sent (the envelope's fields only), so a replay sends the same bytes' meaning.
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: A worker is sending it until then (several worker replicas share the work).
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_latency_ms: Mapped[float | None] = mapped_column(Float)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(IdMixin, Base):
    """The delivery log: every attempt, its answer, how long it took, what went wrong."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id", "delivery_id"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    subscription_id: Mapped[uuid.UUID] = mapped_column()
    attempted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
