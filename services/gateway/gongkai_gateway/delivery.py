"""The webhook dispatcher: sends due deliveries, signed, and records every attempt.

Each delivery is a POST of the JSON payload with

- ``X-Gongkai-Timestamp``: seconds since the epoch when it was signed (receivers refuse old ones:
  a replayed request carries an old timestamp, and changing it breaks the signature);
- ``X-Gongkai-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``;
- ``X-Gongkai-Event-Id`` (the same across retries and replays: receivers deduplicate on it) and
  ``X-Gongkai-Event-Type``.

A 2xx answer is success; anything else (3xx included: redirects are never followed), a timeout or
a refused target is a failure, retried after 1 min, 2, 4, … up to 2 h between attempts, given up a
day after the event was queued (all settings). A subscription whose deliveries have all failed for
``webhook_pause_after_seconds`` is paused and ``gateway.webhook.paused`` tells the office.

Several worker replicas share the work: a delivery is claimed by setting ``locked_until`` in a
statement that skips rows another replica holds, and only the oldest pending delivery of each
(subscription, subject) can be claimed (in order per subject; see webhooks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from gongkai_shared.contracts.gateway import WEBHOOK_PAUSED_V1, WebhookPausedV1
from gongkai_shared.db import utcnow
from gongkai_shared.events import emit
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gongkai_gateway.models import WebhookAttempt, event_tables
from gongkai_gateway.netguard import TargetRefused, check_target, parse_target
from gongkai_gateway.settings import GatewaySettings

__all__ = ["Dispatcher", "sign"]

log = structlog.get_logger("gongkai.gateway.delivery")

SIGNATURE_VERSION = "v1"

_CLAIM = text(
    "UPDATE webhook_deliveries d SET locked_until = clock_timestamp() + make_interval(secs => CAST(:lock AS float8)) "
    "FROM webhook_subscriptions s "
    "WHERE s.id = d.subscription_id AND d.id IN ("
    " SELECT d2.id FROM webhook_deliveries d2 JOIN webhook_subscriptions s2 ON s2.id = d2.subscription_id"
    " WHERE d2.status = 'pending' AND s2.status = 'active' AND d2.next_attempt_at <= clock_timestamp()"
    " AND (d2.locked_until IS NULL OR d2.locked_until < clock_timestamp())"
    " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.subscription_id = d2.subscription_id"
    "  AND e.subject = d2.subject AND e.status = 'pending' AND e.seq < d2.seq)"
    " ORDER BY d2.seq LIMIT :n FOR UPDATE OF d2 SKIP LOCKED) "
    "RETURNING d.id, d.subscription_id, d.event_id, d.event_type, d.payload, d.attempts, d.created_at,"
    " s.target_url, s.secret, s.allow_private"
)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``: what a receiver recomputes."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={mac}"


@dataclass
class _Result:
    succeeded: bool
    status_code: int | None
    latency_ms: float
    error: str | None


class Dispatcher:
    """Sends due deliveries until ``stop`` is set; wakes early when :meth:`wake` is called."""

    def __init__(self, settings: GatewaySettings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self._wake = asyncio.Event()
        self.failures = 0  # attempts that failed, since start (the worker logs it)

    def wake(self) -> None:
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: initial · 2^(attempts-1), capped."""
        s = self.settings
        return min(s.webhook_backoff_initial_seconds * 2 ** max(attempts - 1, 0), s.webhook_backoff_max_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        limits = httpx.Limits(max_connections=self.settings.webhook_concurrency * 2, max_keepalive_connections=20)
        async with httpx.AsyncClient(
            follow_redirects=False, timeout=self.settings.webhook_timeout_seconds, limits=limits, trust_env=False
        ) as client:
            while not stop.is_set():
                try:
                    sent = await self.run_once(client)
                except Exception as exc:  # the database away: try again shortly
                    log.warning("webhook_dispatch_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                    sent = 0
                if sent:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        _first(stop.wait(), self._wake.wait()), timeout=self.settings.webhook_poll_seconds
                    )

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """Claim what is due, send it concurrently, record the outcomes; how many were sent."""
        lock = self.settings.webhook_timeout_seconds * 3 + 30
        async with self.sessionmaker() as session, session.begin():
            claimed = (
                (await session.execute(_CLAIM, {"lock": lock, "n": self.settings.webhook_concurrency})).mappings().all()
            )
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._send(client, row) for row in claimed))
        for row, result in zip(claimed, results, strict=True):
            await self._record(row, result)
        return len(claimed)

    async def _send(self, client: httpx.AsyncClient, row: Any) -> _Result:
        body = json.dumps(row["payload"], ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Gongkai-Webhooks/1",
            "X-Gongkai-Timestamp": timestamp,
            "X-Gongkai-Signature": sign(row["secret"], timestamp, body),
            "X-Gongkai-Event-Id": str(row["event_id"]),
            "X-Gongkai-Event-Type": row["event_type"],
        }
        started = time.perf_counter()
        try:
            # Checked again now (DNS may have changed since the subscription was saved), and the
            # request goes to the address just checked: no second lookup to rebind.
            target = await check_target(row["target_url"], allow_private=row["allow_private"])
        except TargetRefused as exc:
            return _Result(False, None, _ms(started), f"{exc.code}: {exc.reason}")
        url = target.pinned_url(row["target_url"])
        _, host, port = parse_target(row["target_url"])
        default_port = 443 if target.scheme == "https" else 80
        headers["Host"] = host if port == default_port else f"{host}:{port}"
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        try:
            resp = await client.post(url, content=body, headers=headers, extensions=extensions)
        except httpx.TimeoutException as exc:
            return _Result(False, None, _ms(started), f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return _Result(False, None, _ms(started), f"{type(exc).__name__}: {exc}"[:300])
        ok = 200 <= resp.status_code < 300
        error = (
            None if ok else f"HTTP {resp.status_code}" + (" (重定向不跟随)" if 300 <= resp.status_code < 400 else "")
        )
        return _Result(ok, resp.status_code, _ms(started), error)

    async def _record(self, row: Any, result: _Result) -> None:
        s = self.settings
        now = utcnow()
        attempts = row["attempts"] + 1
        async with self.sessionmaker() as session, session.begin():
            session.add(
                WebhookAttempt(
                    delivery_id=row["id"],
                    subscription_id=row["subscription_id"],
                    attempted_at=now,
                    succeeded=result.succeeded,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                )
            )
            common = {
                "id": row["id"],
                "attempts": attempts,
                "code": result.status_code,
                "error": result.error,
                "ms": result.latency_ms,
            }
            if result.succeeded:
                await session.execute(
                    text(
                        "UPDATE webhook_deliveries SET status = 'succeeded', attempts = :attempts, locked_until = NULL,"
                        " last_status_code = :code, last_error = :error, last_latency_ms = :ms, delivered_at = :now"
                        " WHERE id = :id"
                    ),
                    {**common, "now": now},
                )
                await session.execute(
                    text(
                        "UPDATE webhook_subscriptions SET failing_since = NULL"
                        " WHERE id = :id AND failing_since IS NOT NULL"
                    ),
                    {"id": row["subscription_id"]},
                )
                return
            self.failures += 1
            next_at = now + dt.timedelta(seconds=self.backoff(attempts))
            gave_up = next_at > row["created_at"] + dt.timedelta(seconds=s.webhook_retry_total_seconds)
            await session.execute(
                text(
                    "UPDATE webhook_deliveries SET status = :status, attempts = :attempts, locked_until = NULL,"
                    " next_attempt_at = :next, last_status_code = :code, last_error = :error, last_latency_ms = :ms"
                    " WHERE id = :id"
                ),
                {**common, "status": "failed" if gave_up else "pending", "next": next_at},
            )
            log.warning(
                "webhook_delivery_failed",
                subscription_id=str(row["subscription_id"]),
                event_id=str(row["event_id"]),
                attempts=attempts,
                gave_up=gave_up,
                error=(result.error or "")[:200],
            )
            await self._maybe_pause(session, row["subscription_id"], now, result.error)

    async def _maybe_pause(
        self, session: AsyncSession, subscription_id: uuid.UUID, now: dt.datetime, error: str | None
    ) -> None:
        sub = (
            (
                await session.execute(
                    text(
                        "UPDATE webhook_subscriptions SET failing_since = coalesce(failing_since, :now) WHERE id = :id"
                        " RETURNING id, name, target_url, api_key_id, status, failing_since"
                    ),
                    {"id": subscription_id, "now": now},
                )
            )
            .mappings()
            .first()
        )
        if sub is None or sub["status"] != "active":
            return
        if (now - sub["failing_since"]).total_seconds() < self.settings.webhook_pause_after_seconds:
            return
        await session.execute(
            text("UPDATE webhook_subscriptions SET status = 'paused', paused_at = :now WHERE id = :id"),
            {"id": subscription_id, "now": now},
        )
        await emit(
            session,
            event_tables,
            WEBHOOK_PAUSED_V1,
            WebhookPausedV1(
                subscription_id=subscription_id,
                name=sub["name"],
                target_host=parse_target(sub["target_url"])[1],
                api_key_id=sub["api_key_id"],
                failing_since=sub["failing_since"],
                paused_at=now,
                last_error=(error or "")[:300] or None,
            ),
        )
        log.warning("webhook_paused", subscription_id=str(subscription_id))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def _first(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
