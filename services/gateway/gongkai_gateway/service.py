"""Gateway rules: users, sign-in and refresh tokens, organizations, the canonical calendar.
Never commits: the request (or the event handler) owns the transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

import structlog
from gongkai_shared.auth import Principal, Role
from gongkai_shared.calendar import WorkingDayTrace, YearArrangement
from gongkai_shared.calendar_store import load_calendar, store_arrangement
from gongkai_shared.contracts.catalog import OrganizationV1
from gongkai_shared.contracts.gateway import CALENDAR_UPDATED_V1, CalendarUpdatedV1
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Conflict, Unauthorized, ValidationFailed
from gongkai_shared.events import Envelope, emit
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_gateway.models import Organization, RefreshToken, User, calendar_table, event_tables
from gongkai_gateway.passwords import hash_password, needs_rehash, verify_password
from gongkai_gateway.schemas import CalendarYearOut, UserCreate, normalize_username

__all__ = [
    "BOOTSTRAP_ROLES",
    "InvalidCredentials",
    "InvalidRefreshToken",
    "RefreshTokenReused",
    "authenticate",
    "bootstrap_admin",
    "change_password",
    "create_user",
    "explain_deadline",
    "issue_refresh_token",
    "list_calendar_years",
    "load_calendar_year",
    "principal_of",
    "revoke_family",
    "rotate_refresh_token",
    "sign_out",
    "store_organization",
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


class InvalidRefreshToken(Unauthorized):
    code = "refresh_token_invalid"
    title = "刷新令牌无效或已过期"

    def __init__(self) -> None:
        super().__init__("刷新令牌无效或已过期，请重新登录")


class RefreshTokenReused(Exception):
    """A refresh token was presented after it had been used: it was stolen or replayed.

    The caller revokes the whole family (in a transaction that commits) and answers 401.
    """

    def __init__(self, family_id: uuid.UUID) -> None:
        super().__init__("refresh token reused")
        self.family_id = family_id


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


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_refresh_token(
    session: AsyncSession, *, user: User, ttl: dt.timedelta, family_id: uuid.UUID | None = None
) -> str:
    """A new refresh token for ``user`` (256 random bits; only its sha256 is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=_hash_token(token),
            expires_at=utcnow() + ttl,
        )
    )
    await session.flush()
    return token


async def rotate_refresh_token(session: AsyncSession, *, token: str, ttl: dt.timedelta) -> tuple[User, str]:
    """Use ``token`` once: mark it used and issue its successor in the same family.

    A token used before (or revoked with its family) is a replay: :class:`RefreshTokenReused`, and
    the caller revokes the family, so whoever holds the newest token of it must sign in again too.
    """
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _hash_token(token)).with_for_update()
    )
    if row is None:
        raise InvalidRefreshToken()
    if row.used_at is not None or row.revoked_at is not None:
        raise RefreshTokenReused(row.family_id)
    now = utcnow()
    if row.expires_at <= now:
        raise InvalidRefreshToken()
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise InvalidRefreshToken()
    row.used_at = now
    return user, await issue_refresh_token(session, user=user, ttl=ttl, family_id=row.family_id)


async def revoke_family(session: AsyncSession, *, family_id: uuid.UUID, reason: str) -> None:
    """Revoke every token of a family (a detected reuse, a sign-out)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def _revoke_user(session: AsyncSession, *, user_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def sign_out(session: AsyncSession, *, principal: Principal, token: str | None, everywhere: bool) -> None:
    """Revoke the family of ``token`` (this device), or every refresh token of the user."""
    user_id = uuid.UUID(principal.subject)
    if everywhere or token is None:
        await _revoke_user(session, user_id=user_id, reason="sign_out")
        return
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash_token(token)))
    if row is not None and row.user_id == user_id:
        await revoke_family(session, family_id=row.family_id, reason="sign_out")


async def change_password(session: AsyncSession, *, principal: Principal, current: str, new: str) -> None:
    """Change the signed-in user's password and revoke all their refresh tokens (every device)."""
    try:
        user_id = uuid.UUID(principal.subject)
    except ValueError:
        raise Unauthorized("只有用户账号可以修改密码") from None
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or not await verify_password(user.password_hash, current):
        raise ValidationFailed.for_field("body.current_password", "当前密码不正确", "wrong_password")
    if current == new:
        raise ValidationFailed.for_field("body.new_password", "新密码不能与当前密码相同", "unchanged")
    user.password_hash = await hash_password(new)
    await _revoke_user(session, user_id=user.id, reason="password_changed")


# -- organizations (catalog.organization.created/updated) ----------------------------------------


async def store_organization(session: AsyncSession, envelope: Envelope) -> None:
    """Keep the catalog's 机关 (name, code, parent) so users' organizations have names."""
    org = OrganizationV1.model_validate(envelope.data)
    values = {"name": org.name, "code": org.code, "parent_id": org.parent_id, "updated_at": envelope.occurred_at}
    stmt = insert(Organization).values(id=org.organization_id, **values)
    # An older event arriving late must not overwrite a newer one.
    stmt = stmt.on_conflict_do_update(
        index_elements=[Organization.id], set_=values, where=Organization.updated_at <= envelope.occurred_at
    )
    await session.execute(stmt)


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
