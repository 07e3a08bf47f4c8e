"""The catalog's structure: the platform's four columns (国办公开办函〔2019〕61号), the statutory categories of
条例 art. 20 (15 items) and art. 21 as the default tree, the pilot areas as editable data, and each
organization's 政务公开事项标准目录 (国办发〔2019〕54号) with its nine fields, exchanged as xlsx."""

from __future__ import annotations

import io

import httpx
from openpyxl import Workbook, load_workbook
from test_catalog_support import assert_problem, client, draft, fields, org_with_actors, settings

__all__ = ["client", "settings"]  # fixtures

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = [
    "序号",
    "公开事项（一级事项）",
    "公开事项（二级事项）",
    "公开内容（要素）",
    "公开依据",
    "公开时限",
    "公开主体",
    "公开渠道和载体",
    "公开对象",
    "公开方式",
    "公开层级",
    "试点领域",
]
ROWS = [
    [
        1,
        "社会救助",
        "最低生活保障",
        "低保政策文件、办理流程、审批结果",
        "《社会救助暂行办法》《中华人民共和国政府信息公开条例》",
        "信息形成或者变更之日起20个工作日内",
        "示范区民政局",
        "■政府网站 ■两微一端 ■公开查阅点",
        "全社会",
        "主动",
        "县级、乡级",
        "社会救助",
    ],
    [
        2,
        "社会救助",
        "特困人员救助供养",
        "特困人员认定条件、程序",
        "《社会救助暂行办法》",
        "信息形成或者变更之日起20个工作日内",
        "示范区民政局",
        "■政府网站",
        "特定群众",
        "依申请",
        "县级",
        None,
    ],
]


