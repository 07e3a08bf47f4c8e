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

Speed without giving up order (issue 7, benchmark): deliveries of one (subscription, subject) form a
*lane*; lanes run concurrently (up to ``webhook_concurrency``), and within a lane deliveries go one
after the other. A claim takes the lane's head (the oldest pending delivery, claimable only when no
earlier one of its subject is pending) and, in the same transaction, the next
``webhook_lane_batch`` - 1 pending deliveries behind it (a contiguous run: it stops at one that is
locked or not yet due). The lane sends its run in order and stops at the first failure: that
delivery is retried later and holds back the rest, which are released unsent. Outcomes are not
written one transaction each: a recorder writes every outcome that has accumulated in one
transaction (the attempt log rows in one statement, the succeeded deliveries in one ``unnest``
update), then wakes the dispatcher to claim what became due.

Several worker replicas share the work: a claimed delivery carries ``locked_until``; heads are
locked with ``FOR UPDATE SKIP LOCKED``, and another replica never claims a delivery behind a pending
one, so a lane is only ever sent by one replica. A worker that dies mid-run leaves its rows locked
until ``locked_until`` (then they are sent again: receivers deduplicate on the event id).
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
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from gongkai_shared.contracts.gateway import WEBHOOK_PAUSED_V1, WebhookPausedV1
from gongkai_shared.db import utcnow
from gongkai_shared.events import emit
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gongkai_gateway.models import WebhookAttempt, event_tables
from gongkai_gateway.netguard import Target, TargetRefused, check_target, parse_target
from gongkai_gateway.settings import GatewaySettings

__all__ = ["Dispatcher", "sign"]

log = structlog.get_logger("gongkai.gateway.delivery")

SIGNATURE_VERSION = "v1"

_RETURNING = (
    "RETURNING d.id, d.subscription_id, d.subject, d.seq, d.event_id, d.event_type, d.payload, d.attempts,"
    " d.created_at, d.next_attempt_at, s.target_url, s.secret, s.allow_private"
)
_LOCK_UNTIL = "clock_timestamp() + make_interval(secs => CAST(:lock AS float8))"
_FREE = "(x.locked_until IS NULL OR x.locked_until < clock_timestamp())"

