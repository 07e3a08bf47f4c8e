from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from gongkai_shared.auth import Role
from gongkai_shared.calendar import YearArrangement
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gongkai_gateway.models import ASSIGNABLE_ROLES, DEPARTMENT_ROLES

#: Minimum password length for accounts (also the bootstrap administrator's recommended minimum).
PASSWORD_MIN_LENGTH = 12


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
