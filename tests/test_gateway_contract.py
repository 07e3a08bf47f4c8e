"""The public contract (issue 7 point 6, in part): the merged OpenAPI describes every operation in
Chinese, with a readable operation id unique across services and the problem+json answers it can
give; the event catalog is published as an AsyncAPI 3.0 document generated from the event contracts.

The whole stack runs in this process (tests/test_permissions.py's ``running_stack``): the operations
are the services' real ones, whatever routes other engineers add.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest
from gongkai_gateway.asyncapi import event_contracts
from gongkai_gateway.settings import UPSTREAMS
from gongkai_gateway.webhooks import payload_for
from gongkai_shared.contracts.gateway import WEBHOOK_PAUSED_V1, WebhookPausedV1
from gongkai_shared.events import new_envelope
from test_permissions import migrate_stack, running_stack

PROBLEM_JSON = "application/problem+json"
HAN = re.compile(r"[\u4e00-\u9fff]")
READABLE_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@pytest.fixture(scope="module")
def databases() -> dict[str, str]:
    return migrate_stack()


@pytest.fixture(scope="module")
async def published(databases: dict[str, str]) -> AsyncIterator[tuple[dict[str, Any], httpx.Response]]:
    """The merged OpenAPI and the answer of GET /asyncapi.json."""
    async with running_stack(databases) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        doc = (await client.get("/openapi.json")).json()
        asyncapi = await client.get("/asyncapi.json")
    assert doc["info"]["x-unavailable-services"] == []
    yield doc, asyncapi


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    ]


def test_every_operation_is_described_in_chinese_with_a_readable_unique_id(
    published: tuple[dict[str, Any], httpx.Response],
) -> None:
    doc, _ = published
    ops = _operations(doc)
    assert len(ops) > 100
    no_chinese = [
        f"{m} {p}" for m, p, op in ops if not HAN.search(f"{op.get('summary', '')}{op.get('description', '')}")
    ]
    assert not no_chinese, "\n".join(no_chinese)
    ids = [op.get("operationId", "") for _, _, op in ops]
    assert not [i for i in ids if not READABLE_ID.match(i)]
    assert len(ids) == len(set(ids)), "operation ids are unique across services"
    # Each service's operations carry its prefix, so clients group them by service.
    for method, path, op in ops:
        service = path.split("/")[3] if path.startswith("/api/v1/") else None
        if service in UPSTREAMS:
            assert op["operationId"].startswith(f"{service}_"), f"{method} {path}"


def test_every_operation_documents_the_problem_answers_it_can_give(
    published: tuple[dict[str, Any], httpx.Response],
) -> None:
    """problem+json (RFC 9457) for: 401/403 where anonymous callers are not admitted, 404 with path
    parameters, 422 with parameters or a body, 502/504 through the proxy."""
    doc, _ = published
    wrong = []
    for method, path, op in _operations(doc):
        responses = op.get("responses", {})
        access = op.get("x-gongkai-access", {})
        expected = set()
        if op.get("parameters") or op.get("requestBody"):
            expected.add("422")
        if "{" in path:
            expected.add("404")
        if not access.get("anonymous"):
            expected.add("401")
        if path.startswith("/api/v1/") and path.split("/")[3] in UPSTREAMS:
            expected |= {"502", "504"}
        problems = {s for s, r in responses.items() if PROBLEM_JSON in (r.get("content") or {})}
        if missing := expected - problems:
            wrong.append(f"{method} {path}: no problem+json for {sorted(missing)}")
        if not problems:
            wrong.append(f"{method} {path}: no problem+json answer at all")
        for status in problems:
            schema = responses[status]["content"][PROBLEM_JSON].get("schema")
            if schema is not None and "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[-1]
                assert name in doc["components"]["schemas"], f"{method} {path} {status}: {name}"
    assert not wrong, "\n".join(wrong)


def test_the_event_catalog_is_an_asyncapi_document_generated_from_the_contracts(
    published: tuple[dict[str, Any], httpx.Response],
) -> None:
    _, response = published
    assert response.status_code == 200
    doc = response.json()
    assert doc["asyncapi"] == "3.0.0"
    contracts = event_contracts()
    assert len(contracts) > 20
    assert not [c.type for c in contracts if c.model is None], "every event type has its payload model"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == {c.subject for c in contracts}
    assert {"catalog.policy.published", "requests.application.received", "gateway.webhook.paused"} <= addresses
    for contract in contracts:
        key = contract.type.replace(".", "_")
        message = doc["components"]["messages"][key]
        data_ref = message["payload"]["properties"]["data"]["$ref"]
        schema = doc["components"]["schemas"][data_ref.rsplit("/", 1)[-1]]
        assert set(schema.get("properties", {})) == set(contract.model.model_fields), contract.type
        operation = doc["operations"][f"publish_{key}"]
        assert operation["action"] == "send" and operation["channel"]["$ref"] == f"#/channels/{key}"


def test_a_real_event_and_its_webhook_body_validate_against_the_published_schema(
    published: tuple[dict[str, Any], httpx.Response],
) -> None:
    """What a subscriber receives is what the catalog promises; a body missing a field does not pass."""
    doc = published[1].json()
    now = dt.datetime.now(dt.UTC)
    payload = WebhookPausedV1(
        subscription_id=uuid.uuid4(),
        name="测试订阅",
        target_host="hooks.example.gov.cn",
        failing_since=now - dt.timedelta(days=1),
        paused_at=now,
    )
    envelope = new_envelope(WEBHOOK_PAUSED_V1, payload)
    body = payload_for(envelope, personal_data=False)
    key = WEBHOOK_PAUSED_V1.replace(".", "_")
    validator = jsonschema.Draft202012Validator({**doc, "$ref": f"#/components/messages/{key}/payload"})
    validator.validate(body)
    validator.validate(envelope.model_dump(mode="json"))
    broken = {**body, "data": {k: v for k, v in body["data"].items() if k != "paused_at"}}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**body, "type": "catalog.policy.published.v1"})
