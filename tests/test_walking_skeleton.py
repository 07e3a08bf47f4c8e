"""The walking skeleton, end to end through the gateway, real processes and real NATS:
a policy published in the catalog makes an "interpretation due" task appear in the interpretation
service, due N working days later by the shared calendar (三同步, domain.md §4 — default 3).

The processes are started by the same supervisor as ``./gongkai up``; a worker killed with
SIGKILL mid-flow is restarted and nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from gongkai_dev.supervisor import Supervisor, migrate_all
from gongkai_shared.calendar import WorkingDayCalendar
from gongkai_shared.timeutil import china_today
from gongkai_shared.validators import org_code_check_char, uscc_check_char

ADMIN = ("skeleton-admin", "correct horse battery staple")
REVIEWER_PASSWORD = "reviewer horse battery staple"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    env = dict(os.environ)
    env["GK_ADMIN_USERNAME"], env["GK_ADMIN_PASSWORD"] = ADMIN
    env["GK_LOG_LEVEL"] = "INFO"
    migrate_all(env)
    sup = Supervisor(
        env=env,
        log_dir=tmp_path_factory.mktemp("logs"),
        ports={s: _free_port() for s in ("gateway", "catalog", "requests", "interpretation", "sentiment")},
    )
    sup.plan()
    sup.start()
    try:
        sup.wait_ready(timeout=90)
        yield sup
    finally:
        sup.stop()


@pytest.fixture(scope="module")
def gateway(system: Supervisor) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{system.ports['gateway']}", timeout=20) as client:
        yield client


def _sign_in(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    resp = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _agency_code() -> str:
    """A valid 统一社会信用代码 of a government body (GB 32100), unique per call: the 索引号 needs one."""
    body = f"{secrets.randbelow(10**8):08d}"
    first17 = "11440300" + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def _publish_policy(client: httpx.Client, auth: dict[str, str], title: str) -> tuple[dict, dict]:
    """Draft a policy, take it through review (条例 art. 17: 保密审查 and 初审/复审/终审, by a reviewer who is
    not the drafter) and publish it."""
    org = client.post(
        "/api/v1/catalog/organizations", json={"name": f"{title}所属局", "code": _agency_code()}, headers=auth
    )
    assert org.status_code == 201, org.text
    reviewer_name = f"reviewer-{secrets.token_hex(4)}"
    user = client.post(
        "/api/v1/users",
        json={
            "username": reviewer_name,
            "password": REVIEWER_PASSWORD,
            "roles": ["reviewer"],
            "department_id": org.json()["id"],
        },
        headers=auth,
    )
    assert user.status_code == 201, user.text
    reviewer = _sign_in(client, reviewer_name, REVIEWER_PASSWORD)
    item = client.post(
        "/api/v1/catalog/items",
        json={
            "organization_id": org.json()["id"],
            "title": title,
            "kind": "normative_document",
            "document_number": "示范政发〔2026〕1号",
            "body": "第一条 为了规范政府信息公开工作，根据《中华人民共和国政府信息公开条例》，制定本办法。",
        },
        headers=auth,
    )
    assert item.status_code == 201, item.text
    item_id = item.json()["id"]
    submitted = client.post(f"/api/v1/catalog/items/{item_id}/submit", headers=auth)
    assert submitted.status_code == 200, submitted.text
    for _ in range(4):  # 保密审查, 初审, 复审, 终审
        approved = client.post(f"/api/v1/catalog/items/{item_id}/approve", json={"opinion": "同意"}, headers=reviewer)
        assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    published = client.post(f"/api/v1/catalog/items/{item_id}/publish", headers=auth)
    assert published.status_code == 200, published.text
    return org.json(), published.json()


def _wait_for_task(client: httpx.Client, auth: dict[str, str], item_id: str, system: Supervisor) -> dict:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        system.watch_once()  # restart what died, as `gongkai up` does
        resp = client.get("/api/v1/interpretation/tasks", params={"policy_item_id": item_id}, headers=auth)
        if resp.status_code == 200 and resp.json()["items"]:
            return resp.json()["items"][0]
        time.sleep(0.2)
    raise AssertionError(f"no interpretation task for {item_id} within 45 s")


def test_published_policy_makes_an_interpretation_task_due_in_three_working_days(
    gateway: httpx.Client, system: Supervisor
) -> None:
    auth = _sign_in(gateway, *ADMIN)
    org, item = _publish_policy(gateway, auth, "示范市政府信息公开办法")
    assert item["status"] == "published"
    task = _wait_for_task(gateway, auth, item["id"], system)
    assert task["organization_id"] == org["id"]  # 谁起草、谁解读
    assert task["policy_title"] == "示范市政府信息公开办法"
    published_on = dt.date.fromisoformat(item["published_on"])
    assert published_on == china_today()
    # domain.md §4: at the latest 3 working days after publication; §6: the day itself not counted.
    expected = WorkingDayCalendar.default().add_working_days(published_on, 3, provisional=True)
    assert task["due_on"] == expected.end.isoformat()
    assert task["due_provisional"] == expected.provisional
    assert task["due_working_days"] == 3


def test_publishing_twice_is_refused_and_makes_no_second_task(gateway: httpx.Client, system: Supervisor) -> None:
    auth = _sign_in(gateway, *ADMIN)
    _, item = _publish_policy(gateway, auth, "示范市重复发布测试办法")
    again = gateway.post(f"/api/v1/catalog/items/{item['id']}/publish", headers=auth)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "already_published"
    _wait_for_task(gateway, auth, item["id"], system)
    tasks = gateway.get("/api/v1/interpretation/tasks", params={"policy_item_id": item["id"]}, headers=auth).json()
    assert len(tasks["items"]) == 1


def test_a_killed_worker_loses_no_event(gateway: httpx.Client, system: Supervisor) -> None:
    """Kill the interpretation worker with SIGKILL, publish while it is dead: the task still appears."""
    auth = _sign_in(gateway, *ADMIN)
    worker = next(p for p in system.processes if p.name == "interpretation-worker")
    assert worker.popen is not None
    os.killpg(worker.popen.pid, signal.SIGKILL)
    worker.popen.wait(timeout=10)
    _, item = _publish_policy(gateway, auth, "示范市进程崩溃测试办法")
    task = _wait_for_task(gateway, auth, item["id"], system)
    assert worker.restarts >= 1
    assert task["policy_item_id"] == item["id"]


def test_anonymous_callers_cannot_publish_and_get_problem_json(gateway: httpx.Client) -> None:
    resp = gateway.post("/api/v1/catalog/organizations", json={"name": "无权机关"})
    assert resp.status_code == 401
    body = resp.json()
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "unauthorized" and body["title"]
    assert resp.headers.get("x-request-id")


def test_bad_input_names_the_field_and_changes_nothing(gateway: httpx.Client) -> None:
    auth = _sign_in(gateway, *ADMIN)
    before = gateway.get("/api/v1/catalog/organizations", params={"limit": 200}).json()["items"]
    resp = gateway.post("/api/v1/catalog/organizations", json={"name": ""}, headers=auth)
    assert resp.status_code == 422
    errors = resp.json()["errors"]
    assert [e["field"] for e in errors] == ["body.name"]
    resp = gateway.post(
        "/api/v1/catalog/items",
        json={"organization_id": "not-a-uuid", "title": "x", "kind": "no-such-kind", "body": "x"},
        headers=auth,
    )
    assert resp.status_code == 422
    assert {e["field"] for e in resp.json()["errors"]} == {"body.organization_id", "body.kind"}
    after = gateway.get("/api/v1/catalog/organizations", params={"limit": 200}).json()["items"]
    assert len(after) == len(before)
