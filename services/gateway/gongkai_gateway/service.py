"""Gateway rules: users and sign-in, the canonical calendar. Never commits: the request owns the transaction."""

from __future__ import annotations

import datetime as dt

import structlog
from gongkai_shared.auth import Principal, Role
from gongkai_shared.calendar import WorkingDayTrace, YearArrangement
from gongkai_shared.calendar_store import load_calendar, store_arrangement
from gongkai_shared.contracts.gateway import CALENDAR_UPDATED_V1, CalendarUpdatedV1
from gongkai_shared.errors import Conflict, Unauthorized, ValidationFailed
from gongkai_shared.events import emit
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_gateway.models import User, calendar_table, event_tables
from gongkai_gateway.passwords import hash_password, needs_rehash, verify_password
from gongkai_gateway.schemas import CalendarYearOut, UserCreate, normalize_username

__all__ = [
    "BOOTSTRAP_ROLES",
    "InvalidCredentials",
    "authenticate",
    "bootstrap_admin",
    "create_user",
    "explain_deadline",
    "list_calendar_years",
    "load_calendar_year",
    "principal_of",
]

log = structlog.get_logger("gongkai.gateway")

#: The administrator created from GK_ADMIN_USERNAME / GK_ADMIN_PASSWORD also runs the office's settings.
BOOTSTRAP_ROLES = (Role.admin, Role.office)


class InvalidCredentials(Unauthorized):
    """One answer for an unknown user, a wrong password and a disabled account: nothing to enumerate."""

    code = "invalid_credentials"
    title = "用户名或密码错误"

    def __init__(self) -> None:
        super().__init__("用户名或密码错误", headers={"WWW-Authenticate": "Bearer"})


# -- users ------------------------------------------------------------------------------------


async def create_user(session: AsyncSession, *, data: UserCreate) -> User:
    """Create a user account (the schema has checked roles, department and password length)."""
    if await session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(f"登录名 {data.username} 已被使用", code="username_taken")
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=await hash_password(data.password.get_secret_value()),
        roles=[r.value for r in data.roles],
        department_id=data.department_id,
        active=True,
    )
    session.add(user)
    await session.flush()
    return user


async def bootstrap_admin(session: AsyncSession, *, username: str, password: str) -> bool:
    """Create the bootstrap administrator unless that user exists; True if created.

    Safe on restarts and on replicas starting at once: the insert does nothing on a taken username.
    An existing account is never changed (its password may have been changed since).
    """
    data = UserCreate(username=username, password=password, roles=list(BOOTSTRAP_ROLES), display_name="系统管理员")
    if await session.scalar(select(User.id).where(User.username == data.username)) is not None:
        return False
    stmt = (
        insert(User)
        .values(
            username=data.username,
            display_name=data.display_name,
            password_hash=await hash_password(data.password.get_secret_value()),
            roles=[r.value for r in data.roles],
            department_id=None,
            active=True,
        )
        .on_conflict_do_nothing(index_elements=[User.username])
        .returning(User.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def authenticate(session: AsyncSession, *, username: str, password: str) -> User:
    """The active user with this username and password, or :class:`InvalidCredentials`."""
    user = await session.scalar(select(User).where(User.username == normalize_username(username)))
    # Always verify (against a dummy hash without a user), so timing does not tell who exists.
    matches = await verify_password(user.password_hash if user else None, password)
    if user is None or not matches or not user.active:
        raise InvalidCredentials()
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    return user


def principal_of(user: User) -> Principal:
    """What the access token says about ``user``: every service trusts it."""
    return Principal(
        subject=str(user.id),
        name=user.display_name,
        roles=frozenset(Role(r) for r in user.roles),
        department_id=user.department_id,
    )


# -- calendar (domain.md §6) --------------------------------------------------------------------


async def load_calendar_year(session: AsyncSession, *, year: int, arrangement: YearArrangement) -> CalendarYearOut:
    """Store a year's arrangement (new or corrected) and announce it in the same transaction.

    Every service stores the year from ``gateway.calendar.updated`` and recomputes its open
    deadlines; the outbox makes the announcement as durable as the change.
    """
    if arrangement.year != year:
        raise ValidationFailed.for_field(
            "body.year", f"安排的年度 {arrangement.year} 与地址中的年度 {year} 不一致", "year_mismatch"
        )
    await store_arrangement(session, calendar_table, arrangement)
    loaded_at: dt.datetime = await session.scalar(
        select(calendar_table.c.loaded_at).where(calendar_table.c.year == year)
    )
    data = arrangement.model_dump(mode="json")
    await emit(
        session, event_tables, CALENDAR_UPDATED_V1, CalendarUpdatedV1(year=year, arrangement=data, loaded_at=loaded_at)
    )
    log.info("calendar_year_loaded", year=year)
    return CalendarYearOut(year=year, arrangement=arrangement, loaded_at=loaded_at)


async def list_calendar_years(session: AsyncSession) -> list[CalendarYearOut]:
    """The years the office has loaded (they override the chinesecalendar package)."""
    t = calendar_table
    rows = (await session.execute(select(t.c.year, t.c.arrangement, t.c.loaded_at).order_by(t.c.year))).all()
    return [
        CalendarYearOut(year=r.year, arrangement=YearArrangement.model_validate(r.arrangement), loaded_at=r.loaded_at)
        for r in rows
    ]


async def explain_deadline(session: AsyncSession, *, start: dt.date, working_days: int) -> WorkingDayTrace:
    """The N-th working day after ``start`` with every counted and skipped day, never refusing an
    unknown year: such a result is marked provisional (domain.md §6)."""
    calendar = await load_calendar(session, calendar_table)
    try:
        return calendar.explain_add_working_days(start, working_days, provisional=True)
    except OverflowError as exc:  # past 9999-12-31
        raise ValidationFailed.for_field("query.working_days", "期限超出可计算的日期范围", "out_of_range") from exc
