"""The demo city (issue 8 point 3): ``./gongkai demo`` loads a city through the gateway's HTTP API only.

The processes are started by the same supervisor as ``./gongkai up`` (as tests/test_walking_skeleton.py does); the
loader runs at the tiny scale (3 departments, 1 year) and every service is then asked, through the gateway, whether
it got its share: organizations, published items with 索引号, interpretation tasks, applications with outcomes,
sentiment posts, and a table 三 that passes the format's checks (国办公开办函〔2021〕30号).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Iterator
from decimal import Decimal
from html import escape

import httpx
import pytest
from gongkai_dev import demo
from gongkai_dev.supervisor import Supervisor, migrate_all
from gongkai_shared.timeutil import china_today
from gongkai_shared.validators import agency_code_problem

ADMIN = ("demo-test-admin", "correct horse battery staple")

# The module's fixture starts every service and loads the tiny city through the gateway (~3.5 minutes on
# an idle 2-core machine): more than the suite's default per-test limit when the machine is busy.
pytestmark = pytest.mark.timeout(1200)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    env = dict(os.environ)
    env["GK_ADMIN_USERNAME"], env["GK_ADMIN_PASSWORD"] = ADMIN
    # An installation of its own (the demo refuses to load where a 示范市人民政府 exists, and other tests
    # create one): its own databases and event namespace, still under this run's prefixes so the run's
    # clean-up removes them.
    env["GK_DATABASE_PREFIX"] = os.environ["GK_DATABASE_PREFIX"] + "demo_"
    env["GK_EVENT_NAMESPACE"] = os.environ["GK_EVENT_NAMESPACE"] + "_demo"
    migrate_all(env)
    ports = {s: _free_port() for s in ("gateway", "catalog", "requests", "interpretation", "sentiment")}
    sup = Supervisor(env=env, log_dir=tmp_path_factory.mktemp("logs"), ports=ports)
    sup.plan()
    sup.start()
    try:
        sup.wait_ready(timeout=90)
        yield sup
    finally:
        sup.stop()


@pytest.fixture(scope="module")
def city(system: Supervisor) -> tuple[str, demo.Loaded]:
    """The tiny city, loaded once (how long it takes is bench/demo.py's business, not a test's)."""
    base = f"http://127.0.0.1:{system.ports['gateway']}"
    return base, asyncio.run(demo.load_city(base, *ADMIN, scale="tiny", seed=7, log=lambda _: None))


@pytest.fixture(scope="module")
def gateway(city: tuple[str, demo.Loaded]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=city[0], timeout=30) as client:
        resp = client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
        assert resp.status_code == 200, resp.text
        client.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        yield client


def _all(client: httpx.Client, path: str, **params: object) -> list[dict]:
    out: list[dict] = []
    params = {**params, "limit": 200}
    while True:
        resp = client.get(path, params=params)
        assert resp.status_code == 200, resp.text
        out.extend(resp.json()["items"])
        if not resp.json().get("next_cursor"):
            return out
        params["cursor"] = resp.json()["next_cursor"]


def test_codes_are_valid_and_reproducible() -> None:
    """GB 32100 统一社会信用代码 and GB 11643 resident ID numbers with computed check characters; one seed, one city."""
    import random

    a, b = random.Random(5), random.Random(5)
    codes = [demo.agency_code(a, demo.DIVISION) for _ in range(50)]
    assert codes == [demo.agency_code(b, demo.DIVISION) for _ in range(50)]
    assert all(agency_code_problem(c) is None for c in codes), [c for c in codes if agency_code_problem(c)]
    assert all(c.startswith("11441700") for c in codes)  # 机关 (1, 1) of the demo city's division


def test_organizations_with_codes_and_reviewers(gateway: httpx.Client, city: tuple) -> None:
    orgs = _all(gateway, "/api/v1/catalog/organizations")
    names = {o["name"] for o in orgs}
    assert demo.GOVERNMENT in names and "示范市发展和改革委员会" in names
    ours = [o for o in orgs if o["name"].startswith("示范市")]
    assert len(ours) == 4  # the government and 3 departments
    assert all(agency_code_problem(o["code"]) is None for o in ours)
    gov = next(o for o in ours if o["name"] == demo.GOVERNMENT)
    assert all(o["parent_id"] == gov["id"] for o in ours if o is not gov)
    # A reviewer per organization can sign in.
    resp = gateway.post("/api/v1/auth/token", data={"username": "demo-review-001", "password": demo.USER_PASSWORD})
    assert resp.status_code == 200, resp.text


def test_published_items_carry_index_numbers_and_went_through_review(gateway: httpx.Client, city: tuple) -> None:
    """条例 art. 17: each item went through 保密审查 and the three stages; art. 12: each has its 索引号."""
    _, loaded = city
    items = _all(gateway, "/api/v1/catalog/items", status="published")
    mine = [i for i in items if i["organization_id"] in {o.id for o in loaded.orgs}]
    assert len(mine) >= 4 * 6
    kinds = {i["kind"] for i in mine}
    assert {"normative_document", "work_news", "budget", "regulation"} <= kinds
    year = china_today().year
    for i in mine:
        assert re.fullmatch(r"[0-9A-Z]{18}/\d{4}-\d{5}", i["index_number"]), i
        assert i["index_number"].split("/")[1].startswith(str(year))  # published today: this year's series
    policy = next(i for i in mine if i["kind"] == "normative_document")
    assert policy["document_number"] and policy["written_on"].startswith(str(year - 1))  # 成文日期 historical
    history = gateway.get(f"/api/v1/catalog/items/{policy['id']}/history").json()
    approvals = [h for h in history if h["action"] in ("approve", "approved", "审核通过")]
    assert len(approvals) >= 4 or len([h for h in history if h.get("stage")]) >= 4, history


def test_policies_got_interpretation_tasks_most_published(gateway: httpx.Client, city: tuple) -> None:
    """三同步 (domain.md §4): one task per published policy; most are written, reviewed and published."""
    _, loaded = city
    tasks = _all(gateway, "/api/v1/interpretation/tasks")
    policy_ids = {p["id"] for p in loaded.policies}
    # Regular tasks: a policy may also get 补充解读 tasks from public-opinion events about it.
    ours = [t for t in tasks if t.get("policy_item_id") in policy_ids and t.get("kind", "regular") == "regular"]
    assert len(ours) == len(policy_ids) > 0
    published = [t for t in ours if t["status"] == "published"]
    assert published and len(published) >= len(ours) // 2
    assert any(any(f["form"] != "text" for f in t["forms"]) for t in published)  # some non-text forms


def test_applications_have_outcomes_and_table_three_adds_up(gateway: httpx.Client, city: tuple) -> None:
    """Table 三 (国办公开办函〔2021〕30号) of one department for the loaded year: every check of the format holds."""
    _, loaded = city
    assert loaded.counts["applications"] == 4 * 12
    assert sum(n for k, n in loaded.outcomes.items() if k != "（办理中）") >= 40
    assert len({k for k in loaded.outcomes}) >= 4  # several rows of table 三, not only 予以公开
    year = china_today().year - 1
    dept = loaded.orgs[1]
    stats = gateway.get(f"/api/v1/requests/statistics/{dept.id}/{year}")
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["checks"] == [], body["checks"]
    rows = {r["key"]: r for r in body["table3"]}
    first = next(r for r in body["table3"] if r["values"] is not None)
    assert first["values"][-1] == 12, rows  # 一、本年新收 total: the department's 12 applications
    apps = _all(gateway, "/api/v1/requests/applications", department_id=dept.id)
    assert len(apps) == 12


def test_sentiment_posts_and_events(gateway: httpx.Client, city: tuple) -> None:
    _, loaded = city
    posts = _all(gateway, "/api/v1/sentiment/posts")
    assert len(posts) >= 20 and loaded.counts["posts"] >= 20
    events = _all(gateway, "/api/v1/sentiment/events")
    assert events  # posts about one matter form events


def test_table_two_figures_and_a_consultation(gateway: httpx.Client, city: tuple) -> None:
    """Table 二 figures for 行政许可/处罚/强制/收费 (条例 art. 20(5)(6)(8)) are filled for the loaded year."""
    _, loaded = city
    year = china_today().year - 1
    t2 = gateway.get(f"/api/v1/catalog/organizations/{loaded.orgs[1].id}/annual-report/{year}/table2").json()
    assert t2["licensing_decisions"] is not None and t2["penalty_decisions"] is not None
    assert t2["normative_documents"]["issued"] >= 1
    assert loaded.counts["consultations"] == 1 and loaded.counts["comments"] == 5


def test_a_second_run_refuses_and_changes_nothing(gateway: httpx.Client, city: tuple) -> None:
    base, _ = city
    before = len(_all(gateway, "/api/v1/catalog/organizations"))
    with pytest.raises(demo.CityExists):
        asyncio.run(demo.load_city(base, *ADMIN, scale="tiny", seed=7, log=lambda _: None))
    assert len(_all(gateway, "/api/v1/catalog/organizations")) == before


def test_a_departments_annual_report_passes_the_format_and_is_published(gateway: httpx.Client, city: tuple) -> None:
    """Issue 8 "Done when" on the demo city: the annual report (条例 art. 50, 国办公开办函〔2021〕30号) of a demo
    department for the loaded year has no error from the format's checks, renders as HTML and Word, and goes through
    保密审查 and the review stages (art. 17) by the department's reviewer into the catalog; the office's assessment
    ranks the demo departments and draws its chart."""
    _, loaded = city
    dept = loaded.orgs[1]
    year = china_today().year - 1
    with httpx.Client(base_url=gateway.base_url, timeout=60) as c:

        def signed_in(account: demo.Account) -> dict[str, str]:
            resp = c.post("/api/v1/auth/token", data={"username": account.username, "password": account.password})
            assert resp.status_code == 200, resp.text
            return {"Authorization": f"Bearer {resp.json()['access_token']}"}

        staff, reviewer = signed_in(dept.staff), signed_in(dept.reviewer)
        path = f"/api/v1/catalog/organizations/{dept.id}/annual-reports"
        resp = c.post(path, json={"year": year}, headers=staff)
        assert resp.status_code == 201, resp.text
        report = resp.json()
        # Section 六: the 信息处理费 collected come from the requests service, the payments the demo recorded
        # through its API in that year (国办函〔2020〕109号).
        assert report["fees_source"] == "requests"
        assert Decimal(report["fees_collected"]) == loaded.fees[(dept.id, year)]
        assert [x for x in report["checks"] if x["severity"] == "error"] == [], report["checks"]
        assert report["table2"] and report["table3"] and report["table4"]
        html = c.get(f"{path}/{year}/html", headers=staff)
        assert html.status_code == 200 and dept.name in html.text and "<table" in html.text
        docx = c.get(f"{path}/{year}/docx", headers=staff)
        assert docx.status_code == 200 and docx.content[:2] == b"PK"  # a Word (OOXML zip) document
        resp = c.post(f"{path}/{year}/submit", headers=staff)
        assert resp.status_code == 200, resp.text
        item_id = resp.json()["item_id"]
        item = c.get(f"/api/v1/catalog/items/{item_id}", headers=staff).json()
        while item["status"] == "in_review":
            resp = c.post(f"/api/v1/catalog/items/{item_id}/approve", json={"opinion": "同意"}, headers=reviewer)
            assert resp.status_code == 200, resp.text
            item = resp.json()
        resp = c.post(f"/api/v1/catalog/items/{item_id}/publish", headers=staff)
        assert resp.status_code == 200, resp.text
        assert re.fullmatch(r"[0-9A-Z]{18}/\d{4}-\d{5}", resp.json()["index_number"])
        assert c.get(f"{path}/{year}", headers=staff).json()["status"] == "published"
    ranking = gateway.get("/api/v1/catalog/assessment", params={"period": str(year)})
    assert ranking.status_code == 200, ranking.text
    ranked = [d for d in ranking.json()["departments"] if d["organization_id"] in {o.id for o in loaded.orgs}]
    assert len(ranked) == 3  # the demo departments (the government itself is not ranked)
    scores = [d["score"] for d in ranked]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True) and ranked[0]["rank"] == 1
    chart = gateway.get("/api/v1/catalog/assessment/chart.svg", params={"period": str(year)})
    assert chart.status_code == 200 and "<svg" in chart.text
    for d in ranked:  # each ranked department is on the chart (by its name, maybe without the city's)
        assert escape(d["name"].removeprefix(demo.CITY)) in chart.text, d["name"]
