from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Literal

from gongkai_shared.auth import Role
from gongkai_shared.calendar import YearArrangement
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gongkai_gateway.models import ASSIGNABLE_ROLES, DEPARTMENT_ROLES

#: Minimum password length for accounts (also the bootstrap administrator's recommended minimum).
PASSWORD_MIN_LENGTH = 12


_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_subject_filter(value: str) -> str:
    """A NATS subject filter: dot-separated tokens, ``*`` for one token, ``>`` for the rest (last only)."""
    value = value.strip()
    if not value or len(value) > 200:
        raise ValueError("主题过滤不能为空，且不超过200个字符")
    tokens = value.split(".")
    for i, token in enumerate(tokens):
        if token == ">":
            if i != len(tokens) - 1:
                raise ValueError(f"主题过滤 {value!r} 不合法：> 只能是最后一段")
        elif token != "*" and not _TOKEN.match(token):
            raise ValueError(f"主题过滤 {value!r} 不合法：第{i + 1}段 {token!r} 须为字母、数字、_、- 或通配符 * >")
    return value


SubjectFilter = Annotated[str, AfterValidator(parse_subject_filter)]


def normalize_username(username: str) -> str:
    """Usernames compare case-insensitively: ``Admin`` and ``admin`` are one account."""
    return username.strip().lower()


