"""Fuzzing the public contract (issue 7 point 7): schemathesis generates requests for every operation
of the gateway's merged OpenAPI and sends them, signed in as the disclosure office, to the whole stack
running in this process on real PostgreSQL (the four services and the gateway, as in
tests/test_permissions.py). It fails on any 5xx and on any answer that breaks the documented schema
(status documented → body must match it).

The operations come from the merged document, so routes other engineers add are fuzzed the next
run. ``GK_FUZZ_EXAMPLES`` (default 4) bounds the examples per operation, which keeps the run at about
two minutes on the shared 2-core machine; raise it for a deeper search.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from test_permissions import ADMIN, PASSWORD, migrate_stack, running_stack

EXAMPLES = int(os.environ.get("GK_FUZZ_EXAMPLES", "4"))


@contextlib.contextmanager
def stack_in_thread(databases: dict[str, str]) -> Iterator[str]:
    """The stack on its own event loop in a thread (schemathesis calls it synchronously)."""
    ready = threading.Event()
    url: list[str] = []
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with running_stack(databases, rate_limits={}) as gateway:
                url.append(gateway)
                ready.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(timeout=120)
    if failure or not url:
        raise RuntimeError("the stack did not start") from (failure[0] if failure else None)
    try:
        yield url[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, dict[str, str]]]:
    """The gateway's URL and the office's Authorization header."""
    with stack_in_thread(migrate_stack()) as url, httpx.Client(base_url=url, timeout=60) as client:
        r = client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        username = f"fuzz-office-{uuid.uuid4().hex[:8]}"
        r = client.post(
            "/api/v1/users", json={"username": username, "password": PASSWORD, "roles": ["office"]}, headers=admin
        )
        assert r.status_code == 201, r.text
        r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield url, {"Authorization": f"Bearer {r.json()['access_token']}"}


def _binary_media_types(doc: dict[str, Any]) -> set[str]:
    structured = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
    return {
        media
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
        for media in ((op.get("requestBody") or {}).get("content") or {})
        if media not in structured and not media.endswith("+json")
    }


def test_no_operation_answers_5xx_or_breaks_its_documented_schema(gateway: tuple[str, dict[str, str]]) -> None:
    url, office = gateway
    with httpx.Client(base_url=url, timeout=60) as client:
        doc = client.get("/openapi.json").json()
    assert doc["info"]["x-unavailable-services"] == []
    # Raw uploads (spreadsheets, attachments): schemathesis has no serializer for their media types;
    # random bytes are what a fuzzer should send them.
    for media in _binary_media_types(doc):
        schemathesis.openapi.media_type(media, st.binary(max_size=4096))
    schema = schemathesis.openapi.from_dict(doc)
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        operation: Any = result.ok()
        fuzzed += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported as found
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(
                base_url=url, headers=office, checks=[not_a_server_error, response_schema_conformance], timeout=60
            )

        try:
            fuzz()
        except Exception as exc:  # one line per broken operation; all operations are fuzzed
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:600]}")
    assert fuzzed > 100, "the merged document should hold every service's operations"
    assert not failures, "\n\n".join(failures)
