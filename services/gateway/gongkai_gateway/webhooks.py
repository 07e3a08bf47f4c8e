"""Webhook subscriptions, their delivery log and replay; turning events into deliveries.

Who may subscribe to what: the office (and administrator) to any subject, with ``allow_private``
and ``personal_data`` at its discretion; a system with the ``webhooks`` scope to subjects of the
services it may read, for the organizations its key names, never to private addresses, with
personal data only if its key holds ``personal_data``.

Order (documented choice): deliveries of one subscription are sent in the order the events arrived,
per subject. A delivery that fails holds back the later deliveries of the same subject for that
subscription until it succeeds or is given up (after ``webhook_retry_total_seconds``); other
subjects go on. Receivers thus see each entity's events in order without blocking on an unrelated
failure.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from gongkai_shared.auth import Principal, Role
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Forbidden, NotFound, ValidationFailed
from gongkai_shared.events import Envelope
from gongkai_shared.events.streams import PRODUCERS
from gongkai_shared.ids import uuid7
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_gateway.keys import PERSONAL_DATA_SCOPE, WEBHOOKS_SCOPE, require_scope
from gongkai_gateway.models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookSubscription
from gongkai_gateway.netguard import TargetRefused, check_target
from gongkai_gateway.schemas import ReplayRange, WebhookCreate
from gongkai_gateway.settings import UPSTREAMS

__all__ = [
    "create_subscription",
    "delete_subscription",
    "deliveries_for",
    "get_subscription",
    "ingest",
    "list_attempts",
    "list_deliveries",
    "list_subscriptions",
    "payload_for",
    "replay_delivery",
    "replay_range",
    "resume_subscription",
    "subject_matches",
]

log = structlog.get_logger("gongkai.gateway.webhooks")

#: Keys of ``data`` never sent to a subscriber without the personal-data scope, whatever a producer
#: puts there by mistake (events carry no personal data by contract; this is the second lock).
PERSONAL_KEYS = frozenset(
    {"applicant", "applicant_name", "id_number", "id_card", "mobile", "phone_number", "email", "contact", "secret"}
)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS matching: ``*`` is one token, ``>`` one or more trailing tokens."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def _strip_personal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_personal(v) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [_strip_personal(v) for v in value]
    return value


def payload_for(envelope: Envelope, *, personal_data: bool) -> dict[str, Any]:
    """The body of a delivery: the envelope's own fields only, nothing a transport added."""
    body = envelope.model_dump(mode="json", include={"id", "type", "source", "occurred_at", "correlation_id", "data"})
    if not personal_data:
        body["data"] = _strip_personal(body["data"])
    return body


def _services_of(filter_: str) -> set[str]:
    first = filter_.split(".", 1)[0]
    return set(PRODUCERS) if first in ("*", ">") else {first}


# -- subscriptions ----------------------------------------------------------------------------------


def _is_office(principal: Principal) -> bool:
    return principal.has_any(Role.office, Role.admin)


def _api_key_id(principal: Principal) -> uuid.UUID:
    return uuid.UUID(principal.subject.removeprefix("apikey:"))


def require_manager(principal: Principal) -> None:
    """The office, or a system whose key holds the ``webhooks`` scope."""
    if _is_office(principal):
        return
    if Role.system in principal.roles:
        require_scope(principal, WEBHOOKS_SCOPE, what="webhooks")
        return
    raise Forbidden("只有政务公开办或持有 webhooks 权限的系统可以管理推送订阅")


