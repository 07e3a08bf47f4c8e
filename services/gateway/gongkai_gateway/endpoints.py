"""The gateway's own routes: sign-in, users, calendar administration."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordRequestForm
from gongkai_shared.access import public
from gongkai_shared.auth import Principal, Role, TokenSigner, require_roles
from gongkai_shared.calendar import WorkingDayTrace, YearArrangement
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Conflict, Forbidden, RateLimited, Unauthorized, problem_responses
from gongkai_shared.pagination import Page, PageParams, page_params, paginate
from sqlalchemy import select

from gongkai_gateway import service
from gongkai_gateway.models import User
from gongkai_gateway.ratelimit import SignInThrottle
from gongkai_gateway.schemas import (
    CalendarYearOut,
    LogoutIn,
    PasswordChangeIn,
    RefreshIn,
    SessionTokenOut,
    UserCreate,
    UserOut,
    normalize_username,
)
from gongkai_gateway.settings import GatewaySettings

__all__ = ["auth_router", "calendar_router", "client_address", "users_router"]

log = structlog.get_logger("gongkai.gateway")

#: A person (sign-out, password, who am I): a system's API key is not a sign-in and gets 401 here.
SignedIn = Annotated[Principal, require_roles(Role.staff, Role.reviewer, Role.office, Role.admin)]
Admin = Annotated[Principal, require_roles(Role.admin)]
OfficeOrAdmin = Annotated[Principal, require_roles(Role.office, Role.admin)]

auth_router = APIRouter(prefix="/api/v1/auth", tags=["登录"])
users_router = APIRouter(prefix="/api/v1/users", tags=["用户"])
calendar_router = APIRouter(prefix="/api/v1/calendar", tags=["工作日历"])


def client_address(request: Request) -> str:
    """The caller's address: the peer's, or whom a trusted proxy forwarded for (forwarded.py,
    ``GK_GATEWAY_TRUSTED_PROXIES``), so a client cannot pick its own."""
    return request.client.host if request.client else "unknown"


async def _session_tokens(session: SessionDep, request: Request, user: User, refresh: str) -> SessionTokenOut:
    settings: GatewaySettings = request.app.state.settings
    signer: TokenSigner = request.app.state.token_signer
    ttl = dt.timedelta(minutes=settings.access_token_minutes)
    return SessionTokenOut(
        access_token=signer.issue(service.principal_of(user), ttl=ttl),
        expires_in=int(ttl.total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=settings.refresh_token_days * 86_400,
    )


@auth_router.post(
    "/token",
    openapi_extra=public("sign_in"),
    response_model=SessionTokenOut,
    summary="登录，获取访问令牌和刷新令牌",
    description="OAuth2 密码模式（application/x-www-form-urlencoded 的 username、password）。"
    "访问令牌短期有效（默认15分钟），用刷新令牌换取新的令牌。"
    "同一登录名或同一地址连续失败多次后暂时锁定，返回 429 和 Retry-After（不论账号是否存在）。",
    responses=problem_responses(Unauthorized, RateLimited),
)
async def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, request: Request
) -> SessionTokenOut:
    settings: GatewaySettings = request.app.state.settings
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    username, address = normalize_username(form.username), client_address(request)
    retry_after = await throttle.retry_after(username, address)
    if retry_after:
        log.warning("sign_in_locked", retry_after=retry_after)
        raise RateLimited(
            "登录失败次数过多，请稍后再试", code="sign_in_locked", headers={"Retry-After": str(retry_after)}
        )
    try:
        user = await service.authenticate(session, username=form.username, password=form.password)
    except service.InvalidCredentials:
        await throttle.failed(username, address)  # in its own statement: this transaction rolls back
        raise
    await throttle.succeeded(username)
    refresh = await service.issue_refresh_token(session, user=user, ttl=dt.timedelta(days=settings.refresh_token_days))
    return await _session_tokens(session, request, user, refresh)


@auth_router.post(
    "/refresh",
    openapi_extra=public("sign_in"),
    response_model=SessionTokenOut,
    summary="用刷新令牌换取新的访问令牌",
    description="每个刷新令牌只能用一次，返回新的刷新令牌；再次使用已用过的刷新令牌视为被盗用，"
    "该登录会话的所有刷新令牌立即作废。",
    responses=problem_responses(Unauthorized),
)
async def refresh_tokens(data: RefreshIn, session: SessionDep, request: Request) -> SessionTokenOut:
    settings: GatewaySettings = request.app.state.settings
    try:
        user, refresh = await service.rotate_refresh_token(
            session, token=data.refresh_token, ttl=dt.timedelta(days=settings.refresh_token_days)
        )
    except service.RefreshTokenReused as reused:
        # The revocation must stand although this request fails: commit it before answering 401.
        await session.rollback()
        await service.revoke_family(session, family_id=reused.family_id, reason="reuse_detected")
        await session.commit()
        log.warning("refresh_token_reused", family_id=str(reused.family_id))
        raise service.InvalidRefreshToken() from None
    return await _session_tokens(session, request, user, refresh)


@auth_router.post(
    "/logout",
    status_code=204,
    summary="退出登录（作废刷新令牌）",
    description="作废给出的刷新令牌所属的登录会话；everywhere=true 时作废本人全部刷新令牌。"
    "已签发的访问令牌在其短暂有效期内仍然有效。",
    responses=problem_responses(Unauthorized),
)
async def sign_out(
    session: SessionDep,
    principal: SignedIn,
    data: LogoutIn | None = None,
) -> None:
    data = data or LogoutIn()
    await service.sign_out(session, principal=principal, token=data.refresh_token, everywhere=data.everywhere)


@auth_router.post(
    "/password",
    status_code=204,
    summary="修改本人密码（作废全部刷新令牌）",
    responses=problem_responses(Unauthorized),
)
async def change_password(data: PasswordChangeIn, session: SessionDep, principal: SignedIn) -> None:
    await service.change_password(
        session,
        principal=principal,
        current=data.current_password.get_secret_value(),
        new=data.new_password.get_secret_value(),
    )


@auth_router.get("/me", response_model=Principal, summary="当前登录身份", responses=problem_responses(Unauthorized))
async def me(principal: SignedIn) -> Principal:
    return principal


@users_router.post(
    "",
    status_code=201,
    response_model=UserOut,
    summary="创建用户",
    responses=problem_responses(Unauthorized, Forbidden, Conflict),
)
async def create_user(data: UserCreate, session: SessionDep, _: Admin) -> User:
    return await service.create_user(session, data=data)


@users_router.get(
    "",
    response_model=Page[UserOut],
    summary="用户列表",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_users(
    session: SessionDep, _: OfficeOrAdmin, params: Annotated[PageParams, Depends(page_params)]
) -> Page:
    rows, cursor = await paginate(session, select(User), keys=[User.id], params=params, descending=False)
    return Page(items=[UserOut.model_validate(r) for r in rows], next_cursor=cursor)


@calendar_router.put(
    "/years/{year}",
    response_model=CalendarYearOut,
    summary="载入或更正某年度的节假日安排",
    description="政务公开办在 chinesecalendar 更新之前载入新年度的放假调休安排；"
    "各服务收到 gateway.calendar.updated 后重新计算未结期限。",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def load_calendar_year(
    year: Annotated[int, Path(ge=1949, le=9999, description="年度")],
    arrangement: YearArrangement,
    session: SessionDep,
    _: OfficeOrAdmin,
) -> CalendarYearOut:
    return await service.load_calendar_year(session, year=year, arrangement=arrangement)


@calendar_router.get(
    "/years", response_model=list[CalendarYearOut], summary="已载入的年度安排", openapi_extra=public("published")
)
async def list_calendar_years(session: SessionDep) -> list[CalendarYearOut]:
    return await service.list_calendar_years(session)


@calendar_router.get(
    "/deadline",
    openapi_extra=public("published"),
    response_model=WorkingDayTrace,
    summary="按工作日计算期限并说明",
    description="第 N 个工作日（事件当日不计，次日起算）及每个计入和跳过的日期与原因。"
    "跨越尚未载入安排的年度时结果为暂定（provisional）。",
    responses=problem_responses(),
)
async def explain_deadline(
    session: SessionDep,
    start: Annotated[dt.date, Query(description="事件发生日（不计入），如 2026-09-28")],
    working_days: Annotated[int, Query(ge=0, le=1000, description="工作日数")],
) -> WorkingDayTrace:
    return await service.explain_deadline(session, start=start, working_days=working_days)
