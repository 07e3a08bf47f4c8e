"""Organizations (机关): a tree managed by the disclosure office, with a validated code (统一社会信用代码,
GB 32100, or 组织机构代码, GB 11714); each change is an event carrying what other services need."""

from __future__ import annotations

import uuid

import httpx
from gongkai_catalog.models import Organization
from gongkai_shared.auth import Role
from gongkai_shared.contracts.catalog import ORGANIZATION_CREATED_V1, ORGANIZATION_UPDATED_V1
from sqlalchemy import func, select
from test_catalog_support import (
    assert_problem,
    client,
    db,
    fields,
    new_org,
    org_code,
    outbox_events,
    settings,
    token,
    uscc,
)

__all__ = ["client", "db", "settings"]  # fixtures

OFFICE = token({Role.office}, name="政务公开办")


async def test_codes_are_validated_and_normalised(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    async with db() as session:
        before = await session.scalar(select(func.count()).select_from(Organization))
    good = uscc()
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    for bad in (wrong_check, "12345", "11440300ABCDEFGHIO", org_code()[:-1] + "Z"):
        problem = assert_problem(
            await client.post("/organizations", json={"name": "示范局", "code": bad}, headers=OFFICE), 422
        )
        assert fields(problem) == {"body.code"}, problem
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Organization)) == before

    created = await new_org(client, OFFICE, code=good.lower())
    assert created["code"] == good  # upper-case
    nine = org_code()
    hyphenated = await new_org(client, OFFICE, code=f"{nine[:8]}-{nine[8]}")
    assert hyphenated["code"] == nine  # 组织机构代码 without its hyphen
    taken = await client.post("/organizations", json={"name": "另一个局", "code": good}, headers=OFFICE)
    assert_problem(taken, 409, "organization_code_taken")


async def test_the_office_manages_the_tree_and_each_change_is_an_event(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    government = await new_org(client, OFFICE, name="示范市人民政府", type="government")
    bureau = await new_org(
        client,
        OFFICE,
        name="示范市教育局",
        parent_id=government["id"],
        head_name="王某",
        head_title="局长",
        address="示范市人民路1号",
        office_hours="工作日 9:00-12:00，14:00-17:30",
        phone="0755-12345678",
    )
    district = await new_org(client, OFFICE, name="示范区人民政府", type="district", parent_id=government["id"])
    street = await new_org(client, OFFICE, name="示范街道办事处", type="township", parent_id=district["id"])
    assert bureau["type_label"] == "部门" and street["type_label"] == "镇街"

    (created,) = await outbox_events(db, ORGANIZATION_CREATED_V1, organization_id=bureau["id"])
    data = created["data"]
    assert data["parent_id"] == government["id"] and data["code"] == bureau["code"]
    assert (data["head_name"], data["head_title"], data["type"]) == ("王某", "局长", "department")

    changed = await client.patch(f"/organizations/{bureau['id']}", json={"head_name": "李某"}, headers=OFFICE)
    assert changed.status_code == 200 and changed.json()["head_name"] == "李某"
    (updated,) = await outbox_events(db, ORGANIZATION_UPDATED_V1, organization_id=bureau["id"])
    assert updated["data"]["head_name"] == "李某" and updated["data"]["name"] == "示范市教育局"

    tree = (await client.get("/organizations/tree")).json()
    root = next(n for n in tree if n["id"] == government["id"])
    assert {c["name"] for c in root["children"]} == {"示范市教育局", "示范区人民政府"}
    district_node = next(c for c in root["children"] if c["id"] == district["id"])
    assert [c["name"] for c in district_node["children"]] == ["示范街道办事处"]
    children = (await client.get("/organizations", params={"parent_id": government["id"]})).json()["items"]
    assert {c["id"] for c in children} == {bureau["id"], district["id"]}

    # Only the office changes organizations.
    staff = token({Role.staff}, uuid.UUID(bureau["id"]))
    assert_problem(await client.patch(f"/organizations/{bureau['id']}", json={"name": "x"}, headers=staff), 403)
    assert_problem(await client.post("/organizations", json={"name": "x"}, headers=staff), 403)
    assert_problem(await client.patch(f"/organizations/{uuid.uuid4()}", json={"name": "x"}, headers=OFFICE), 404)


async def test_a_cycle_in_the_tree_is_refused(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    government = await new_org(client, OFFICE, name="环测市人民政府", type="government")
    district = await new_org(client, OFFICE, name="环测区人民政府", type="district", parent_id=government["id"])
    street = await new_org(client, OFFICE, name="环测街道", type="township", parent_id=district["id"])
    for node, parent in ((government, street), (government, district), (district, district)):
        problem = assert_problem(
            await client.patch(f"/organizations/{node['id']}", json={"parent_id": parent["id"]}, headers=OFFICE), 422
        )
        assert problem["errors"][0]["field"] == "body.parent_id" and problem["errors"][0]["type"] == "tree_cycle"
    assert (await client.get(f"/organizations/{government['id']}")).json()["parent_id"] is None
    assert await outbox_events(db, ORGANIZATION_UPDATED_V1, organization_id=government["id"]) == []
    # Moving a subtree elsewhere is fine.
    other = await new_org(client, OFFICE, name="另一个区", type="district", parent_id=government["id"])
    moved = await client.patch(f"/organizations/{street['id']}", json={"parent_id": other["id"]}, headers=OFFICE)
    assert moved.status_code == 200 and moved.json()["parent_id"] == other["id"]
    missing = await client.patch(
        f"/organizations/{street['id']}", json={"parent_id": str(uuid.uuid4())}, headers=OFFICE
    )
    assert fields(assert_problem(missing, 422)) == {"body.parent_id"}