#: The heads of lanes: the oldest pending delivery of each (subscription, subject), if it is due, not
#: locked and its subscription active. The recursive part skips through the partial index of pending
#: deliveries (subscription, subject, seq), one probe per lane however long the backlog; the lock is
#: taken on the head rows themselves (SKIP LOCKED: a head another replica is claiming is left to
#: it), and their conditions are checked again then.
_CLAIM_HEADS = text(
    "WITH RECURSIVE lanes AS ("
    " (SELECT h.id, h.subscription_id, h.subject FROM webhook_deliveries h WHERE h.status = 'pending'"
    "  ORDER BY h.subscription_id, h.subject, h.seq LIMIT 1)"
    " UNION ALL"
    " SELECT n.id, n.subscription_id, n.subject FROM lanes p CROSS JOIN LATERAL ("
    "  SELECT h.id, h.subscription_id, h.subject FROM webhook_deliveries h WHERE h.status = 'pending'"
    "  AND (h.subscription_id, h.subject) > (p.subscription_id, p.subject)"
    "  ORDER BY h.subscription_id, h.subject, h.seq LIMIT 1) n"
    ") "
    f"UPDATE webhook_deliveries d SET locked_until = {_LOCK_UNTIL} "
    "FROM webhook_subscriptions s "
    "WHERE s.id = d.subscription_id AND d.id IN ("
    " SELECT x.id FROM webhook_deliveries x WHERE x.id IN (SELECT id FROM lanes)"
    f" AND x.status = 'pending' AND x.next_attempt_at <= clock_timestamp() AND {_FREE}"
    " AND EXISTS (SELECT 1 FROM webhook_subscriptions a WHERE a.id = x.subscription_id AND a.status = 'active')"
    " ORDER BY x.seq LIMIT :n FOR UPDATE OF x SKIP LOCKED) "
    f"{_RETURNING}"
)
#: Behind each claimed head, the next pending deliveries of its lane: a contiguous run (the running
#: ``bool_and`` stops it at the first one that is locked or not yet due, so no delivery is skipped).
_CLAIM_RUNS = text(
    f"UPDATE webhook_deliveries d SET locked_until = {_LOCK_UNTIL} "
    "FROM webhook_subscriptions s "
    "WHERE s.id = d.subscription_id AND d.id IN ("
    " SELECT r.id FROM unnest(CAST(:subs AS uuid[]), CAST(:subjects AS text[]), CAST(:seqs AS bigint[]))"
    "  AS h(subscription_id, subject, seq)"
    " CROSS JOIN LATERAL ("
    "  SELECT y.id FROM ("
    f"   SELECT x.id, bool_and(x.next_attempt_at <= clock_timestamp() AND {_FREE}) OVER (ORDER BY x.seq) AS free"
    "   FROM (SELECT * FROM webhook_deliveries w WHERE w.subscription_id = h.subscription_id"
    "    AND w.subject = h.subject AND w.status = 'pending' AND w.seq > h.seq ORDER BY w.seq LIMIT :k) x"
    "  ) y WHERE y.free"
    " ) r) "
    f"{_RETURNING}"
)
_SUCCEEDED = text(
    "UPDATE webhook_deliveries d SET status = 'succeeded', attempts = d.attempts + 1, locked_until = NULL,"
    " last_status_code = u.code, last_error = NULL, last_latency_ms = u.ms, delivered_at = u.at "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:codes AS int[]), CAST(:ms AS float8[]), CAST(:ats AS timestamptz[]))"
    " AS u(id, code, ms, at) WHERE d.id = u.id"
)
_RELEASE = text(
    "UPDATE webhook_deliveries SET locked_until = NULL WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'pending'"
)
_RECOVERED = text(
    "UPDATE webhook_subscriptions SET failing_since = NULL"
    " WHERE id = ANY(CAST(:ids AS uuid[])) AND failing_since IS NOT NULL"
)
_FAILED = text(
    "UPDATE webhook_deliveries SET status = :status, attempts = attempts + 1, locked_until = NULL,"
    " next_attempt_at = :next, last_status_code = :code, last_error = :error, last_latency_ms = :ms"
    " WHERE id = :id"
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
    at: dt.datetime


@dataclass
class _Outcome:
    row: Mapping[str, Any]
    #: None: released unsent (behind a failure, or the run ran out of time).
    result: _Result | None
    #: The lane's last outcome: once written, the lane's next deliveries can be claimed.
    ends_run: bool = False


class Dispatcher:
    """Sends due deliveries until ``stop`` is set; wakes early when :meth:`wake` is called."""

    def __init__(self, settings: GatewaySettings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self._wake = asyncio.Event()
        self._outcomes: list[_Outcome] = []
        self._have_outcomes = asyncio.Event()
        self._lanes: set[asyncio.Task[None]] = set()
        self.failures = 0  # attempts that failed, since start (the worker logs it)

    @property
    def lock_seconds(self) -> float:
        """How long a claim holds its rows: a run stops sending well before the lock ends."""
        return self.settings.webhook_timeout_seconds * 3 + 30

    def wake(self) -> None:
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: initial · 2^(attempts-1), capped."""
        s = self.settings
        return min(s.webhook_backoff_initial_seconds * 2 ** max(attempts - 1, 0), s.webhook_backoff_max_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        recorder_stop = asyncio.Event()
        async with _client(self.settings) as client:
            recorder = asyncio.create_task(self._recorder(recorder_stop), name="webhook-recorder")
            try:
                while not stop.is_set():
                    self._wake.clear()
                    try:
                        await self.claim_and_start(client, stop)
                    except Exception as exc:  # the database away: try again shortly
                        log.warning("webhook_dispatch_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            _first(stop.wait(), self._wake.wait()), timeout=self.settings.webhook_poll_seconds
                        )
            finally:
                # Lanes see ``stop`` before their next send; what they sent is recorded, the rest released.
                if self._lanes:
                    await asyncio.wait(set(self._lanes), timeout=self.settings.webhook_timeout_seconds + 2)
                recorder_stop.set()
                await recorder

    async def claim_and_start(self, client: aiohttp.ClientSession, stop: asyncio.Event) -> int:
        """Claim runs for the free lane slots and start a task per lane; how many lanes started."""
        free = self.settings.webhook_concurrency - len(self._lanes)
        if free <= 0:
            return 0
        runs = await self._claim(free)
        for rows in runs:
            task = asyncio.create_task(self._lane(client, rows, stop))
            self._lanes.add(task)
            task.add_done_callback(self._lane_done)
        return len(runs)

    def _lane_done(self, task: asyncio.Task[None]) -> None:
        self._lanes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("webhook_lane_failed", error=f"{type(task.exception()).__name__}"[:100])

    async def _claim(self, lanes: int) -> list[list[Mapping[str, Any]]]:
        lock = self.lock_seconds
        async with self.sessionmaker() as session, session.begin():
            heads = (await session.execute(_CLAIM_HEADS, {"lock": lock, "n": lanes})).mappings().all()
            if not heads:
                return []
            followers: Sequence[Mapping[str, Any]] = []
            if self.settings.webhook_lane_batch > 1:
                params = {
                    "lock": lock,
                    "k": self.settings.webhook_lane_batch - 1,
                    "subs": [h["subscription_id"] for h in heads],
                    "subjects": [h["subject"] for h in heads],
                    "seqs": [h["seq"] for h in heads],
                }
                followers = (await session.execute(_CLAIM_RUNS, params)).mappings().all()
        runs: dict[tuple[uuid.UUID, str], list[Mapping[str, Any]]] = defaultdict(list)
        for row in [*heads, *followers]:
            runs[(row["subscription_id"], row["subject"])].append(row)
        return [sorted(rows, key=lambda r: r["seq"]) for rows in runs.values()]

    async def _lane(self, client: aiohttp.ClientSession, rows: list[Mapping[str, Any]], stop: asyncio.Event) -> None:
        """Send one lane's run in order; stop at the first failure and release what is left."""
        # Stop early enough that the last send (timeout included) ends before the lock does.
        send_until = time.monotonic() + self.lock_seconds - self.settings.webhook_timeout_seconds - 10
        target: Target | TargetRefused | None = None
        sent = 0
        last: _Outcome | None = None
        try:
            for row in rows:
                if stop.is_set() or time.monotonic() > send_until:
                    break
                if sent and row["next_attempt_at"] > utcnow():
                    break  # claimed as due; a clock this far off means: leave it for its own time
                if target is None:
                    # Checked when the run starts (DNS may have changed since the subscription was
                    # saved), and the requests go to the address just checked: no second lookup.
                    try:
                        target = await check_target(row["target_url"], allow_private=row["allow_private"])
                    except TargetRefused as exc:
                        target = exc
                result = await self._send(client, row, target)
                sent += 1
                last = _Outcome(row, result)
                self._record(last)
                if not result.succeeded:
                    break
        finally:
            for row in rows[sent:]:
                last = _Outcome(row, None)
                self._record(last)
            if last is not None:  # no await since it was recorded: the recorder has not taken it yet
                last.ends_run = True

    def _record(self, outcome: _Outcome) -> None:
        self._outcomes.append(outcome)
        self._have_outcomes.set()

    async def _send(
        self, client: aiohttp.ClientSession, row: Mapping[str, Any], target: Target | TargetRefused
    ) -> _Result:
        started = time.perf_counter()
        if isinstance(target, TargetRefused):
            return _Result(False, None, _ms(started), f"{target.code}: {target.reason}", utcnow())
        body = json.dumps(row["payload"], ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        _, host, port = parse_target(row["target_url"])
        default_port = 443 if target.scheme == "https" else 80
        headers = {
            "Host": host if port == default_port else f"{host}:{port}",
            "Content-Type": "application/json",
            "User-Agent": "Gongkai-Webhooks/1",
            "X-Gongkai-Timestamp": timestamp,
            "X-Gongkai-Signature": sign(row["secret"], timestamp, body),
            "X-Gongkai-Event-Id": str(row["event_id"]),
            "X-Gongkai-Event-Type": row["event_type"],
        }
        try:
            async with client.post(
                target.pinned_url(row["target_url"]),
                data=body,
                headers=headers,
                allow_redirects=False,
                server_hostname=host if target.scheme == "https" else None,
            ) as resp:
                status = resp.status
                await resp.read()  # the connection goes back to the pool only once the body is read
        except TimeoutError as exc:
            return _Result(False, None, _ms(started), f"timeout: {type(exc).__name__}", utcnow())
        except (aiohttp.ClientError, OSError) as exc:
            return _Result(False, None, _ms(started), f"{type(exc).__name__}: {exc}"[:300], utcnow())
        ok = 200 <= status < 300
        error = None if ok else f"HTTP {status}" + (" (重定向不跟随)" if 300 <= status < 400 else "")
        return _Result(ok, status, _ms(started), error, utcnow())

    # -- the recorder: outcomes written in batches ----------------------------------------------------

    async def _recorder(self, stop: asyncio.Event) -> None:
        """Write what accumulated, one transaction per batch, until ``stop`` and nothing is left."""
        while True:
            if not self._outcomes:
                if stop.is_set():
                    return
                self._have_outcomes.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop.wait(), self._have_outcomes.wait()), timeout=1.0)
                continue
            batch, self._outcomes = self._outcomes, []
            try:
                await self.write_outcomes(batch)
            except Exception as exc:  # the database away: keep them and try again
                log.warning("webhook_record_failed", error=f"{type(exc).__name__}: {exc}"[:300], outcomes=len(batch))
                self._outcomes[:0] = batch
                if stop.is_set():
                    return  # the locks run out and the deliveries are sent again: at least once
                await asyncio.sleep(0.5)
                continue
            if any(o.ends_run for o in batch):
                self._wake.set()  # a lane's next deliveries are claimable now

    async def write_outcomes(self, batch: Sequence[_Outcome]) -> None:
        succeeded = [o for o in batch if o.result is not None and o.result.succeeded]
        failed = [o for o in batch if o.result is not None and not o.result.succeeded]
        released = [o.row["id"] for o in batch if o.result is None]
        async with self.sessionmaker() as session, session.begin():
            attempts = [
                {
                    "delivery_id": o.row["id"],
                    "subscription_id": o.row["subscription_id"],
                    "attempted_at": o.result.at,
                    "succeeded": o.result.succeeded,
                    "status_code": o.result.status_code,
                    "latency_ms": o.result.latency_ms,
                    "error": o.result.error,
                }
                for o in batch
                if o.result is not None
            ]
            if attempts:
                await session.execute(insert(WebhookAttempt), attempts)
            if succeeded:
                await session.execute(
                    _SUCCEEDED,
                    {
                        "ids": [o.row["id"] for o in succeeded],
                        "codes": [o.result.status_code for o in succeeded if o.result],
                        "ms": [o.result.latency_ms for o in succeeded if o.result],
                        "ats": [o.result.at for o in succeeded if o.result],
                    },
                )
                await session.execute(_RECOVERED, {"ids": list({o.row["subscription_id"] for o in succeeded})})
            if released:
                await session.execute(_RELEASE, {"ids": released})
            for o in failed:
                await self._failed(session, o.row, o.result)  # type: ignore[arg-type]

    async def _failed(self, session: AsyncSession, row: Mapping[str, Any], result: _Result) -> None:
        s = self.settings
        self.failures += 1
        attempts = row["attempts"] + 1
        next_at = result.at + dt.timedelta(seconds=self.backoff(attempts))
        gave_up = next_at > row["created_at"] + dt.timedelta(seconds=s.webhook_retry_total_seconds)
        await session.execute(
            _FAILED,
            {
                "id": row["id"],
                "status": "failed" if gave_up else "pending",
                "next": next_at,
                "code": result.status_code,
                "error": result.error,
                "ms": result.latency_ms,
            },
        )
        log.warning(
            "webhook_delivery_failed",
            subscription_id=str(row["subscription_id"]),
            event_id=str(row["event_id"]),
            attempts=attempts,
            gave_up=gave_up,
            error=(result.error or "")[:200],
        )
        await self._maybe_pause(session, row["subscription_id"], result.at, result.error)

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


def _client(settings: GatewaySettings) -> aiohttp.ClientSession:
    """The receivers' client: aiohttp, as the proxy (httpx took most of the dispatcher's CPU, measured
    with bench/gateway.py), no redirects, no cookies, no environment proxies."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=settings.webhook_concurrency * 2, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds),
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("Accept-Encoding",),
        auto_decompress=False,
        trust_env=False,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def _first(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