def _xlsx(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_the_default_tree_holds_the_four_columns_and_the_statutory_categories(client: httpx.AsyncClient) -> None:
    tree = (await client.get("/categories")).json()
    columns = [c["name"] for c in tree if c["key"] and c["key"].startswith("column.")]
    assert columns == ["政府信息公开指南", "政府信息公开制度", "法定主动公开内容", "政府信息公开年报"]
    statutory = next(c for c in tree if c["key"] == "column.statutory")
    art20 = [c for c in statutory["children"] if c["key"].startswith("art20.")]
    assert len(art20) == 15  # 条例 art. 20 (一)-(十五)
    assert art20[0]["basis"].startswith("条例第二十条第（一）项") and art20[0]["name"] == "法规规章和规范性文件"
    assert art20[14]["basis"].startswith("条例第二十条第（十五）项")
    by_key = {c["key"]: c for c in statutory["children"]}
    city = by_key["art21.city_county"]  # 条例 art. 21: 设区的市级、县级人民政府及其部门
    assert [c["name"] for c in city["children"]] == [
        "市政建设",
        "公共服务",
        "公益事业",
        "土地征收",
        "房屋征收",
        "治安管理",
        "社会救助",
    ]
    township = by_key["art21.township"]  # 条例 art. 21: 乡（镇）人民政府
    assert len(township["children"]) == 8 and "宅基地使用情况审核" in {c["name"] for c in township["children"]}
    assert {c["scope"] for c in township["children"]} == {"township"}


async def test_the_office_edits_categories_and_pilot_areas(client: httpx.AsyncClient) -> None:
    _, actors = await org_with_actors(client)
    tree = (await client.get("/categories")).json()
    statutory = next(c for c in tree if c["key"] == "column.statutory")
    created = await client.post(
        "/categories",
        json={"parent_id": statutory["id"], "name": "优化营商环境", "position": 99},
        headers=actors.office,
    )
    assert created.status_code == 201, created.text
    assert_problem(await client.post("/categories", json={"name": "x"}, headers=actors.drafter), 403)
    renamed = await client.patch(
        f"/categories/{created.json()['id']}", json={"name": "营商环境"}, headers=actors.office
    )
    assert renamed.json()["name"] == "营商环境"
    # A category cannot become its own ancestor.
    child = await client.post(
        "/categories", json={"parent_id": created.json()["id"], "name": "子类"}, headers=actors.office
    )
    cycle = await client.patch(
        f"/categories/{created.json()['id']}", json={"parent_id": child.json()["id"]}, headers=actors.office
    )
    assert fields(assert_problem(cycle, 422)) == {"body.parent_id"}

    areas = (await client.get("/pilot-areas")).json()
    names = [a["name"] for a in areas]
    assert "城乡规划" in names and "义务教育" in names and len(names) >= 22
    added = await client.post("/pilot-areas", json={"name": "测试新增领域", "note": "地方新增"}, headers=actors.office)
    assert added.status_code == 201
    assert_problem(await client.post("/pilot-areas", json={"name": "测试新增领域"}, headers=actors.office), 409)
    edited = await client.put(
        f"/pilot-areas/{added.json()['id']}", json={"name": "测试领域（改名）"}, headers=actors.office
    )
    assert edited.json()["name"] == "测试领域（改名）"
    assert (await client.delete(f"/pilot-areas/{added.json()['id']}", headers=actors.office)).status_code == 204


async def test_items_sit_in_a_category(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    tree = (await client.get("/categories")).json()
    regulations = next(
        c for c in next(c for c in tree if c["key"] == "column.statutory")["children"] if c["key"] == "art20.1"
    )
    item = await draft(client, org, actors.drafter, category_id=regulations["id"])
    listed = (await client.get("/items", params={"category_id": regulations["id"]}, headers=actors.drafter)).json()
    assert item["id"] in {i["id"] for i in listed["items"]}


async def test_standard_catalog_xlsx_round_trip(client: httpx.AsyncClient) -> None:
    """国办发〔2019〕54号: the nine fields survive import and export; choices are normalised."""
    org, actors = await org_with_actors(client)
    url = f"/organizations/{org['id']}/catalog-entries"
    imported = await client.post(f"{url}/import", content=_xlsx(ROWS), headers={**actors.drafter, "Content-Type": XLSX})
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"imported": 2, "replaced": 0}
    entries = (await client.get(url)).json()
    assert [e["matter_level2"] for e in entries] == ["最低生活保障", "特困人员救助供养"]
    assert entries[0]["level"] == "县级、乡级" and entries[1]["audience"] == "特定群众"

    exported = await client.get(f"{url}/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(exported.content)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADERS
    assert rows[1:] == ROWS

    # Importing the exported file again (replacing) gives the same entries.
    again = await client.post(
        f"{url}/import",
        params={"replace": "true"},
        content=exported.content,
        headers={**actors.drafter, "Content-Type": XLSX},
    )
    assert again.json() == {"imported": 2, "replaced": 2}
    assert [(e["matter_level2"], e["method"]) for e in (await client.get(url)).json()] == [
        ("最低生活保障", "主动"),
        ("特困人员救助供养", "依申请"),
    ]


async def test_a_bad_row_is_reported_with_its_number_and_nothing_is_imported(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    url = f"/organizations/{org['id']}/catalog-entries"
    bad = [list(ROWS[0]), list(ROWS[1]), list(ROWS[0])]
    bad[1][9] = "主动推送"  # 公开方式 must be 主动 or 依申请
    bad[2][4] = None  # 公开依据 missing
    bad[2][11] = "不存在的领域"
    problem = assert_problem(
        await client.post(f"{url}/import", content=_xlsx(bad), headers={**actors.drafter, "Content-Type": XLSX}), 422
    )
    assert problem["code"] == "import_invalid"
    reported = {(r["row"], r["column"]) for r in problem["rows"]}
    assert reported == {(3, "公开方式"), (4, "公开依据"), (4, "试点领域")}
    assert any("第3行" in r["message"] for r in problem["rows"])
    assert "body.rows.3.method" in fields(problem)
    assert (await client.get(url)).json() == []

    missing_column = assert_problem(
        await client.post(
            f"{url}/import", content=_xlsx(ROWS, HEADERS[:8]), headers={**actors.drafter, "Content-Type": XLSX}
        ),
        422,
    )
    assert {r["column"] for r in missing_column["rows"]} == {"公开对象", "公开方式", "公开层级"}
    not_xlsx = assert_problem(
        await client.post(f"{url}/import", content=b"%PDF-1.7", headers={**actors.drafter, "Content-Type": XLSX}), 422
    )
    assert "xlsx" in not_xlsx["rows"][0]["message"]
    assert (await client.get(url)).json() == []


async def test_entries_are_edited_one_by_one(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    url = f"/organizations/{org['id']}/catalog-entries"
    entry = dict(
        zip(
            [
                "matter_level1",
                "matter_level2",
                "content",
                "basis",
                "time_limit",
                "subject",
                "channels",
                "audience",
                "method",
                "level",
            ],
            ROWS[0][1:11],
            strict=True,
        )
    )
    created = await client.post(url, json={**entry, "method": "主动/依申请"}, headers=actors.drafter)
    assert created.status_code == 201, created.text
    assert created.json()["method"] == "主动、依申请"
    bad = await client.post(url, json={**entry, "audience": "部分群众", "basis": ""}, headers=actors.drafter)
    assert fields(assert_problem(bad, 422)) == {"body.audience", "body.basis"}
    entry_url = f"{url}/{created.json()['id']}"
    changed = await client.put(entry_url, json={**entry, "time_limit": "实时更新"}, headers=actors.drafter)
    assert changed.json()["time_limit"] == "实时更新"
    assert_problem(await client.put(entry_url, json=entry), 401)
    assert (await client.delete(entry_url, headers=actors.drafter)).status_code == 204
    assert (await client.get(url)).json() == []