async def create_subscription(
    session: AsyncSession, *, principal: Principal, data: WebhookCreate
) -> tuple[WebhookSubscription, str | None]:
    """Save a subscription after checking its filters against the caller's scopes and its target."""
    require_manager(principal)
    office = _is_office(principal)
    if not office:
        if data.allow_private:
            raise Forbidden("只有政务公开办可以允许内网接收地址", code="allow_private_denied")
        if data.personal_data and not principal.has_scope(PERSONAL_DATA_SCOPE):
            raise Forbidden("API 密钥没有 personal_data 权限", code="scope_denied")
        for i, filter_ in enumerate(data.filters):
            for service in _services_of(filter_):
                if service not in UPSTREAMS or not principal.has_scope(f"{service}:read"):
                    log.warning("api_key_beyond_scope", subject=principal.subject, scope=f"{service}:read")
                    raise ValidationFailed.for_field(
                        f"body.filters.{i}", f"API 密钥无权订阅 {service} 的事件（需要 {service}:read）", "scope_denied"
                    )
    try:
        await check_target(data.target_url, allow_private=data.allow_private and office)
    except TargetRefused as exc:
        raise ValidationFailed.for_field("body.target_url", exc.reason, exc.code) from None
    generated = None if data.secret is not None else secrets.token_urlsafe(32)
    row = WebhookSubscription(
        name=data.name,
        target_url=data.target_url,
        filters=list(dict.fromkeys(data.filters)),
        secret=data.secret.get_secret_value() if data.secret is not None else generated,
        api_key_id=None if office else _api_key_id(principal),
        created_by=principal.subject,
        allow_private=data.allow_private and office,
        personal_data=data.personal_data,
        status="active",
    )
    session.add(row)
    await session.flush()
    log.info("webhook_created", subscription_id=str(row.id), filters=row.filters, by=principal.subject)
    return row, generated


async def list_subscriptions(session: AsyncSession, *, principal: Principal) -> list[WebhookSubscription]:
    require_manager(principal)
    stmt = select(WebhookSubscription).order_by(WebhookSubscription.id)
    if not _is_office(principal):
        stmt = stmt.where(WebhookSubscription.api_key_id == _api_key_id(principal))
    return list(await session.scalars(stmt))


async def get_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, lock: bool = False
) -> WebhookSubscription:
    """The subscription if the caller may see it (the office: all; a system: its own); else 404."""
    require_manager(principal)
    row = await session.get(WebhookSubscription, subscription_id, with_for_update=lock)
    if row is None or (not _is_office(principal) and row.api_key_id != _api_key_id(principal)):
        raise NotFound("没有这个推送订阅", code="webhook_not_found")
    return row


async def delete_subscription(session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID) -> None:
    row = await get_subscription(session, principal=principal, subscription_id=subscription_id, lock=True)
    await session.delete(row)


async def resume_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """Resume a paused subscription: its held deliveries are due at once."""
    row = await get_subscription(session, principal=principal, subscription_id=subscription_id, lock=True)
    now = utcnow()
    row.status, row.failing_since, row.paused_at = "active", None, None
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == row.id, WebhookDelivery.status == "pending")
        .values(next_attempt_at=now)
    )
    return row


