"""Table 二 of the annual report (国办公开办函〔2021〕30号, domain.md §3): 第二十条第（一）项 规章 and 行政规范性文件
本年制发 / 本年废止 / 现行有效 computed from the catalog; 行政许可, 行政处罚, 行政强制 decisions and 行政事业性收费
(万元) supplied by the office or another system."""

from __future__ import annotations

import uuid

import httpx
from gongkai_shared.auth import Role
from test_catalog_support import (
    assert_problem,
    client,
    draft,
    fields,
    org_with_actors,
    publish_through_review,
    settings,
    token,
)

__all__ = ["client", "settings"]  # fixtures


async def test_table2_counts_regulations_and_normative_documents(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)

    async def published(kind: str, **extra: str) -> dict:
        return await publish_through_review(
            client, await draft(client, org, actors.drafter, kind=kind, **extra), actors
        )

    r1 = await published("regulation", written_on="2026-03-01")
    await published("regulation", written_on="2026-05-01", supersedes_id=r1["id"])  # R1 no longer in force
    await published("normative_document", written_on="2025-06-01")
    n2 = await published("normative_document", written_on="2026-02-01")
    await published("normative_document")  # no 成文日期: counted in the year it was published
    await published("work_news", written_on="2026-01-10")  # not in table 二
    repeal = await client.post(
        f"/items/{n2['id']}/repeal",
        json={"repealed_on": "2026-10-01", "reason": "清理规范性文件"},
        headers=actors.reviewer,
    )
    assert repeal.status_code == 200, repeal.text

    table = (await client.get(f"/organizations/{org['id']}/annual-report/2026/table2")).json()
    assert table["regulations"] == {"issued": 2, "repealed": 0, "in_force": 1}
    assert table["normative_documents"] == {"issued": 2, "repealed": 1, "in_force": 2}
    assert table["licensing_decisions"] is None and table["fee_amount"] is None  # not supplied yet

    # The catalog counts what it published: nothing was in force at the end of 2025.
    last_year = (await client.get(f"/organizations/{org['id']}/annual-report/2025/table2")).json()
    assert last_year["normative_documents"] == {"issued": 1, "repealed": 0, "in_force": 0}
    assert last_year["as_of"] == "2025-12-31"


async def test_figures_the_catalog_does_not_hold_are_supplied(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    url = f"/organizations/{org['id']}/annual-report/2026/figures"
    figures = {
        "licensing_decisions": 1520,
        "penalty_decisions": 87,
        "enforcement_decisions": 3,
        "fee_amount": "12.3456",
    }
    assert_problem(await client.put(url, json=figures, headers=actors.drafter), 403)
    assert_problem(await client.put(url, json=figures), 401)
    bad = assert_problem(await client.put(url, json={**figures, "penalty_decisions": -1}, headers=actors.office), 422)
    assert fields(bad) == {"body.penalty_decisions"}
    assert_problem(
        await client.put(f"/organizations/{org['id']}/annual-report/1999/figures", json=figures, headers=actors.office),
        422,
    )
    assert_problem(
        await client.put(
            f"/organizations/{uuid.uuid4()}/annual-report/2026/figures", json=figures, headers=actors.office
        ),
        404,
    )

    saved = await client.put(url, json=figures, headers=actors.office)
    assert saved.status_code == 200, saved.text
    # Another system (an API key with the system role) may correct them.
    system = token({Role.system}, name="行政执法监督平台")
    corrected = await client.put(url, json={**figures, "penalty_decisions": 88}, headers=system)
    assert corrected.status_code == 200, corrected.text
    table = (await client.get(f"/organizations/{org['id']}/annual-report/2026/table2")).json()
    assert (table["licensing_decisions"], table["penalty_decisions"], table["enforcement_decisions"]) == (1520, 88, 3)
    assert float(table["fee_amount"]) == 12.3456  # 万元
    assert table["supplied_by"] and table["supplied_at"]
    assert table["regulations"] == {"issued": 0, "repealed": 0, "in_force": 0}