class TokenOut(BaseModel):
    """OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str = Field(description="访问令牌（JWT）")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="有效期（秒）")


class UserCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    username: str = Field(min_length=3, max_length=64, pattern=r"^[\w.@-]+$", description="登录名（不区分大小写）")
    display_name: str = Field(default="", max_length=100, description="显示名称；为空时使用登录名")
    password: SecretStr = Field(min_length=PASSWORD_MIN_LENGTH, max_length=256, description="密码（至少12位）")
    roles: list[Role] = Field(min_length=1, max_length=len(ASSIGNABLE_ROLES), description="角色")
    department_id: uuid.UUID | None = Field(
        default=None, validate_default=True, description="所属部门；工作人员和审核人员必填"
    )

    @field_validator("username")
    @classmethod
    def _lower(cls, username: str) -> str:
        return normalize_username(username)

    @field_validator("password", mode="before")
    @classmethod
    def _password_length(cls, password: object) -> object:
        # Before SecretStr's own check, whose message speaks of "items"; the value never appears in errors.
        if isinstance(password, str) and len(password) < PASSWORD_MIN_LENGTH:
            raise PydanticCustomError(
                "string_too_short", "密码至少需要{min_length}个字符", {"min_length": PASSWORD_MIN_LENGTH}
            )
        return password

    @field_validator("roles")
    @classmethod
    def _assignable(cls, roles: list[Role]) -> list[Role]:
        for role in roles:
            if role not in ASSIGNABLE_ROLES:
                raise ValueError(f"角色 {role.value} 不能分配给用户账号（public 为匿名访问，system 为 API 密钥）")
        return sorted(set(roles), key=ASSIGNABLE_ROLES.index)

    @field_validator("department_id")
    @classmethod
    def _department_for_own_roles(cls, department_id: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        # Staff and reviewers act for their own department only (auth.py), so they must have one.
        roles = info.data.get("roles") or ()
        if department_id is None and any(r in DEPARTMENT_ROLES for r in roles):
            raise ValueError("工作人员和审核人员必须指定所属部门")
        return department_id

    @model_validator(mode="after")
    def _defaults(self) -> UserCreate:
        if not self.display_name:
            self.display_name = self.username
        return self


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    roles: list[Role]
    department_id: uuid.UUID | None
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class CalendarYearOut(BaseModel):
    year: int = Field(description="年度")
    arrangement: YearArrangement = Field(description="该年度的放假安排")
    loaded_at: dt.datetime = Field(description="载入时间")


class ServiceHealth(BaseModel):
    status: Literal["ready", "unavailable"]
    latency_ms: float = Field(description="检查耗时（毫秒）")
    http_status: int | None = Field(default=None, description="就绪检查的 HTTP 状态码")
    detail: str | None = None


class HealthOut(BaseModel):
    status: Literal["ready"]
    services: dict[str, ServiceHealth] = Field(description="网关及各上游服务的就绪状态")


# -- sessions: refresh tokens, password change ---------------------------------------------------


class SessionTokenOut(TokenOut):
    """Access token plus a refresh token (opaque; rotated at each use)."""

    refresh_token: str = Field(description="刷新令牌（每次使用后更换，旧令牌作废）")
    refresh_expires_in: int = Field(description="刷新令牌有效期（秒）")


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=20, max_length=200, description="刷新令牌")


class LogoutIn(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=200, description="要作废的刷新令牌（本设备）")
    everywhere: bool = Field(default=False, description="作废本人全部刷新令牌（所有设备）")


class PasswordChangeIn(BaseModel):
    current_password: SecretStr = Field(max_length=256, description="当前密码")
    new_password: SecretStr = Field(max_length=256, description="新密码（至少12位）")

    @field_validator("new_password", mode="before")
    @classmethod
    def _password_length(cls, password: object) -> object:
        if isinstance(password, str) and len(password) < PASSWORD_MIN_LENGTH:
            raise PydanticCustomError(
                "string_too_short", "密码至少需要{min_length}个字符", {"min_length": PASSWORD_MIN_LENGTH}
            )
        return password


# -- API keys ---------------------------------------------------------------------------------------


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="调用系统名称", examples=["市大数据平台"])
    scopes: list[str] = Field(
        min_length=1,
        max_length=20,
        description="权限范围：<服务>:read / <服务>:write（服务为 catalog、requests、interpretation、sentiment），"
        "webhooks（管理本密钥的推送订阅），personal_data（推送内容可含个人信息）",
        examples=[["catalog:read", "webhooks"]],
    )
    organization_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=200, description="可代表的机关；为空表示全部机关"
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str = Field(description="调用系统名称")
    prefix: str = Field(description="密钥前缀（用于辨认，不是密钥本身）")
    scopes: list[str] = Field(description="权限范围")
    organization_ids: list[uuid.UUID] | None = Field(description="可代表的机关；为空表示全部机关")
    created_by: str
    created_at: dt.datetime
    rotated_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="API 密钥：只在创建或轮换时显示一次，请妥善保存")


# -- webhooks ---------------------------------------------------------------------------------------


class WebhookCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="订阅名称")
    target_url: str = Field(
        min_length=8,
        max_length=2000,
        description="接收地址（http/https，须为公网地址）",
        examples=["https://example.gov.cn/hooks"],
    )
    filters: list[SubjectFilter] = Field(
        min_length=1,
        max_length=50,
        description="事件主题过滤，支持 NATS 通配符：* 匹配一段，> 匹配其后所有段",
        examples=[["catalog.item.published", "requests.application.*"]],
    )
    secret: SecretStr | None = Field(default=None, description="签名密钥（至少16个字符）；为空时自动生成并只显示一次")
    allow_private: bool = Field(default=False, description="允许内网地址（仅政务公开办可设置）")
    personal_data: bool = Field(default=False, description="推送内容可含个人信息（仅政务公开办创建的订阅可设置）")

    @field_validator("secret")
    @classmethod
    def _secret_length(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not 16 <= len(secret.get_secret_value()) <= 200:
            raise ValueError("签名密钥长度须在16到200个字符之间")
        return secret


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    target_url: str
    filters: list[str]
    api_key_id: uuid.UUID | None = Field(description="所属 API 密钥；政务公开办创建的为空")
    allow_private: bool
    personal_data: bool
    status: Literal["active", "paused"] = Field(description="状态：active 正常、paused 已暂停")
    failing_since: dt.datetime | None = Field(description="连续失败开始时间")
    paused_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime


class WebhookCreated(WebhookOut):
    secret: str | None = Field(default=None, description="自动生成的签名密钥：只显示这一次")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    subject: str
    occurred_at: dt.datetime
    status: Literal["pending", "succeeded", "failed"] = Field(
        description="pending 待送达、succeeded 已送达、failed 已放弃"
    )
    attempts: int = Field(description="已尝试次数")
    next_attempt_at: dt.datetime | None
    last_status_code: int | None = Field(description="最近一次响应状态码")
    last_error: str | None
    last_latency_ms: float | None
    delivered_at: dt.datetime | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: dt.datetime
    succeeded: bool
    status_code: int | None
    latency_ms: float
    error: str | None


class ReplayRange(BaseModel):
    occurred_from: dt.datetime = Field(description="事件发生时间起（含）")
    occurred_to: dt.datetime = Field(description="事件发生时间止（不含）")

    @model_validator(mode="after")
    def _ordered(self) -> ReplayRange:
        if self.occurred_to <= self.occurred_from:
            raise ValueError("occurred_to 必须晚于 occurred_from")
        return self


class ReplayOut(BaseModel):
    replayed: int = Field(description="重新排队的投递数")
