"""Bad input on items (issue 3, "Bad input"): each gets problem+json naming the field or the rule, and
nothing changes. Also attachments: the bytes must be what the declared type says."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile

import httpx
from openpyxl import Workbook
from test_catalog_support import assert_problem, client, draft, fields, org_with_actors, settings

__all__ = ["client", "settings"]  # fixtures


async def _count(client: httpx.AsyncClient, org: dict, who: dict) -> int:
    page = await client.get("/items", params={"organization_id": org["id"], "limit": 200}, headers=who)
    return len(page.json()["items"])


async def test_document_number_in_the_wrong_form_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    body = {"organization_id": org["id"], "title": "通知", "kind": "other_document", "body": "正文"}
    for bad in ("2026年第3号", "示范政发2026年1号", "示范政发〔20x6〕1号", "示范政发〔2026〕号"):
        problem = assert_problem(
            await client.post("/items", json={**body, "document_number": bad}, headers=actors.drafter), 422
        )
        assert fields(problem) == {"body.document_number"}
        assert "文号" in problem["errors"][0]["message"]
    assert await _count(client, org, actors.drafter) == 0
    # The accepted variants are stored in the standard form with 〔〕.
    for variant in ("示范政发[2026]12号", "示范政发(2026)12号", "示范政发（2026）12号", "示范政发〔2026〕012号"):
        item = await draft(client, org, actors.drafter, document_number=variant)
        assert item["document_number"] == "示范政发〔2026〕12号"
    ordered = await draft(client, org, actors.drafter, kind="regulation", document_number="示范市人民政府令第5号")
    assert ordered["document_number"] == "示范市人民政府令第5号"
    item = await draft(client, org, actors.drafter)
    patched = await client.patch(f"/items/{item['id']}", json={"document_number": "乱写"}, headers=actors.drafter)
    assert fields(assert_problem(patched, 422)) == {"body.document_number"}
    assert (await client.get(f"/items/{item['id']}", headers=actors.drafter)).json()["document_number"] is None


async def test_abolish_date_before_effective_date_is_refused(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    body = {
        "organization_id": org["id"],
        "title": "暂行办法",
        "kind": "normative_document",
        "body": "正文",
        "effective_on": "2026-03-01",
        "abolish_on": "2026-02-28",
    }
    problem = assert_problem(await client.post("/items", json=body, headers=actors.drafter), 422)
    assert fields(problem) == {"body.abolish_on"} and "实施日期" in problem["errors"][0]["message"]
    assert await _count(client, org, actors.drafter) == 0

    item = await draft(client, org, actors.drafter, effective_on="2026-03-01", abolish_on="2028-02-29")
    patched = await client.patch(f"/items/{item['id']}", json={"effective_on": "2028-03-01"}, headers=actors.drafter)
    assert fields(assert_problem(patched, 422)) == {"body.abolish_on"}
    current = (await client.get(f"/items/{item['id']}", headers=actors.drafter)).json()
    assert current["effective_on"] == "2026-03-01" and current["abolish_on"] == "2028-02-29"


async def test_unknown_organization_category_or_predecessor(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    base = {"organization_id": org["id"], "title": "通知", "kind": "other", "body": "正文"}
    missing = str(uuid.uuid4())
    assert fields(
        assert_problem(await client.post("/items", json={**base, "category_id": missing}, headers=actors.drafter), 422)
    ) == {"body.category_id"}
    assert fields(
        assert_problem(await client.post("/items", json={**base, "supersedes_id": missing}, headers=actors.office), 422)
    ) == {"body.supersedes_id"}
    unknown = assert_problem(
        await client.post("/items", json={**base, "organization_id": missing}, headers=actors.office), 422
    )
    assert fields(unknown) == {"body.organization_id"}
    # Staff draft only for their own department.
    assert_problem(await client.post("/items", json={**base, "organization_id": missing}, headers=actors.drafter), 403)
    assert await _count(client, org, actors.office) == 0


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _xlsx() -> bytes:
    book = Workbook()
    book.active.append(["公开事项"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
OLE = bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 64


async def test_attachments_must_be_what_their_type_says(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter)

    async def upload(filename: str, content_type: str, data: bytes) -> httpx.Response:
        return await client.post(
            f"/items/{item['id']}/attachments",
            params={"filename": filename},
            content=data,
            headers={**actors.drafter, "Content-Type": content_type},
        )

    good = [
        ("办法.pdf", "application/pdf", PDF),
        ("附表.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", _docx()),
        ("附表.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _xlsx()),
        ("旧表.xls", "application/vnd.ms-excel", OLE),
        ("旧文.doc", "application/msword", OLE),
        ("图解.png", "image/png", PNG),
        ("照片.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 16),
        ("说明.txt", "text/plain; charset=utf-8", "政务公开说明".encode()),
    ]
    for filename, content_type, data in good:
        resp = await upload(filename, content_type, data)
        assert resp.status_code == 201, (filename, resp.text)
        assert resp.json()["sha256"] == hashlib.sha256(data).hexdigest() and resp.json()["size"] == len(data)

    bad = [
        ("伪装.pdf", "application/pdf", PNG, "body"),  # a PNG declared as PDF
        ("伪装.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", _xlsx(), "body"),
        ("伪装.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _docx(), "body"),
        ("伪装.doc", "application/msword", PDF, "body"),
        ("伪装.png", "image/png", PDF, "body"),
        ("伪装.jpg", "image/jpeg", PNG, "body"),
        ("乱码.txt", "text/plain", "政务公开".encode("gbk"), "body"),  # not UTF-8
        ("办法.exe", "application/x-msdownload", b"MZ\x90\x00", "header.content-type"),
        ("办法.png", "application/pdf", PDF, "query.filename"),  # the name says another type
        ("空.pdf", "application/pdf", b"", "body"),
    ]
    for filename, content_type, data, field in bad:
        problem = assert_problem(await upload(filename, content_type, data), 422)
        assert fields(problem) == {field}, (filename, problem)

    shown = (await client.get(f"/items/{item['id']}", headers=actors.drafter)).json()
    assert sorted(a["filename"] for a in shown["attachments"]) == sorted(g[0] for g in good)
    pdf = next(a for a in shown["attachments"] if a["filename"] == "办法.pdf")
    download = await client.get(f"/items/{item['id']}/attachments/{pdf['id']}", headers=actors.drafter)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    # Drafts' attachments are not public.
    assert_problem(await client.get(f"/items/{item['id']}/attachments/{pdf['id']}"), 404)
