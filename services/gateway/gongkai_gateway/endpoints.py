"""The gateway's own routes: sign-in, users, calendar administration."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordRequestForm
from gongkai_shared.auth import Principal, Role, TokenSigner, require_roles
from gongkai_shared.calendar import WorkingDayTrace, YearArrangement
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Conflict, Forbidden, Unauthorized, problem_responses
from gongkai_shared.pagination import Page, PageParams, page_params, paginate
from sqlalchemy import select

from gongkai_gateway import service
from gongkai_gateway.models import User
from gongkai_gateway.schemas import CalendarYearOut, TokenOut, UserCreate, UserOut
from gongkai_gateway.settings import GatewaySettings

__all__ = ["auth_router", "calendar_router", "users_router"]

SignedIn = Annotated[Principal, require_roles(Role.staff, Role.reviewer, Role.office, Role.admin, Role.system)]
Admin = Annotated[Principal, require_roles(Role.admin)]
OfficeOrAdmin = Annotated[Principal, require_roles(Role.office, Role.admin)]

auth_router = APIRouter(prefix="/api/v1/auth", tags=["登录"])
users_router = APIRouter(prefix="/api/v1/users", tags=["用户"])
calendar_router = APIRouter(prefix="/api/v1/calendar", tags=["工作日历"])


@auth_router.post(
    "/token",
    response_model=TokenOut,
    summary="登录，获取访问令牌",
    description="OAuth2 密码模式（application/x-www-form-urlencoded 的 username、password）。",
    responses=problem_responses(Unauthorized),
)
async def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, request: Request
) -> TokenOut:
    user = await service.authenticate(session, username=form.username, password=form.password)
    settings: GatewaySettings = request.app.state.settings
    signer: TokenSigner = request.app.state.token_signer
    ttl = dt.timedelta(minutes=settings.access_token_minutes)
    token = signer.issue(service.principal_of(user), ttl=ttl)
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))


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


@calendar_router.get("/years", response_model=list[CalendarYearOut], summary="已载入的年度安排")
async def list_calendar_years(session: SessionDep) -> list[CalendarYearOut]:
    return await service.list_calendar_years(session)


@calendar_router.get(
    "/deadline",
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
