"""The event catalog as an AsyncAPI 3.0 document (issue 7 point 6), at ``GET /asyncapi.json``.

Generated from the event contracts in ``gongkai_shared.contracts``: every module-level constant
``NAME_V<n> = "<service>.<entity>.<verb>.v<n>"`` is an event type, published on the NATS subject
``<service>.<entity>.<verb>`` (plus the deployment's ``GK_EVENT_NAMESPACE`` prefix) inside the
shared envelope, whose ``data`` is the pydantic payload model of that type. The contracts do not
name each constant's model, so it is found by the naming the modules follow: ``NameV<n>``; for
deadline events (``…due_soon``, ``…overdue``) ``<Entity>DeadlineV<n>``; then ``<Entity>V<n>``;
``_IRREGULAR`` holds the few that follow none. tests/test_gateway_contract.py fails when a subject
has no payload, so a new event cannot be left out silently.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from dataclasses import dataclass
from typing import Any

import gongkai_shared.contracts
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from gongkai_shared.events import Envelope
from pydantic import BaseModel

__all__ = ["ASYNCAPI_URL", "EventContract", "asyncapi_document", "asyncapi_router", "event_contracts"]

ASYNCAPI_URL = "/asyncapi.json"
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*_V(\d+)$")
_TYPE = re.compile(r"^([a-z][a-z_]*)\.([a-z][a-z_]*)\.([a-z][a-z_]*)\.v(\d+)$")
#: Event types whose payload model follows none of the naming rules.
_IRREGULAR = {
    "sentiment.event.detected.v1": "OpinionEventV1",
    "sentiment.event.escalated.v1": "OpinionEventV1",
}
_DEADLINE_VERBS = ("due_soon", "overdue")


@dataclass(frozen=True)
class EventContract:
    type: str  # catalog.policy.published.v1
    subject: str  # catalog.policy.published
    producer: str
    model: type[BaseModel] | None
    module_doc: str


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.lower().split("_"))


def _model_for(module: Any, constant: str, event_type: str) -> type[BaseModel] | None:
    match = _TYPE.match(event_type)
    if match is None:
        return None
    _, entity, verb, version = match.groups()
    candidates = [_IRREGULAR.get(event_type), _camel(constant.rsplit("_V", 1)[0]) + f"V{version}"]
    if verb.endswith(_DEADLINE_VERBS):
        candidates.append(f"{_camel(entity)}DeadlineV{version}")
    candidates.append(f"{_camel(entity)}V{version}")
    for name in candidates:
        model = getattr(module, name, None) if name else None
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model
    return None


@functools.cache
def event_contracts() -> tuple[EventContract, ...]:
    """Every event type of the contracts package, with its payload model (None: not found)."""
    out: list[EventContract] = []
    for info in pkgutil.iter_modules(gongkai_shared.contracts.__path__):
        module = importlib.import_module(f"gongkai_shared.contracts.{info.name}")
        for constant, value in vars(module).items():
            if not (_CONSTANT.match(constant) and isinstance(value, str) and _TYPE.match(value)):
                continue
            subject = value.rsplit(".", 1)[0]
            model = _model_for(module, constant, value)
            out.append(EventContract(value, subject, value.split(".", 1)[0], model, (module.__doc__ or "").strip()))
    return tuple(sorted(out, key=lambda c: c.type))


def _hoist(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return schema


def _summary(contract: EventContract) -> str:
    """The line of the module's subject table that describes this subject (Chinese or English)."""
    for line in contract.module_doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].split(" ")[0] == contract.subject:
            return cells[1]
    return contract.model.__doc__.strip().splitlines()[0] if contract.model and contract.model.__doc__ else ""


@functools.cache
def asyncapi_document() -> dict[str, Any]:
    ref = "#/components/schemas/{model}"
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    envelope = _hoist(Envelope.model_json_schema(ref_template=ref), schemas)
    for contract in event_contracts():
        if contract.model is None:
            continue
        model_name = contract.model.__name__
        schemas[model_name] = _hoist(contract.model.model_json_schema(ref_template=ref), schemas)
        key = contract.type.replace(".", "_")
        payload = {
            **envelope,
            "title": f"Envelope<{contract.type}>",
            "properties": {
                **envelope["properties"],
                "type": {"type": "string", "const": contract.type, "description": "主题加版本"},
                "source": {"type": "string", "const": contract.producer, "description": "产生事件的服务"},
                "data": {"$ref": ref.format(model=model_name)},
            },
        }
        summary = _summary(contract)
        messages[key] = {
            "name": contract.type,
            "title": contract.type,
            "summary": summary,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "description": "事件 ID（去重）"}},
            },
            "payload": payload,
        }
        channels[key] = {
            "address": contract.subject,
            "title": contract.subject,
            "description": f"{summary}（部署设置 GK_EVENT_NAMESPACE 时，主题前加该前缀）".strip(),
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "title": f"{contract.producer} 发布 {contract.type}",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Gongkai 事件目录",
            "version": "1",
            "description": "各服务经 NATS JetStream 发布的事件：每个主题的信封与数据结构（由 gongkai_shared.contracts "
            "中的 pydantic 模型生成）。网关的 Webhook 推送的正文即为此信封（无个人信息权限的订阅者不含个人信息字段）。",
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {"host": "nats:4222", "protocol": "nats", "description": "JetStream；每个生产方一个流"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


asyncapi_router = APIRouter()


@asyncapi_router.get(ASYNCAPI_URL, include_in_schema=False)
async def asyncapi() -> JSONResponse:
    return JSONResponse(asyncapi_document())
