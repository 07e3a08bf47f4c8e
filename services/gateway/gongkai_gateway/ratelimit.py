"""Counters shared by every gateway replica, in PostgreSQL: public-route rate limits and the
slowdown of repeated failed sign-ins.

Both live in UNLOGGED tables (migration 0002): no WAL, one indexed upsert per request, emptied by a
crash (which only forgets who was being slowed down). Each statement runs on its own in autocommit
(one round trip, outside the request's transaction): a refused sign-in must still be counted when
the request's transaction rolls back. Measured cost of one rate-limit upsert: see bench/README.md
(tests/test_gateway_limits.py prints it too).

Rate limits are fixed windows per (route class, address): simple and exact enough for public
submission and search; the stricter ``follow_failures`` class counts only failed follow attempts
(wrong tracking code or secret) so tracking codes cannot be enumerated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

from gongkai_shared.errors import RateLimited
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gongkai_gateway.settings import GatewaySettings, RateLimitRule

__all__ = ["FOLLOW_FAILURES", "RateLimiter", "SignInThrottle", "Verdict"]

#: The class that counts failed follow attempts (settings.rate_limits).
FOLLOW_FAILURES = "follow_failures"

# The current fixed window of :w seconds.
_WINDOW = "to_timestamp(floor(extract(epoch FROM clock_timestamp()) / CAST(:w AS float8)) * CAST(:w AS float8))"
_REMAINING = "extract(epoch FROM window_start + make_interval(secs => CAST(:w AS float8)) - clock_timestamp())"
_HIT = text(
    "INSERT INTO rate_counters AS c (key, window_start, hits) "
    f"VALUES (:key, {_WINDOW}, 1) "
    "ON CONFLICT (key) DO UPDATE SET "
    " hits = CASE WHEN c.window_start = EXCLUDED.window_start THEN c.hits + 1 ELSE 1 END,"
    " window_start = EXCLUDED.window_start "
    f"RETURNING hits, {_REMAINING}"
)
_PEEK = text(f"SELECT hits, {_REMAINING} FROM rate_counters WHERE key = :key AND window_start = {_WINDOW}")
# A failure older than the window starts the count again; past the free failures each one locks
# the key for base · 2^(n - free - 1) seconds, capped.
_RECENT = "f.last_failure_at >= clock_timestamp() - make_interval(secs => CAST(:window AS float8))"
_LOCK = (
    "make_interval(secs => least("
    "CAST(:base AS float8) * power(2, f.failures - CAST(:free AS int)), CAST(:cap AS float8)))"
)
_FAIL = text(
    "INSERT INTO sign_in_failures AS f (key, failures, last_failure_at, locked_until) "
    "VALUES (:key, 1, clock_timestamp(), NULL) "
    "ON CONFLICT (key) DO UPDATE SET "
    f" failures = CASE WHEN {_RECENT} THEN f.failures + 1 ELSE 1 END,"
    " last_failure_at = clock_timestamp(),"
    f" locked_until = CASE WHEN {_RECENT} AND f.failures + 1 > CAST(:free AS int) THEN clock_timestamp() + {_LOCK} END "
    "RETURNING failures"
)
_LOCKED = text(
    "SELECT coalesce(max(extract(epoch FROM locked_until - clock_timestamp())), 0) FROM sign_in_failures "
    "WHERE key = ANY(:keys) AND locked_until > clock_timestamp()"
)
_RESET = text("DELETE FROM sign_in_failures WHERE key = :key")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    hits: int
    retry_after: int

    def raise_if_refused(self, detail: str = "请求过于频繁，请稍后再试") -> None:
        if not self.allowed:
            raise RateLimited(detail, headers={"Retry-After": str(self.retry_after)})


def _seconds(value: float | None) -> int:
    return max(1, math.ceil(float(value or 0)))


class RateLimiter:
    """Fixed-window counters per route class and client address."""

    def __init__(self, engine: AsyncEngine, rules: dict[str, RateLimitRule]) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.rules = rules

    @cached_property
    def _patterns(self) -> list[tuple[str, frozenset[str], re.Pattern[str]]]:
        return [
            (name, frozenset(m.upper() for m in rule.methods), re.compile(rule.path))
            for name, rule in self.rules.items()
            if name != FOLLOW_FAILURES
        ]

    def classify(self, method: str, path: str) -> str | None:
        """The route class of a request, or None (not a limited public route)."""
        for name, methods, pattern in self._patterns:
            if method in methods and pattern.fullmatch(path):
                return name
        return None

    async def hit(self, route_class: str, address: str) -> Verdict:
        """Count one request of ``address`` in ``route_class``; refused past the limit."""
        rule = self.rules[route_class]
        async with self._engine.connect() as conn:
            hits, remaining = (
                await conn.execute(_HIT, {"key": f"{route_class}|{address}", "w": rule.window_seconds})
            ).one()
        return Verdict(hits <= rule.limit, hits, _seconds(remaining))

    async def peek(self, route_class: str, address: str) -> Verdict:
        """Whether ``address`` is already past the limit of ``route_class`` (counts nothing)."""
        rule = self.rules.get(route_class)
        if rule is None:
            return Verdict(True, 0, 0)
        async with self._engine.connect() as conn:
            row = (await conn.execute(_PEEK, {"key": f"{route_class}|{address}", "w": rule.window_seconds})).first()
        if row is None:
            return Verdict(True, 0, 0)
        return Verdict(row[0] < rule.limit, row[0], _seconds(row[1]))

    async def purge(self) -> None:
        """Forget windows that ended a day ago (the worker's sweep)."""
        async with self._engine.connect() as conn:
            await conn.execute(text("DELETE FROM rate_counters WHERE window_start < now() - interval '1 day'"))
            await conn.execute(text("DELETE FROM sign_in_failures WHERE last_failure_at < now() - interval '1 day'"))


class SignInThrottle:
    """Repeated failed sign-ins, per username and per address, are slowed down: 429 + Retry-After.

    The username key is the name as submitted (normalized), whether or not such a user exists, so
    the answers never tell who has an account.
    """

    def __init__(self, engine: AsyncEngine, settings: GatewaySettings) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._settings = settings

    @staticmethod
    def keys(username: str, address: str) -> tuple[str, str]:
        return f"user|{username}", f"addr|{address}"

    async def retry_after(self, username: str, address: str) -> int:
        """Seconds until a sign-in for ``username`` from ``address`` is heard again; 0: now."""
        async with self._engine.connect() as conn:
            remaining = await conn.scalar(_LOCKED, {"keys": list(self.keys(username, address))})
        return _seconds(remaining) if remaining and remaining > 0 else 0

    async def failed(self, username: str, address: str) -> None:
        s = self._settings
        user_key, addr_key = self.keys(username, address)
        base, cap, window = s.sign_in_lock_base_seconds, s.sign_in_lock_max_seconds, s.sign_in_failure_window_seconds
        async with self._engine.connect() as conn:
            for key, free in ((user_key, s.sign_in_free_failures), (addr_key, s.sign_in_free_failures_per_address)):
                await conn.execute(_FAIL, {"key": key, "free": free, "base": base, "cap": cap, "window": window})

    async def succeeded(self, username: str) -> None:
        # Only the username's count: a success of one's own account must not unlock an address
        # that is guessing other people's passwords.
        async with self._engine.connect() as conn:
            await conn.execute(_RESET, {"key": self.keys(username, "")[0]})