# -- the delivery log and replay --------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession,
    *,
    principal: Principal,
    subscription_id: uuid.UUID,
    status: str | None,
    limit: int,
    before_seq: int | None,
) -> list[WebhookDelivery]:
    await get_subscription(session, principal=principal, subscription_id=subscription_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if before_seq is not None:
        stmt = stmt.where(WebhookDelivery.seq < before_seq)
    return list(await session.scalars(stmt.order_by(WebhookDelivery.seq.desc()).limit(limit)))


async def _delivery(session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    row = await session.get(WebhookDelivery, delivery_id)
    if row is None or row.subscription_id != subscription_id:
        raise NotFound("没有这次投递", code="delivery_not_found")
    return row


async def list_attempts(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> list[WebhookAttempt]:
    await get_subscription(session, principal=principal, subscription_id=subscription_id)
    await _delivery(session, subscription_id, delivery_id)
    stmt = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
    return list(await session.scalars(stmt))


_REQUEUE = {"status": "pending", "locked_until": None}


async def replay_delivery(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Send one delivery again (same event id: receivers can recognise it), with a fresh day of retries."""
    await get_subscription(session, principal=principal, subscription_id=subscription_id)
    row = await _delivery(session, subscription_id, delivery_id)
    now = utcnow()
    row.status, row.locked_until, row.next_attempt_at, row.created_at = "pending", None, now, now
    return row


async def replay_range(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, window: ReplayRange
) -> int:
    """Send again every delivery whose event occurred in ``window``, in their original order."""
    await get_subscription(session, principal=principal, subscription_id=subscription_id)
    now = utcnow()
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.occurred_at >= window.occurred_from,
            WebhookDelivery.occurred_at < window.occurred_to,
        )
        .values(**_REQUEUE, next_attempt_at=now, created_at=now)
    )
    return result.rowcount or 0


# -- events in: one delivery per (event, matching subscription) -------------------------------------


async def ingest(session: AsyncSession, envelopes: Sequence[Envelope]) -> int:
    """Queue a delivery for every subscription whose filters match each event (the worker's handler).

    Paused subscriptions still queue (they get everything on resume); subscriptions of a revoked
    key do not. An event about an organization a key may not act for is not queued for it.
    """
    rows = (
        await session.execute(
            select(
                WebhookSubscription.id,
                WebhookSubscription.filters,
                WebhookSubscription.personal_data,
                ApiKey.organization_ids,
                ApiKey.revoked_at,
                WebhookSubscription.api_key_id,
            ).outerjoin(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
        )
    ).all()
    values: list[tuple[Any, ...]] = []
    now = utcnow()
    for envelope in envelopes:
        subject = envelope.subject
        for sub_id, filters, personal, orgs, revoked_at, key_id in rows:
            if key_id is not None and revoked_at is not None:
                continue
            if not any(subject_matches(f, subject) for f in filters):
                continue
            if orgs is not None and not _organization_allowed(envelope.data, orgs):
                continue
            payload = json.dumps(payload_for(envelope, personal_data=personal), ensure_ascii=False)
            values.append((uuid7(), sub_id, envelope.id, envelope.type, subject, envelope.occurred_at, payload))
    if values:
        # One statement with arrays (its text is the same whatever the batch size): a multi-row
        # VALUES statement of a 256-event batch took longer to compile than to run.
        columns = list(zip(*values, strict=True))
        await session.execute(
            _INSERT_DELIVERIES,
            {
                "ids": list(columns[0]),
                "subs": list(columns[1]),
                "events": list(columns[2]),
                "types": list(columns[3]),
                "subjects": list(columns[4]),
                "occurred": list(columns[5]),
                "payloads": list(columns[6]),
                "now": now,
            },
        )
    return len(values)


_INSERT_DELIVERIES = text(
    "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, subject, occurred_at, payload,"
    " status, attempts, created_at, next_attempt_at) "
    "SELECT u.id, u.sub, u.event, u.type, u.subject, u.occurred, CAST(u.payload AS jsonb), 'pending', 0, :now, :now"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:subs AS uuid[]), CAST(:events AS uuid[]), CAST(:types AS text[]),"
    "  CAST(:subjects AS text[]), CAST(:occurred AS timestamptz[]), CAST(:payloads AS text[]))"
    "  WITH ORDINALITY AS u(id, sub, event, type, subject, occurred, payload, ord)"
    " ORDER BY u.ord"  # seq follows the events' order: the order per subject of the deliveries
    " ON CONFLICT DO NOTHING"
)


def _organization_allowed(data: dict[str, Any], organizations: list[uuid.UUID]) -> bool:
    named = [data.get(k) for k in ("organization_id", "department_id") if data.get(k)]
    if not named:
        return True  # not about one organization
    allowed = {str(o) for o in organizations}
    return any(str(n) in allowed for n in named)


async def deliveries_for(session: AsyncSession, subscription_id: uuid.UUID) -> dict[str, int]:
    """Counts by status (for tests and the office's overview)."""
    rows = await session.execute(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.subscription_id == subscription_id)
        .group_by(WebhookDelivery.status)
    )
    return {status: count for status, count in rows.all()}
