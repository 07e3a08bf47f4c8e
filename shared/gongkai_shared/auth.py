"""Who is calling: the principal (roles + department) that the gateway's tokens carry.

The gateway signs short-lived access tokens (HS256 with ``GK_JWT_SECRET``); every service verifies
them itself and checks the department itself: the gateway is not the only lock.

Roles (architecture.md, "The edge"):
- public: anonymous — published information, submitting an application, following one's own;
- staff: a department's staff — their department's work;
- reviewer: 保密审查/审核 — reviews in their department;
- office: 政务公开办 — all departments, settings;
- admin: administrator — users and system settings;
- system: another government system with an API key and scopes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, Field

from gongkai_shared.errors import Forbidden, Unauthorized

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "ALL_ORGANIZATIONS_SCOPE",
    "DEFAULT_AUDIENCE",
    "CurrentPrincipal",
    "Principal",
    "Role",
    "StaffPrincipal",
    "TokenSigner",
    "organization_scope",
    "require_roles",
    "service_scope",
]

ACCESS_TOKEN_TYPE = "access"
ALGORITHM = "HS256"
#: The ``aud`` of every access token the gateway signs for the services (people and systems alike):
#: a token minted for another audience (another deployment, another purpose) is refused.
DEFAULT_AUDIENCE = "gongkai-api"
#: A system (API key) scope that lets it act for every organization; ``org:<id>`` names one.
ALL_ORGANIZATIONS_SCOPE = "org:*"


def organization_scope(organization_id: uuid.UUID | str) -> str:
    """The scope that lets a system principal act for one organization: ``org:<id>``."""
    return f"org:{organization_id}"


def service_scope(service: str, access: str) -> str:
    """The scope that lets a system principal read or write one service: ``catalog:read``."""
    return f"{service}:{access}"


class Role(StrEnum):
    public = "public"
    staff = "staff"
    reviewer = "reviewer"
    office = "office"
    admin = "admin"
    system = "system"


#: Roles that act for every department.
ALL_DEPARTMENTS = frozenset({Role.office, Role.admin})


class Principal(BaseModel):
    """The caller, as every service sees it."""

    subject: str = Field(description="用户或系统标识")
    name: str = Field(default="", description="显示名称")
    roles: frozenset[Role] = frozenset({Role.public})
    department_id: uuid.UUID | None = Field(default=None, description="所属机关/部门")
    scopes: frozenset[str] = frozenset()

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(subject="anonymous")

    @property
    def is_anonymous(self) -> bool:
        return self.roles == {Role.public}

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))

    def can_act_for(self, department_id: uuid.UUID | None) -> bool:
        """Office and admin act for all departments; others only for their own.

        A system (API key) acts for the organizations its scopes name (``org:<id>``, or ``org:*``).
        """
        if self.roles & ALL_DEPARTMENTS:
            return True
        if Role.system in self.roles and (
            ALL_ORGANIZATIONS_SCOPE in self.scopes
            or (department_id is not None and organization_scope(department_id) in self.scopes)
        ):
            return True
        return department_id is not None and department_id == self.department_id

    def has_scope(self, scope: str) -> bool:
        """A system principal's scope (``catalog:read``); ``…:write`` includes ``…:read``."""
        if scope in self.scopes:
            return True
        service, _, access = scope.partition(":")
        return access == "read" and f"{service}:write" in self.scopes

    def require_department(self, department_id: uuid.UUID | None) -> None:
        if not self.can_act_for(department_id):
            raise Forbidden("只能办理本部门的事项")


class TokenSigner:
    """Signs and verifies access tokens with the deployment's shared secret."""

    def __init__(self, secret: str, *, issuer: str = "gongkai", audience: str = DEFAULT_AUDIENCE) -> None:
        if len(secret) < 32:
            raise ValueError("GK_JWT_SECRET must be at least 32 characters")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience

    def issue(self, principal: Principal, *, ttl: dt.timedelta = dt.timedelta(minutes=15)) -> str:
        now = dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": principal.subject,
            "name": principal.name,
            "roles": sorted(r.value for r in principal.roles),
            "dept": str(principal.department_id) if principal.department_id else None,
            "scopes": sorted(principal.scopes),
            "typ": ACCESS_TOKEN_TYPE,
            "aud": self._audience,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def issue_system(self, *, subject: str, name: str, scopes: Iterable[str], minutes: int = 1) -> str:
        """A short-lived token for one service calling another (``system`` with ``scopes``, e.g.
        ``requests:read`` and ``org:<id>`` or ``org:*``): read-only calls between services never borrow
        a person's roles."""
        principal = Principal(subject=subject, name=name, roles=frozenset({Role.system}), scopes=frozenset(scopes))
        return self.issue(principal, ttl=dt.timedelta(minutes=minutes))

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("令牌已过期，请重新登录", code="token_expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("令牌不是签发给本系统的", code="token_wrong_audience") from exc
        except jwt.MissingRequiredClaimError as exc:
            if exc.claim == "aud":
                raise Unauthorized("令牌不是签发给本系统的", code="token_wrong_audience") from exc
            raise Unauthorized("令牌无效", code="token_invalid") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("令牌无效", code="token_invalid") from exc
        if claims.get("typ") != ACCESS_TOKEN_TYPE:
            raise Unauthorized("令牌类型不正确", code="token_invalid")
        try:
            return Principal(
                subject=claims["sub"],
                name=claims.get("name") or "",
                roles=frozenset(Role(r) for r in claims.get("roles", [])) or frozenset({Role.public}),
                department_id=uuid.UUID(claims["dept"]) if claims.get("dept") else None,
                scopes=frozenset(claims.get("scopes") or []),
            )
        except (ValueError, KeyError) as exc:
            raise Unauthorized("令牌内容无效", code="token_invalid") from exc


def get_principal(request: Request) -> Principal:
    """The caller: anonymous without a bearer token; 401 with a bad one."""
    header = request.headers.get("authorization")
    if not header:
        return Principal.anonymous()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("需要 Bearer 令牌", code="token_invalid")
    signer: TokenSigner = request.app.state.token_signer
    return signer.verify(token.strip())


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Any:
    """A dependency that admits only principals holding one of ``roles``."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.is_anonymous:
            raise Unauthorized("请先登录")
        if not principal.has_any(*roles):
            raise Forbidden("当前角色无权执行此操作")
        return principal

    # Read by gongkai_shared.access to declare who may call the route (x-gongkai-access).
    check.gongkai_roles = frozenset(roles)  # type: ignore[attr-defined]
    return Depends(check)


#: Any signed-in person of a department or the office.
StaffPrincipal = Annotated[Principal, require_roles(Role.staff, Role.reviewer, Role.office, Role.admin)]
