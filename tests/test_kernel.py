"""The shared kernel as a service uses it: the request's transaction, problem+json, pagination,
request ids. Real PostgreSQL (the catalog's migrated database), a real app served by uvicorn."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
import uvicorn
from conftest import migrate
from fastapi import APIRouter, Depends, FastAPI, Request
from gongkai_shared.db import SessionDep
from gongkai_shared.http import service_client
from gongkai_shared.logging import bind_request_id
from gongkai_shared.pagination import Page, PageParams, page_params
from gongkai_shared.service import create_service_app
from pydantic import BaseModel, Field
from sqlalchemy import text

TABLE = f"kernel_{uuid.uuid4().hex[:8]}"


class NoteIn(BaseModel):
    code: str = Field(min_length=1, max_length=20, description="编号")
    size: int = Field(ge=0, le=100)


def make_router() -> APIRouter:
    router = APIRouter()

    @router.post("/notes", status_code=201)
    async def create(note: NoteIn, session: SessionDep) -> dict:
        await session.execute(
            text(f"INSERT INTO {TABLE} (code, size) VALUES (:c, :s)"), {"c": note.code, "s": note.size}
        )
        return {"created": note.code}

    @router.get("/notes")
    async def list_notes(session: SessionDep, params: Annotated[PageParams, Depends(page_params)]) -> Page[str]:
        from gongkai_shared.pagination import decode_cursor, encode_cursor

        after = decode_cursor(params.cursor)[0] if params.cursor else ""
        rows = (
            (
                await session.execute(
                    text(f"SELECT code FROM {TABLE} WHERE code > :a ORDER BY code LIMIT :n"),
                    {"a": after, "n": params.limit + 1},
                )
            )
            .scalars()
            .all()
        )
        more = len(rows) > params.limit
        rows = rows[: params.limit]
        return Page(items=list(rows), next_cursor=encode_cursor([rows[-1]]) if more else None)

    @router.get("/boom")
    async def boom() -> None:
        id_number = "110101199003074514"  # an applicant's ID number in a local variable
        raise RuntimeError(f"secret internals {len(id_number)}")

    @router.get("/driver-echo")
    async def driver_echo(value: str, session: SessionDep) -> dict:
        # A statement through the driver itself, as search does (gongkai_catalog.search._fetch).
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        return {"value": await raw.fetchval("SELECT $1::text", value)}

    @router.get("/echo-request-id")
    async def echo(request: Request) -> dict:
        return {"seen": request.headers.get("x-request-id")}

    return router


@pytest.fixture(scope="module")
async def base_url() -> AsyncIterator[str]:
    from gongkai_catalog.settings import CatalogSettings

    url = await asyncio.to_thread(migrate, "catalog")  # migrate() runs its own event loop
    settings = CatalogSettings(database_url=url)
    app: FastAPI = create_service_app(settings=settings, title="kernel test", description="", routers=[make_router()])
    import asyncpg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(plain)
    # The unique constraint is checked at COMMIT: a duplicate fails only after the endpoint returned.
    await conn.execute(
        f"CREATE TABLE {TABLE} (code text, size int, CONSTRAINT {TABLE}_uq UNIQUE (code) DEFERRABLE INITIALLY DEFERRED)"
    )
    await conn.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_a_commit_that_fails_after_the_endpoint_returned_never_answers_2xx(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        first = await client.post("/notes", json={"code": "A-1", "size": 1})
        assert first.status_code == 201
        dup = await client.post("/notes", json={"code": "A-1", "size": 2})
        # The endpoint returned normally; the COMMIT failed on the deferred constraint.
        assert dup.status_code == 409, dup.text
        assert dup.headers["content-type"].startswith("application/problem+json")
        assert dup.json()["code"] == "conflict"
        listed = (await client.get("/notes")).json()["items"]
        assert listed.count("A-1") == 1


async def test_invalid_input_names_each_field_and_writes_nothing(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        resp = await client.post("/notes", json={"code": "", "size": 101})
        assert resp.status_code == 422
        body = resp.json()
        assert body["status"] == 422 and body["title"] == "请求参数不合法" and body["code"] == "validation_error"
        assert {e["field"] for e in body["errors"]} == {"body.code", "body.size"}
        broken = await client.post("/notes", content=b"{not json", headers={"content-type": "application/json"})
        assert broken.status_code == 422 and broken.json()["errors"][0]["field"].startswith("body")
        assert "" not in (await client.get("/notes")).json()["items"]


async def test_keyset_pages_cover_every_row_once_and_a_bad_cursor_is_a_field_error(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for i in range(7):
            assert (await client.post("/notes", json={"code": f"P-{i}", "size": i})).status_code == 201
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/notes", params=params)).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [s for s in seen if s.startswith("P-")] == [f"P-{i}" for i in range(7)]
        assert len(seen) == len(set(seen))
        bad = await client.get("/notes", params={"cursor": "!!!"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.cursor"
        too_big = await client.get("/notes", params={"limit": 1000})
        assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "query.limit"


async def test_an_unexpected_error_is_a_problem_without_internals(
    base_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        resp = await client.get("/boom", headers={"authorization": "Bearer not-a-real-token-abc"})
        assert resp.status_code == 500
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "secret internals" not in resp.text
        assert resp.json()["request_id"] == resp.headers["x-request-id"]
        logged = capfd.readouterr().out
        assert "unhandled_error" in logged and resp.headers["x-request-id"] in logged
        # Tracebacks in logs carry no local variables: no personal data, no credentials.
        assert "110101199003074514" not in logged and "not-a-real-token-abc" not in logged
        missing = await client.get("/no-such-path")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_request_id_is_kept_returned_and_forwarded_to_other_services(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        resp = await client.get("/healthz", headers={"x-request-id": "req-abc-123"})
        assert resp.headers["x-request-id"] == "req-abc-123"
        generated = await client.get("/healthz")
        assert uuid.UUID(generated.headers["x-request-id"]).version == 7
        hostile = await client.get("/healthz", headers={"x-request-id": "bad id\twith spaces"})
        assert hostile.headers["x-request-id"] != "bad id\twith spaces"
    bind_request_id("req-from-caller")
    try:
        async with service_client(base_url) as other:
            assert (await other.get("/echo-request-id")).json() == {"seen": "req-from-caller"}
    finally:
        bind_request_id(None)


async def test_input_the_database_rejects_through_the_driver_is_a_422_not_a_500(base_url: str) -> None:
    """Statements sent through asyncpg directly (search, COPY) raise the driver's errors, not SQLAlchemy's:
    they get the same problem answers (here PostgreSQL refuses a NUL character: 22021)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/driver-echo", params={"value": "公开"})).json() == {"value": "公开"}
        resp = await client.get("/driver-echo", params={"value": "a\x00b"})
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == "unstorable_input"
