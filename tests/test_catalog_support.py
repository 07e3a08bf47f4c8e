"""Shared fixtures and helpers of the catalog tests (this module holds no tests itself).

The catalog app runs in-process (httpx ASGITransport, lifespan started) on its real migrated
database; tokens are signed with the run's secret, as the gateway signs them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import migrate
from gongkai_catalog.app import create_app
from gongkai_catalog.settings import CatalogSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events.envelope import subject_of
from gongkai_shared.validators import org_code_check_char, uscc_check_char
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

PROBLEM_JSON = "application/problem+json"

__all__ = [
    "PROBLEM_JSON",
    "Actors",
    "assert_problem",
    "catalog_settings",
    "client",
    "db",
    "draft",
    "new_org",
    "org_code",
    "outbox_events",
    "publish_through_review",
    "resident_id",
    "uscc",
]


def catalog_settings(**overrides: Any) -> CatalogSettings:
    return CatalogSettings(database_url=migrate("catalog"), **overrides)


@pytest.fixture(scope="session")
async def settings() -> CatalogSettings:
    return await asyncio.to_thread(catalog_settings)


@pytest.fixture(scope="session")
async def client(settings: CatalogSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test", timeout=60) as c:
            yield c


@pytest.fixture(scope="session")
async def db(settings: CatalogSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def token(roles: set[Role], department: uuid.UUID | None = None, name: str = "") -> dict[str, str]:
    subject = f"user-{uuid.uuid4().hex[:8]}"
    principal = Principal(subject=subject, name=name or subject, roles=frozenset(roles), department_id=department)
    signed = TokenSigner(os.environ["GK_JWT_SECRET"]).issue(principal, ttl=dt.timedelta(hours=2))
    return {"Authorization": f"Bearer {signed}"}


class Actors:
    """The people of one department: a drafter, reviewers, the office."""

    def __init__(self, department: uuid.UUID) -> None:
        self.department = department
        self.office = token({Role.office}, name="政务公开办")
        self.drafter = token({Role.staff}, department, name="起草人")
        # Reviewers who are not the drafter; one per stage is enough (the rule is only "not one's own").
        self.reviewer = token({Role.reviewer}, department, name="审核人")
        self.reviewer2 = token({Role.reviewer}, department, name="复核人")
        self.other_department_reviewer = token({Role.reviewer}, uuid.uuid4(), name="外部门审核人")


# --------------------------------------------------------------------------------------------
# Valid codes and numbers, computed here
# --------------------------------------------------------------------------------------------


def org_code(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    body = "".join(rng.choice("0123456789") for _ in range(8))
    return body + org_code_check_char(body)


def uscc(rng: random.Random | None = None) -> str:
    """A 统一社会信用代码 of a government body (GB 32100: 1 机构编制, 1 机关, region, 组织机构代码, check)."""
    first17 = "11" + "440300" + org_code(rng)
    return first17 + uscc_check_char(first17)


_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def resident_id(birth: dt.date = dt.date(1985, 6, 15), region: str = "110105", seq: int = 123) -> str:
    """A checksum-valid 18-digit resident ID (GB 11643-1999, ISO 7064 MOD 11-2), computed independently."""
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def assert_problem(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_JSON), resp.headers["content-type"]
    body = resp.json()
    if code is not None:
        assert body["code"] == code, body
    return body


def fields(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors") or []}


async def new_org(
    client: httpx.AsyncClient, office: dict[str, str], *, name: str | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"name": name or f"示范市测试局{uuid.uuid4().hex[:6]}", "code": uscc(), "type": "department", **extra}
    resp = await client.post("/organizations", json=body, headers=office)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def org_with_actors(client: httpx.AsyncClient, **extra: Any) -> tuple[dict[str, Any], Actors]:
    office = token({Role.office}, name="政务公开办")
    org = await new_org(client, office, **extra)
    return org, Actors(uuid.UUID(org["id"]))


async def draft(client: httpx.AsyncClient, org: dict, who: dict[str, str], **fields_: Any) -> dict[str, Any]:
    body = {
        "organization_id": org["id"],
        "title": f"示范市政务公开工作办法{uuid.uuid4().hex[:4]}",
        "kind": "normative_document",
        "body": "第一条 为了规范政府信息公开工作，根据《中华人民共和国政府信息公开条例》，制定本办法。",
        **fields_,
    }
    resp = await client.post("/items", json=body, headers=who)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def publish_through_review(
    client: httpx.AsyncClient, item: dict, actors: Actors, *, stages: int = 4
) -> dict[str, Any]:
    """Submit, pass 保密审查 and the three content stages, publish."""
    resp = await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)
    assert resp.status_code == 200, resp.text
    for _ in range(stages):
        resp = await client.post(f"/items/{item['id']}/approve", json={"opinion": "同意"}, headers=actors.reviewer)
        assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "approved"
    resp = await client.post(f"/items/{item['id']}/publish", headers=actors.drafter)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def outbox_events(db: async_sessionmaker[AsyncSession], event_type: str, **match: Any) -> list[dict[str, Any]]:
    """Envelopes of ``event_type`` written to the outbox whose data contains ``match``."""
    from gongkai_catalog.models import event_tables

    o = event_tables.outbox
    stmt = select(o.c.envelope).where(o.c.subject == subject_of(event_type)).order_by(o.c.seq)
    async with db() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return [
        e for e in rows if e["type"] == event_type and all(str(e["data"].get(k)) == str(v) for k, v in match.items())
    ]
