"""Routes for other systems: API keys (the office) and webhook subscriptions (the office or a key)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from gongkai_shared.access import restricted
from gongkai_shared.auth import Principal, Role, require_roles
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Forbidden, NotFound, Unauthorized, problem_responses

from gongkai_gateway import keys, webhooks
from gongkai_gateway.keys import WEBHOOKS_SCOPE, Caller
from gongkai_gateway.models import WebhookSubscription
from gongkai_gateway.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AttemptOut,
    DeliveryOut,
    ReplayOut,
    ReplayRange,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)

__all__ = ["api_keys_router", "webhooks_router"]

Office = Annotated[Principal, require_roles(Role.office, Role.admin)]
#: Webhooks are managed by the office, or by a system whose key holds the ``webhooks`` scope
#: (checked in webhooks.require_manager, not by a dependency: a key's caller is resolved first).
_MANAGERS = restricted(Role.office, Role.admin, Role.system, scope=WEBHOOKS_SCOPE)

api_keys_router = APIRouter(prefix="/api/v1/api-keys", tags=["API 密钥"])
webhooks_router = APIRouter(prefix="/api/v1/webhooks", tags=["事件推送"])

KeyId = Annotated[uuid.UUID, Path(description="API 密钥 ID")]
SubscriptionId = Annotated[uuid.UUID, Path(description="推送订阅 ID")]
DeliveryId = Annotated[uuid.UUID, Path(description="投递 ID")]


def _created(row: object, key: str) -> ApiKeyCreated:
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=key)


@api_keys_router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="为其他政务系统创建 API 密钥",
    description="密钥只在此次响应中显示一次，系统只保存其哈希值。",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def create_api_key(data: ApiKeyCreate, session: SessionDep, principal: Office) -> ApiKeyCreated:
    row, key = await keys.create_key(session, data=data, created_by=principal.subject)
    return _created(row, key)


@api_keys_router.get(
    "", response_model=list[ApiKeyOut], summary="API 密钥列表", responses=problem_responses(Unauthorized, Forbidden)
)
async def list_api_keys(session: SessionDep, _: Office) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(r) for r in await keys.list_keys(session)]


@api_keys_router.post(
    "/{key_id}/rotate",
    response_model=ApiKeyCreated,
    summary="轮换 API 密钥（旧密钥立即失效）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def rotate_api_key(key_id: KeyId, session: SessionDep, principal: Office) -> ApiKeyCreated:
    row, key = await keys.rotate_key(session, key_id=key_id, by=principal.subject)
    return _created(row, key)


@api_keys_router.delete(
    "/{key_id}",
    response_model=ApiKeyOut,
    summary="吊销 API 密钥",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def revoke_api_key(key_id: KeyId, session: SessionDep, principal: Office) -> ApiKeyOut:
    return ApiKeyOut.model_validate(await keys.revoke_key(session, key_id=key_id, by=principal.subject))


def _signed_in(principal: Principal) -> Principal:
    if principal.is_anonymous:
        raise Unauthorized("请先登录或提供 API 密钥")
    return principal


async def _manager(caller: Caller) -> Principal:
    """The office, or a system whose key holds ``webhooks``: checked as a dependency, so a caller
    without the right is refused (401/403) before its body is even looked at."""
    webhooks.require_manager(_signed_in(caller))
    return caller


Manager = Annotated[Principal, Depends(_manager)]


@webhooks_router.post(
    "",
    openapi_extra=_MANAGERS,
    status_code=201,
    response_model=WebhookCreated,
    summary="创建事件推送订阅",
    description="主题过滤支持 NATS 通配符（* 一段，> 其余所有段）。接收地址须解析为公网地址"
    "（政务公开办可对单个订阅允许内网地址）。每次推送用签名密钥计算 HMAC-SHA256 签名。",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def create_webhook(data: WebhookCreate, session: SessionDep, caller: Manager) -> WebhookCreated:
    row, generated = await webhooks.create_subscription(session, principal=_signed_in(caller), data=data)
    return WebhookCreated(**WebhookOut.model_validate(row).model_dump(), secret=generated)


@webhooks_router.get(
    "",
    response_model=list[WebhookOut],
    summary="推送订阅列表",
    responses=problem_responses(Unauthorized, Forbidden),
    openapi_extra=_MANAGERS,
)
async def list_webhooks(session: SessionDep, caller: Manager) -> list[WebhookSubscription]:
    return await webhooks.list_subscriptions(session, principal=_signed_in(caller))


@webhooks_router.get(
    "/{subscription_id}",
    openapi_extra=_MANAGERS,
    response_model=WebhookOut,
    summary="推送订阅详情",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def get_webhook(subscription_id: SubscriptionId, session: SessionDep, caller: Manager) -> WebhookSubscription:
    return await webhooks.get_subscription(session, principal=_signed_in(caller), subscription_id=subscription_id)


@webhooks_router.delete(
    "/{subscription_id}",
    openapi_extra=_MANAGERS,
    status_code=204,
    summary="删除推送订阅",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def delete_webhook(subscription_id: SubscriptionId, session: SessionDep, caller: Manager) -> None:
    await webhooks.delete_subscription(session, principal=_signed_in(caller), subscription_id=subscription_id)


@webhooks_router.post(
    "/{subscription_id}/resume",
    openapi_extra=_MANAGERS,
    response_model=WebhookOut,
    summary="恢复已暂停的推送订阅",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def resume_webhook(subscription_id: SubscriptionId, session: SessionDep, caller: Manager) -> WebhookSubscription:
    return await webhooks.resume_subscription(session, principal=_signed_in(caller), subscription_id=subscription_id)


@webhooks_router.get(
    "/{subscription_id}/deliveries",
    openapi_extra=_MANAGERS,
    response_model=list[DeliveryOut],
    summary="投递记录（最新在前）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def list_webhook_deliveries(
    subscription_id: SubscriptionId,
    session: SessionDep,
    caller: Manager,
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query(description="按状态筛选")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="条数")] = 100,
) -> list[DeliveryOut]:
    rows = await webhooks.list_deliveries(
        session,
        principal=_signed_in(caller),
        subscription_id=subscription_id,
        status=status,
        limit=limit,
        before_seq=None,
    )
    return [DeliveryOut.model_validate(r) for r in rows]


@webhooks_router.get(
    "/{subscription_id}/deliveries/{delivery_id}/attempts",
    openapi_extra=_MANAGERS,
    response_model=list[AttemptOut],
    summary="某次投递的每次尝试（状态码、耗时、错误）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def list_delivery_attempts(
    subscription_id: SubscriptionId, delivery_id: DeliveryId, session: SessionDep, caller: Manager
) -> list[AttemptOut]:
    rows = await webhooks.list_attempts(
        session, principal=_signed_in(caller), subscription_id=subscription_id, delivery_id=delivery_id
    )
    return [AttemptOut.model_validate(r) for r in rows]


@webhooks_router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    openapi_extra=_MANAGERS,
    response_model=DeliveryOut,
    summary="重新投递一次",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def replay_webhook_delivery(
    subscription_id: SubscriptionId, delivery_id: DeliveryId, session: SessionDep, caller: Manager
) -> DeliveryOut:
    row = await webhooks.replay_delivery(
        session, principal=_signed_in(caller), subscription_id=subscription_id, delivery_id=delivery_id
    )
    return DeliveryOut.model_validate(row)


@webhooks_router.post(
    "/{subscription_id}/replay",
    openapi_extra=_MANAGERS,
    response_model=ReplayOut,
    summary="重新投递某时间段内的事件",
    responses=problem_responses(Unauthorized, Forbidden, NotFound),
)
async def replay_webhook_range(
    subscription_id: SubscriptionId, window: ReplayRange, session: SessionDep, caller: Manager
) -> ReplayOut:
    count = await webhooks.replay_range(
        session, principal=_signed_in(caller), subscription_id=subscription_id, window=window
    )
    return ReplayOut(replayed=count)
