"""API keys of other government systems: created, listed, rotated and revoked by the office.

A key is ``gk_`` + 256 random bits; only its sha256 is stored (a fast hash is enough for a secret
this long: nothing to guess). A caller presents it as ``Authorization: Bearer gk_…`` or
``X-API-Key``; the gateway turns it into a system principal with the key's scopes and signs a
short-lived internal token for the upstream, so every service checks it like a user's token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Annotated

import structlog
from fastapi import Depends, Request
from gongkai_shared.auth import (
    ALL_ORGANIZATIONS_SCOPE,
    Principal,
    Role,
    TokenSigner,
    get_principal,
    organization_scope,
)
from gongkai_shared.db import utcnow
from gongkai_shared.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gongkai_gateway.models import ApiKey
from gongkai_gateway.schemas import ApiKeyCreate
from gongkai_gateway.settings import UPSTREAMS

__all__ = [
    "KEY_PREFIX",
    "PERSONAL_DATA_SCOPE",
    "WEBHOOKS_SCOPE",
    "Caller",
    "api_key_from",
    "create_key",
    "get_caller",
    "hash_key",
    "list_keys",
    "principal_for_key",
    "resolve_key",
    "revoke_key",
    "rotate_key",
]

log = structlog.get_logger("gongkai.gateway.keys")

KEY_PREFIX = "gk_"
WEBHOOKS_SCOPE = "webhooks"
PERSONAL_DATA_SCOPE = "personal_data"
_ACCESS = ("read", "write")
VALID_SCOPES = frozenset({f"{s}:{a}" for s in UPSTREAMS for a in _ACCESS} | {WEBHOOKS_SCOPE, PERSONAL_DATA_SCOPE})


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _check_scopes(scopes: list[str]) -> list[str]:
    for i, scope in enumerate(scopes):
        if scope not in VALID_SCOPES:
            raise ValidationFailed.for_field(
                f"body.scopes.{i}",
                f"未知的权限范围 {scope}；可用：{'、'.join(sorted(VALID_SCOPES))}",
                "unknown_scope",
            )
    return sorted(set(scopes))


async def create_key(session: AsyncSession, *, data: ApiKeyCreate, created_by: str) -> tuple[ApiKey, str]:
    """A new key (returned once, in clear) and its row."""
    key = _new_key()
    row = ApiKey(
        name=data.name,
        prefix=key[:11],
        key_hash=hash_key(key),
        scopes=_check_scopes(data.scopes),
        organization_ids=sorted(set(data.organization_ids)) if data.organization_ids is not None else None,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    log.info("api_key_created", key_id=str(row.id), scopes=row.scopes, by=created_by)
    return row, key


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))


async def _get(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    row = await session.get(ApiKey, key_id, with_for_update=True)
    if row is None:
        raise NotFound("没有这个 API 密钥", code="api_key_not_found")
    return row


async def rotate_key(session: AsyncSession, *, key_id: uuid.UUID, by: str) -> tuple[ApiKey, str]:
    """Replace the key: the old one stops working at once, the new one is returned once."""
    row = await _get(session, key_id)
    if row.revoked_at is not None:
        raise NotFound("该 API 密钥已吊销", code="api_key_revoked")
    key = _new_key()
    row.key_hash = hash_key(key)
    row.prefix = key[:11]
    row.rotated_at = utcnow()
    log.info("api_key_rotated", key_id=str(row.id), by=by)
    return row, key


async def revoke_key(session: AsyncSession, *, key_id: uuid.UUID, by: str) -> ApiKey:
    row = await _get(session, key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        log.info("api_key_revoked", key_id=str(row.id), by=by)
    return row


# -- presenting a key -------------------------------------------------------------------------------

# One round trip: the key, and its last use noted at most once a minute.
_RESOLVE = text(
    "WITH k AS (SELECT id, name, scopes, organization_ids FROM api_keys"
    " WHERE key_hash = :h AND revoked_at IS NULL),"
    " u AS (UPDATE api_keys SET last_used_at = clock_timestamp() WHERE id = (SELECT id FROM k)"
    " AND (last_used_at IS NULL OR last_used_at < clock_timestamp() - interval '60 seconds'))"
    " SELECT id, name, scopes, organization_ids FROM k"
)


def api_key_from(request: Request) -> str | None:
    """The API key the caller presented (``X-API-Key`` or ``Authorization: Bearer gk_…``), if any."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith(KEY_PREFIX):
        return token
    return None


def principal_for_key(
    key_id: uuid.UUID, name: str, scopes: list[str], organizations: list[uuid.UUID] | None
) -> Principal:
    org_scopes = {ALL_ORGANIZATIONS_SCOPE} if organizations is None else {organization_scope(o) for o in organizations}
    return Principal(
        subject=f"apikey:{key_id}",
        name=name,
        roles=frozenset({Role.system}),
        department_id=organizations[0] if organizations and len(organizations) == 1 else None,
        scopes=frozenset(scopes) | org_scopes,
    )


async def resolve_key(engine: AsyncEngine, key: str) -> Principal:
    """The system principal of a presented key, or 401 (unknown, rotated away or revoked)."""
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        row = (await conn.execute(_RESOLVE, {"h": hash_key(key)})).first()
    if row is None:
        log.warning("api_key_refused", prefix=key[:11])
        raise Unauthorized("API 密钥无效或已吊销", code="api_key_invalid")
    return principal_for_key(row.id, row.name, list(row.scopes), row.organization_ids)


async def get_caller(request: Request) -> Principal:
    """The caller of a gateway route: an API key's system principal, a user's token, or anonymous."""
    key = api_key_from(request)
    if key is not None:
        return await resolve_key(request.app.state.engine, key)
    return get_principal(request)


Caller = Annotated[Principal, Depends(get_caller)]


def internal_token(signer: TokenSigner, principal: Principal) -> str:
    """The short-lived token the upstream verifies for a system principal (one minute is enough)."""
    return signer.issue(principal, ttl=dt.timedelta(minutes=1))


def require_scope(principal: Principal, scope: str, *, what: str) -> None:
    """403 (logged) when a system principal uses its key beyond its scope."""
    if Role.system in principal.roles and not principal.has_scope(scope):
        log.warning("api_key_beyond_scope", subject=principal.subject, scope=scope, what=what)
        raise Forbidden(f"API 密钥没有 {scope} 权限", code="scope_denied")
