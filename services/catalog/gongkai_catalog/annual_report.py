"""The annual report (政府信息公开工作年度报告; 条例 art. 49-50; domain.md §3; issue 8 point 1).

One report per organization and year, in the national format of 国办公开办函〔2021〕30号:

- 一、总体情况, 五、存在的主要问题及改进情况, 六、其他需要报告的事项: prefilled with sentences built from the
  figures (counts, changes from last year, fees collected); staff edit them (an edited section is never
  overwritten; clearing it brings the generated text back);
- 二、主动公开政府信息情况 (table 二): the catalog's own figures (:func:`gongkai_catalog.service.table2`);
- 三、收到和处理政府信息公开申请情况 and 四、政府信息公开行政复议、行政诉讼情况 (tables 三 and 四): asked of the
  requests service over HTTP (architecture.md: a service never reads another's tables); the last fetched
  figures stay on the draft with the time they were fetched, so an unreachable requests service (503) or a
  bad answer (502) changes nothing.

Every consistency check of the format is run before the report can be submitted (:func:`report_checks`):
errors block, warnings are shown. Submitting creates (or updates) a catalog item of kind 年度报告 in the
政府信息公开年报 column, with the rendered HTML as body and the Word document as attachment, and sends it
into the catalog's normal review (条例 art. 17 先审查后公开); it is published like any item.

Due dates (条例 art. 49): 县级以上人民政府部门 by 31 January, 县级以上地方人民政府 by 31 March, for the
previous year; a sweep emits due-soon and overdue once each per organization and year.

Never commits: the request or the sweep owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import structlog
from gongkai_shared.auth import Principal, TokenSigner, organization_scope, service_scope
from gongkai_shared.db import IdMixin, TimestampMixin, utcnow
from gongkai_shared.errors import (
    Conflict,
    FieldError,
    NotFound,
    ServiceUnavailable,
    UpstreamUnavailable,
    ValidationFailed,
)
from gongkai_shared.events import emit
from gongkai_shared.http import service_client
from gongkai_shared.service import Sweep
from gongkai_shared.timeutil import china_today
from pydantic import BaseModel, Field
from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gongkai_catalog import service
from gongkai_catalog.models import (
    ITEM_STATUS_LABELS,
    Base,
    Category,
    Item,
    ItemKind,
    ItemStatus,
    Organization,
    OrganizationType,
    event_tables,
)
from gongkai_catalog.schemas import ItemCreate, ItemUpdate
from gongkai_catalog.settings import CatalogSettings

log = structlog.get_logger("gongkai.catalog.annual_report")

FORMAT = "国办公开办函〔2021〕30号"
FORMAT_TITLE = "《中华人民共和国政府信息公开工作年度报告格式》"
ANNUAL_REPORT_CATEGORY_KEY = "column.annual_report"  # 政府信息公开年报 (国办公开办函〔2019〕61号)
SECTION_KEYS = ("overview", "problems", "other")
SECTION_TITLES = {
    "overview": "一、总体情况",
    "table2": "二、主动公开政府信息情况",
    "table3": "三、收到和处理政府信息公开申请情况",
    "table4": "四、政府信息公开行政复议、行政诉讼情况",
    "problems": "五、存在的主要问题及改进情况",
    "other": "六、其他需要报告的事项",
}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


class AnnualReport(IdMixin, TimestampMixin, Base):
    """One organization's report for one year: the figures as last fetched, the sections, the catalog item."""

    __tablename__ = "annual_reports"
    __table_args__ = (UniqueConstraint("organization_id", "year"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    year: Mapped[int] = mapped_column(Integer)
    #: draft until first submitted; afterwards the catalog item's status tells where it is.
    status: Mapped[str] = mapped_column(String(20), default="draft")
    #: Table 二 as the catalog computed it (plus corrections): see :func:`table2_figures`.
    table2: Mapped[dict | None] = mapped_column(JSONB)
    #: Table 三 as the requests service answered: ``{"columns": [7 labels], "rows": [{key, label, level, values}]}``.
    table3: Mapped[dict | None] = mapped_column(JSONB)
    #: Table 四: ``{"cells": [{block, column, value}]}`` (15 cells).
    table4: Mapped[dict | None] = mapped_column(JSONB)
    statistics_fetched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: Last year's figures the sentences compare with: ``{"source", "table2", "table3_totals"}``.
    previous_figures: Mapped[dict | None] = mapped_column(JSONB)
    #: 信息处理费 actually collected (元; 国办函〔2020〕109号), from requests when it reports it, else staff.
    fees_collected: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    fees_source: Mapped[str | None] = mapped_column(String(20))
    sections: Mapped[dict] = mapped_column(JSONB, default=dict)
    edited_sections: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list)
    #: Figures corrected by hand: ``[{at, by, table, cell, old, new}]`` (kept until the next refresh).
    corrections: Mapped[list] = mapped_column(JSONB, default=list)
    item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(200))
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AnnualReportDeadline(IdMixin, TimestampMixin, Base):
    """条例 art. 49: when one organization's report for one year is due, and which reminders went out."""

    __tablename__ = "annual_report_deadlines"
    __table_args__ = (UniqueConstraint("organization_id", "year"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    year: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    due_soon_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# --------------------------------------------------------------------------------------------
# Events (the contract; to move to gongkai_shared.contracts.catalog with the other catalog events)
# --------------------------------------------------------------------------------------------

ANNUAL_REPORT_DUE_SOON_V1 = "catalog.annual_report.due_soon.v1"
ANNUAL_REPORT_OVERDUE_V1 = "catalog.annual_report.overdue.v1"


class AnnualReportDeadlineV1(BaseModel):
    """Payload of ``catalog.annual_report.due_soon`` / ``.overdue`` (条例 art. 49)."""

    organization_id: uuid.UUID
    organization_name: str = Field(description="机关名称")
    organization_type: str = Field(description="机关类型")
    year: int = Field(description="报告年度")
    due_on: dt.date = Field(description="公布期限")
    basis: str = Field(description="依据")
    report_id: uuid.UUID | None = Field(default=None, description="年度报告（已起草时）")
    report_status: str = Field(description="报告状态：not_started/draft/in_review/approved")


# --------------------------------------------------------------------------------------------
# Due dates (条例 art. 49)
# --------------------------------------------------------------------------------------------

#: 条例 art. 49: 县级以上地方人民政府 publish their report by 31 March; their departments by 31 January.
GOVERNMENT_TYPES = frozenset({OrganizationType.government, OrganizationType.district})
BASIS_DEPARTMENT = (
    "《中华人民共和国政府信息公开条例》第四十九条：县级以上人民政府部门应当在每年1月31日前"
    "向本级政府信息公开工作主管部门提交本行政机关上一年度政府信息公开工作年度报告并向社会公布"
)
BASIS_GOVERNMENT = (
    "《中华人民共和国政府信息公开条例》第四十九条：县级以上地方人民政府的政府信息公开工作主管部门应当在每年"
    "3月31日前向社会公布本级政府上一年度政府信息公开工作年度报告"
)


def due_date(org_type: OrganizationType, year: int) -> dt.date:
    """The day the report for ``year`` is due (条例 art. 49).

    Governments (政府, 县区) by 31 March of the next year; everyone else by 31 January: departments by the
    article's words, townships and other bodies because they report to the county government, which needs
    their reports for its own (local practice; see docs/decisions.md).
    """
    return dt.date(year + 1, 3, 31) if org_type in GOVERNMENT_TYPES else dt.date(year + 1, 1, 31)


def due_basis(org_type: OrganizationType) -> str:
    return BASIS_GOVERNMENT if org_type in GOVERNMENT_TYPES else BASIS_DEPARTMENT


def default_year(today: dt.date | None = None) -> int:
    """The report covers the previous calendar year (条例 art. 49)."""
    return (today or china_today()).year - 1


# --------------------------------------------------------------------------------------------
# Tables 三 and 四 from the requests service
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statistics:
    table3: dict[str, Any]
    table4: dict[str, Any]
    #: 信息处理费 collected in the year (元), when the requests service reports it.
    fees_collected: Decimal | None


def _requests_token(signer: TokenSigner, organization_id: uuid.UUID) -> str:
    """A one-minute system token to read one organization's statistics from requests."""
    return signer.issue_system(
        subject="system:catalog-annual-report",
        name="目录服务（年度报告）",
        scopes={service_scope("requests", "read"), organization_scope(organization_id)},
    )


def _bad_answer(detail: str) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        f"依申请公开服务返回的统计数据不可用：{detail}",
        code="requests_bad_answer",
        title="依申请公开服务返回的统计数据不可用",
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_statistics(payload: object) -> Statistics:
    """Tables 三 and 四 from the statistics payload; a payload of another shape is a bad answer (502)."""
    if not isinstance(payload, dict):
        raise _bad_answer("不是 JSON 对象")
    columns, rows, cells = payload.get("table3_columns"), payload.get("table3"), payload.get("table4")
    if not isinstance(columns, list) or len(columns) != 7 or not all(isinstance(c, str) for c in columns):
        raise _bad_answer("表三应有 7 列")
    if not isinstance(rows, list) or not isinstance(cells, list):
        raise _bad_answer("缺少表三或表四")
    table3_rows = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("key"), str) or not isinstance(row.get("label"), str):
            raise _bad_answer("表三的行无法识别")
        values = row.get("values")
        if values is not None and (not isinstance(values, list) or len(values) != 7):
            raise _bad_answer(f"表三“{row['label']}”应有 7 个数")
        table3_rows.append(
            {"key": row["key"], "label": row["label"], "level": int(row.get("level", 0)), "values": values}
        )
    keys = {r["key"] for r in table3_rows}
    missing = {"new", "carried_over", "results", "results_total", "carried_forward"} - keys
    if missing:
        raise _bad_answer(f"表三缺少行 {sorted(missing)}")
    table4_cells = []
    for cell in cells:
        if (
            not isinstance(cell, dict)
            or not isinstance(cell.get("block"), str)
            or not isinstance(cell.get("column"), str)
        ):
            raise _bad_answer("表四的格无法识别")
        table4_cells.append({"block": cell["block"], "column": cell["column"], "value": cell.get("value")})
    if len(table4_cells) != 15:
        raise _bad_answer("表四应有 15 格")
    fees: Decimal | None = None
    raw_fees = payload.get("fees_collected")
    if raw_fees is not None:
        try:
            fees = Decimal(str(raw_fees))
        except InvalidOperation as exc:
            raise _bad_answer("信息处理费金额无法识别") from exc
    return Statistics(
        table3={"columns": columns, "rows": table3_rows}, table4={"cells": table4_cells}, fees_collected=fees
    )


async def fetch_statistics(
    *, settings: CatalogSettings, signer: TokenSigner, organization_id: uuid.UUID, year: int
) -> Statistics:
    """Ask the requests service for one organization's tables 三 and 四 (``GET /statistics/{id}/{year}``).

    Unreachable or too slow → 503 ``requests_unavailable``; an error or an answer of another shape → 502.
    """
    headers = {"Authorization": f"Bearer {_requests_token(signer, organization_id)}"}
    timeout = httpx.Timeout(settings.requests_timeout_seconds, connect=min(3.0, settings.requests_timeout_seconds))
    try:
        async with service_client(settings.requests_url, timeout=timeout) as client:
            resp = await client.get(f"/statistics/{organization_id}/{year}", headers=headers)
    except httpx.InvalidURL as exc:
        raise ServiceUnavailable(
            "依申请公开服务的地址配置有误（GK_CATALOG_REQUESTS_URL），未能取得表三、表四",
            code="requests_unavailable",
            title="依申请公开服务暂不可用",
        ) from exc
    except (httpx.TransportError, httpx.TimeoutException) as exc:
        log.warning("requests_unreachable", url=settings.requests_url, error=type(exc).__name__)
        raise ServiceUnavailable(
            "依申请公开服务暂时无法连接，未能取得表三、表四；报告草稿保留上次取得的数据，请稍后重试",
            code="requests_unavailable",
            title="依申请公开服务暂不可用",
            headers={"Retry-After": "30"},
        ) from exc
    if resp.status_code != 200:
        log.warning("requests_statistics_refused", status=resp.status_code)
        raise _bad_answer(f"HTTP {resp.status_code}")
    try:
        payload = resp.json()
    except ValueError as exc:
        raise _bad_answer("不是 JSON") from exc
    return parse_statistics(payload)


# --------------------------------------------------------------------------------------------
# Table 二 from the catalog
# --------------------------------------------------------------------------------------------

TABLE2_DOCUMENT_FIELDS = ("regulations", "normative_documents")
TABLE2_DECISION_FIELDS = ("licensing_decisions", "penalty_decisions", "enforcement_decisions")
#: The format's wording for each cell of table 二.
TABLE2_LABELS = {
    "regulations": "规章",
    "normative_documents": "行政规范性文件",
    "issued": "本年制发件数",
    "repealed": "本年废止件数",
    "in_force": "现行有效件数",
    "licensing_decisions": "行政许可",
    "penalty_decisions": "行政处罚",
    "enforcement_decisions": "行政强制",
    "fee_amount": "行政事业性收费",
}


async def table2_figures(session: AsyncSession, *, org_id: uuid.UUID, year: int) -> dict[str, Any]:
    t = await service.table2(session, org_id=org_id, year=year)
    return {
        "as_of": t.as_of.isoformat(),
        "regulations": t.regulations.model_dump(),
        "normative_documents": t.normative_documents.model_dump(),
        "licensing_decisions": t.licensing_decisions,
        "penalty_decisions": t.penalty_decisions,
        "enforcement_decisions": t.enforcement_decisions,
        "fee_amount": str(t.fee_amount) if t.fee_amount is not None else None,
    }


# --------------------------------------------------------------------------------------------
# Consistency checks (国办公开办函〔2021〕30号)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One failed rule: ``error`` blocks submission, ``warning`` is shown."""

    code: str
    severity: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "field": self.field, "message": self.message}


def _total(values: list[int] | None) -> int:
    return values[-1] if values else 0


def _rows(table3: dict[str, Any]) -> list[dict[str, Any]]:
    return list(table3.get("rows") or [])


def _row(table3: dict[str, Any], key: str) -> dict[str, Any]:
    """The row with figures of that key (the 其他处理 heading and its leaf 3.其他 share the key ``other``)."""
    rows = [r for r in _rows(table3) if r["key"] == key]
    with_values = [r for r in rows if r["values"] is not None]
    return (with_values or rows)[0]


def _leaf_rows(table3: dict[str, Any]) -> list[dict[str, Any]]:
    """The outcome rows with figures: between 三、本年度办理结果 and （七）总计 (21 in the 2021 format)."""
    rows = _rows(table3)
    keys = [r["key"] for r in rows]
    start, end = keys.index("results"), keys.index("results_total")
    return [r for r in rows[start + 1 : end] if r["values"] is not None]


def table3_checks(table3: dict[str, Any] | None) -> list[Check]:
    """一 + 二 = （七）总计 + 四 in every column; （七） = the sum of the leaf rows; 总计 column = the six."""
    if table3 is None:
        return [Check("table3_missing", "error", "table3", "尚未取得表三（收到和处理政府信息公开申请情况）")]
    columns: list[str] = table3["columns"]
    problems: list[Check] = []
    for row in _rows(table3):
        values = row["values"]
        if values is None:
            continue
        for column, value in zip(columns, values, strict=True):
            if not _is_count(value) or value < 0:
                problems.append(
                    Check(
                        "table3_not_a_count",
                        "error",
                        f"table3.{row['key']}",
                        f"{row['label']}·{column}：{value!r} 不是非负整数",
                    )
                )
    if problems:
        return problems
    for row in _rows(table3):
        values = row["values"]
        if values is not None and sum(values[:-1]) != values[-1]:
            problems.append(
                Check(
                    "table3_total_column",
                    "error",
                    f"table3.{row['key']}",
                    f"{row['label']}：总计列 {values[-1]} ≠ 自然人与法人或其他组织六列之和 {sum(values[:-1])}",
                )
            )
    leaves = _leaf_rows(table3)
    total, new, over, forward = (_row(table3, k) for k in ("results_total", "new", "carried_over", "carried_forward"))
    for i, column in enumerate(columns):
        leaf_sum = sum(r["values"][i] for r in leaves)
        if leaf_sum != total["values"][i]:
            problems.append(
                Check(
                    "table3_results_total",
                    "error",
                    f"table3.results_total.{column}",
                    f"{column}：（七）总计 {total['values'][i]} ≠ 各项办理结果（{len(leaves)}项）之和 {leaf_sum}",
                )
            )
        left = new["values"][i] + over["values"][i]
        right = total["values"][i] + forward["values"][i]
        if left != right:
            problems.append(
                Check(
                    "table3_balance",
                    "error",
                    f"table3.{column}",
                    f"{column}：一、本年新收 {new['values'][i]} + 二、上年结转 {over['values'][i]} = {left}，"
                    f"≠ （七）总计 {total['values'][i]} + 四、结转下年度继续办理 {forward['values'][i]} = {right}",
                )
            )
    return problems


def table4_blocks(table4: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The cells grouped by block, in the payload's order (行政复议, 直接起诉, 复议后起诉)."""
    blocks: dict[str, list[dict[str, Any]]] = {}
    for cell in table4.get("cells") or []:
        blocks.setdefault(cell["block"], []).append(cell)
    return list(blocks.items())


def table4_checks(table4: dict[str, Any] | None) -> list[Check]:
    """Each 总计 of table 四 = 结果维持 + 结果纠正 + 其他结果 + 尚未审结."""
    if table4 is None:
        return [Check("table4_missing", "error", "table4", "尚未取得表四（政府信息公开行政复议、行政诉讼情况）")]
    problems: list[Check] = []
    for block, cells in table4_blocks(table4):
        bad = [c for c in cells if not _is_count(c["value"]) or c["value"] < 0]
        if bad:
            problems.extend(
                Check(
                    "table4_not_a_count",
                    "error",
                    f"table4.{block}",
                    f"{block}·{c['column']}：{c['value']!r} 不是非负整数",
                )
                for c in bad
            )
            continue
        parts = [c["value"] for c in cells if c["column"] != "总计"]
        totals = [c["value"] for c in cells if c["column"] == "总计"]
        if len(totals) != 1 or sum(parts) != totals[0]:
            problems.append(
                Check(
                    "table4_total",
                    "error",
                    f"table4.{block}",
                    f"{block}：总计 {totals[0] if totals else '缺失'} ≠ "
                    f"结果维持、结果纠正、其他结果、尚未审结之和 {sum(parts)}",
                )
            )
    return problems


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def table2_checks(table2: dict[str, Any] | None, previous: dict[str, Any] | None) -> list[Check]:
    """Every figure present and non-negative; 现行有效 continuing last year's report (a warning, see below)."""
    if table2 is None:
        return [Check("table2_missing", "error", "table2", "尚未生成表二（主动公开政府信息情况）")]
    problems: list[Check] = []
    for kind in TABLE2_DOCUMENT_FIELDS:
        for measure in ("issued", "repealed", "in_force"):
            value = table2[kind][measure]
            if not _is_count(value) or value < 0:
                problems.append(
                    Check(
                        "table2_negative",
                        "error",
                        f"table2.{kind}.{measure}",
                        f"表二 {TABLE2_LABELS[kind]}·{TABLE2_LABELS[measure]}：{value!r} 不是非负整数",
                    )
                )
    for key in (*TABLE2_DECISION_FIELDS, "fee_amount"):
        value = table2.get(key)
        what = (
            f"表二 {TABLE2_LABELS[key]}·{'本年收费金额（单位：万元）' if key == 'fee_amount' else '本年处理决定数量'}"
        )
        if value is None:
            problems.append(Check("table2_missing", "error", f"table2.{key}", f"{what}：尚未填报（没有的请填 0）"))
        elif (key == "fee_amount" and _decimal(value) < 0) or (
            key != "fee_amount" and (not _is_count(value) or value < 0)
        ):  # type: ignore[operator]
            problems.append(Check("table2_negative", "error", f"table2.{key}", f"{what}：{value} 不能为负数"))
    # 现行有效 = last year's 现行有效 + 本年制发 − 本年废止, when last year's report exists. A warning, not an
    # error: 现行有效 also falls when a document 失效 (superseded, or its end date passed), which table 二 has no
    # column for, so an honest report can differ; the office sees the difference and explains it in 五 or 六.
    if previous is not None and previous.get("source") == "report" and previous.get("table2"):
        for kind in TABLE2_DOCUMENT_FIELDS:
            before = previous["table2"][kind]["in_force"]
            now = table2[kind]
            expected = before + now["issued"] - now["repealed"]
            if expected != now["in_force"]:
                problems.append(
                    Check(
                        "table2_in_force_continuity",
                        "warning",
                        f"table2.{kind}.in_force",
                        f"表二 {TABLE2_LABELS[kind]}：上年报告现行有效 {before} + 本年制发 {now['issued']} − 本年废止 "
                        f"{now['repealed']} = {expected}，与本年现行有效 {now['in_force']} 不一致"
                        "（文件失效、被替代也会减少现行有效件数，请核实并在报告中说明）",
                    )
                )
    return problems


def continuity_checks(table3: dict[str, Any] | None, previous: dict[str, Any] | None) -> list[Check]:
    """Last year's 四、结转下年度继续办理 should be this year's 二、上年结转 (a warning: last year's report may
    have been corrected by hand)."""
    if table3 is None or previous is None or previous.get("source") != "report" or not previous.get("carried_forward"):
        return []
    over = _row(table3, "carried_over")["values"]
    problems = []
    for column, before, now in zip(table3["columns"], previous["carried_forward"], over, strict=True):
        if before != now:
            problems.append(
                Check(
                    "table3_carry_continuity",
                    "warning",
                    f"table3.carried_over.{column}",
                    f"{column}：上年报告结转下年度 {before} ≠ 本年上年结转 {now}",
                )
            )
    return problems


def report_checks(report: AnnualReport) -> list[Check]:
    """Every check of the format on the stored figures, errors first."""
    checks = [
        *table2_checks(report.table2, report.previous_figures),
        *table3_checks(report.table3),
        *table4_checks(report.table4),
        *continuity_checks(report.table3, report.previous_figures),
    ]
    if report.fees_collected is None:
        checks.append(
            Check(
                "fees_missing",
                "error",
                "fees_collected",
                "本年实际收取的信息处理费尚未填报（依申请公开服务未提供时由工作人员填写，未收取的请填 0）",
            )
        )
    return sorted(checks, key=lambda c: c.severity != "error")


# --------------------------------------------------------------------------------------------
# Sentences built from the figures (sections 一, 五, 六)
# --------------------------------------------------------------------------------------------

_ORDINAL = re.compile(r"^（[一二三四五六七八九十]+）")


def _plain_label(label: str) -> str:
    """（二）部分公开（区分处理的，只计这一情形，不计其他情形） → 部分公开."""
    return _ORDINAL.sub("", label).split("（", 1)[0]


def outcome_groups(table3: dict[str, Any]) -> list[tuple[str, int]]:
    """(group label, total) of （一）-（六）: a row of its own, or the sum of its numbered sub-rows."""
    out: list[tuple[str, int]] = []
    rows = _rows(table3)
    keys = [r["key"] for r in rows]
    start, end = keys.index("results"), keys.index("results_total")
    for row in rows[start + 1 : end]:
        if row["level"] == 1:
            out.append((_plain_label(row["label"]), _total(row["values"])))
        elif out and row["values"] is not None:
            label, total = out[-1]
            out[-1] = (label, total + _total(row["values"]))
    return out


def _change(now: int, before: int | None, unit: str = "件") -> str:
    if before is None:
        return ""
    if now == before:
        return "，与上年持平"
    if before == 0:
        return f"，比上年增加{now}{unit}"
    pct = abs(now - before) * 100 / before
    word = "增加" if now > before else "减少"
    return f"，比上年{word}{abs(now - before)}{unit}（{word}{pct:.1f}%）"


def _yuan(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):,.2f}元".replace(".00元", "元")


def table4_summary(table4: dict[str, Any]) -> dict[str, int]:
    out = {"review": 0, "suit": 0, "corrected": 0, "pending": 0}
    for block, cells in table4_blocks(table4):
        values = {c["column"]: c["value"] for c in cells}
        key = "review" if block == "行政复议" else "suit"
        out[key] += values.get("总计", 0)
        out["corrected"] += values.get("结果纠正", 0)
        out["pending"] += values.get("尚未审结", 0)
    return out


def prefill(report: AnnualReport, org_name: str) -> dict[str, str]:
    """The generated text of sections 一, 五 and 六 from the stored figures (staff edit it afterwards)."""
    year, t2, t3, t4 = report.year, report.table2, report.table3, report.table4
    prev = report.previous_figures or {}
    prev_t2 = prev.get("table2") or None
    overview: list[str] = [
        f"{year}年，{org_name}认真贯彻落实《中华人民共和国政府信息公开条例》，按照{FORMAT}的要求编制本报告。"
        f"本报告所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。"
    ]
    problems: list[str] = []
    if t2 is not None:
        regs, docs = t2["regulations"], t2["normative_documents"]
        before_docs = prev_t2["normative_documents"]["issued"] if prev_t2 else None
        overview.append(
            f"主动公开方面，本年制发规章{regs['issued']}件、行政规范性文件{docs['issued']}件"
            f"{_change(docs['issued'], before_docs)}，"
            f"废止规章{regs['repealed']}件、行政规范性文件{docs['repealed']}件，"
            f"现行有效规章{regs['in_force']}件、行政规范性文件{docs['in_force']}件。"
        )
        decisions = [
            f"{TABLE2_LABELS[k]}决定{t2[k]}件" for k in TABLE2_DECISION_FIELDS if t2.get(k) is not None and t2[k] > 0
        ]
        if decisions:
            overview.append(f"全年公开{'、'.join(decisions)}。")
    if t3 is not None:
        new, over = _total(_row(t3, "new")["values"]), _total(_row(t3, "carried_over")["values"])
        done, forward = _total(_row(t3, "results_total")["values"]), _total(_row(t3, "carried_forward")["values"])
        groups = "、".join(f"{label}{n}件" for label, n in outcome_groups(t3) if n)
        overview.append(
            f"依申请公开方面，全年新收政府信息公开申请{new}件{_change(new, prev.get('new'))}，上年结转{over}件，"
            f"本年度办结{done}件" + (f"（其中{groups}）" if groups else "") + f"，结转下年度继续办理{forward}件。"
        )
        if forward:
            problems.append(
                f"截至{year}年12月31日，尚有{forward}件政府信息公开申请结转下年度继续办理，将按法定期限办结。"
            )
    if t4 is not None:
        s = table4_summary(t4)
        overview.append(
            f"因政府信息公开引发行政复议{s['review']}件、行政诉讼{s['suit']}件"
            + (f"，其中结果被纠正{s['corrected']}件" if s["corrected"] else "，无被纠正案件")
            + (f"，尚未审结{s['pending']}件" if s["pending"] else "")
            + "。"
        )
        if s["corrected"]:
            problems.append(
                f"本年度有{s['corrected']}件政府信息公开行政复议、行政诉讼案件结果被纠正，"
                "反映出依申请公开答复的规范性有待提高，将加强答复文书审核和业务培训。"
            )
    if not problems:
        problems.append("本年度政府信息公开工作总体平稳，未发现被纠正的答复，将继续提升主动公开的及时性和规范性。")
    other: list[str] = []
    if report.fees_collected is not None:
        if report.fees_collected > 0:
            other.append(
                f"本年度依据《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）收取信息处理费"
                f"{_yuan(report.fees_collected)}。"
            )
        else:
            other.append("本年度未收取信息处理费。")
    other.append("无其他需要报告的事项。")
    return {"overview": "".join(overview), "problems": "".join(problems), "other": "".join(other)}


def _regenerate(report: AnnualReport, org_name: str) -> None:
    generated = prefill(report, org_name)
    sections = dict(report.sections or {})
    for key in SECTION_KEYS:
        if key not in (report.edited_sections or []):
            sections[key] = generated[key]
    report.sections = sections


# --------------------------------------------------------------------------------------------
# Composing, refreshing, editing
# --------------------------------------------------------------------------------------------


def _summary(report: AnnualReport) -> dict[str, Any]:
    """What next year's report compares with and checks against."""
    out: dict[str, Any] = {"source": "report", "table2": report.table2}
    if report.table3 is not None:
        out["new"] = _total(_row(report.table3, "new")["values"])
        out["carried_forward"] = _row(report.table3, "carried_forward")["values"]
    return out


async def _previous_figures(
    session: AsyncSession, *, org_id: uuid.UUID, year: int, statistics: Statistics | None
) -> dict[str, Any]:
    """Last year's report when there is one; otherwise last year's figures from the sources."""
    previous = await session.scalar(
        select(AnnualReport).where(AnnualReport.organization_id == org_id, AnnualReport.year == year - 1)
    )
    if previous is not None:
        return _summary(previous)
    out: dict[str, Any] = {"source": "figures", "table2": await table2_figures(session, org_id=org_id, year=year - 1)}
    if statistics is not None:
        out["new"] = _total(_row(statistics.table3, "new")["values"])
    return out


async def _organization(session: AsyncSession, org_id: uuid.UUID) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound("机关不存在")
    return org


async def ensure_deadline(session: AsyncSession, org: Organization, year: int) -> dt.date:
    due = due_date(org.type, year)
    await session.execute(
        insert(AnnualReportDeadline)
        .values(id=uuid.uuid4(), organization_id=org.id, year=year, due_on=due)
        .on_conflict_do_nothing(index_elements=["organization_id", "year"])
    )
    return due


async def _fetch_all(
    session: AsyncSession,
    report: AnnualReport,
    org: Organization,
    *,
    settings: CatalogSettings,
    signer: TokenSigner,
) -> None:
    """Fetch tables 三/四 first (the only step that can fail on the network), then table 二 and last year."""
    stats = await fetch_statistics(settings=settings, signer=signer, organization_id=org.id, year=report.year)
    previous_stats: Statistics | None = None
    if (
        await session.scalar(
            select(AnnualReport.id).where(AnnualReport.organization_id == org.id, AnnualReport.year == report.year - 1)
        )
        is None
    ):
        previous_stats = await fetch_statistics(
            settings=settings, signer=signer, organization_id=org.id, year=report.year - 1
        )
    report.table2 = await table2_figures(session, org_id=org.id, year=report.year)
    report.table3, report.table4 = stats.table3, stats.table4
    report.statistics_fetched_at = utcnow()
    report.previous_figures = await _previous_figures(
        session, org_id=org.id, year=report.year, statistics=previous_stats
    )
    if stats.fees_collected is not None:
        report.fees_collected, report.fees_source = stats.fees_collected, "requests"
    report.corrections = []
    _regenerate(report, org.name)


async def create_report(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    year: int | None,
    principal: Principal,
    settings: CatalogSettings,
    signer: TokenSigner,
) -> AnnualReport:
    """Compose the draft of ``org_id``'s report for ``year`` (the previous calendar year by default)."""
    principal.require_department(org_id)
    org = await _organization(session, org_id)
    year = year if year is not None else default_year()
    if year > china_today().year - 1:
        raise ValidationFailed.for_field("body.year", "年度报告只能在该年度结束后编制", "year_not_over")
    existing = await session.scalar(
        select(AnnualReport.id).where(AnnualReport.organization_id == org_id, AnnualReport.year == year)
    )
    if existing is not None:
        raise Conflict(f"{org.name}{year}年度报告已存在", code="annual_report_exists")
    report = AnnualReport(
        organization_id=org_id,
        year=year,
        status="draft",
        sections={},
        edited_sections=[],
        corrections=[],
        created_by=principal.subject,
    )
    await _fetch_all(session, report, org, settings=settings, signer=signer)
    session.add(report)
    await ensure_deadline(session, org, year)
    await session.flush()
    return report


async def get_report(session: AsyncSession, *, org_id: uuid.UUID, year: int, principal: Principal) -> AnnualReport:
    """The report, for its organization's staff and the office (the public reads the published item)."""
    if not principal.can_act_for(org_id):
        raise NotFound("年度报告不存在")
    report = await session.scalar(
        select(AnnualReport).where(AnnualReport.organization_id == org_id, AnnualReport.year == year)
    )
    if report is None:
        raise NotFound("年度报告不存在")
    return report


async def report_item(session: AsyncSession, report: AnnualReport) -> Item | None:
    return await session.get(Item, report.item_id) if report.item_id else None


async def _editable(session: AsyncSession, report: AnnualReport, principal: Principal) -> Item | None:
    principal.require_department(report.organization_id)
    item = await report_item(session, report)
    if item is not None and item.status != ItemStatus.draft:
        raise Conflict(
            f"年度报告{ITEM_STATUS_LABELS[item.status]}，不能修改；审查中的报告请由审核人员退回后再改",
            code="annual_report_not_editable",
        )
    return item


async def refresh_report(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    year: int,
    principal: Principal,
    settings: CatalogSettings,
    signer: TokenSigner,
) -> AnnualReport:
    """Fetch the figures again (hand corrections are dropped; edited sections are kept)."""
    report = await get_report(session, org_id=org_id, year=year, principal=principal)
    await _editable(session, report, principal)
    org = await _organization(session, org_id)
    await _fetch_all(session, report, org, settings=settings, signer=signer)
    await session.flush()
    return report


def _correction(report: AnnualReport, principal: Principal, table: str, cell: str, old: Any, new: Any) -> None:
    report.corrections = [
        *(report.corrections or []),
        {"at": utcnow().isoformat(), "by": principal.subject, "table": table, "cell": cell, "old": old, "new": new},
    ]


def _apply_table2(report: AnnualReport, principal: Principal, changes: dict[str, Any]) -> None:
    if report.table2 is None:
        raise Conflict("尚未生成表二", code="table2_missing")
    table2 = {k: (dict(v) if isinstance(v, dict) else v) for k, v in report.table2.items()}
    for key, value in changes.items():
        if key in TABLE2_DOCUMENT_FIELDS:
            for measure, n in (value or {}).items():
                if n is not None and table2[key][measure] != n:
                    _correction(report, principal, "table2", f"{key}.{measure}", table2[key][measure], n)
                    table2[key][measure] = n
        else:
            new = str(value) if isinstance(value, Decimal) else value
            if table2.get(key) != new:
                _correction(report, principal, "table2", key, table2.get(key), new)
                table2[key] = new
    report.table2 = table2


def _apply_table3(report: AnnualReport, principal: Principal, cells: list[dict[str, Any]]) -> None:
    if report.table3 is None:
        raise Conflict("尚未取得表三", code="table3_missing")
    columns: list[str] = report.table3["columns"]
    rows = [dict(r, values=list(r["values"]) if r["values"] is not None else None) for r in _rows(report.table3)]
    for i, cell in enumerate(cells):
        targets = [r for r in rows if r["key"] == cell["row"] and r["values"] is not None]
        if not targets:
            raise ValidationFailed.for_field(
                f"body.table3_cells.{i}.row", f"表三没有可填数的行 {cell['row']!r}", "unknown_row"
            )
        if cell["column"] not in columns:
            raise ValidationFailed.for_field(
                f"body.table3_cells.{i}.column", f"表三的列应为：{'、'.join(columns)}", "unknown_column"
            )
        row, index = targets[0], columns.index(cell["column"])
        if row["values"][index] != cell["value"]:
            _correction(
                report, principal, "table3", f"{row['label']}·{cell['column']}", row["values"][index], cell["value"]
            )
            row["values"][index] = cell["value"]
    report.table3 = {"columns": columns, "rows": rows}


def _apply_table4(report: AnnualReport, principal: Principal, cells: list[dict[str, Any]]) -> None:
    if report.table4 is None:
        raise Conflict("尚未取得表四", code="table4_missing")
    stored = [dict(c) for c in report.table4["cells"]]
    for i, cell in enumerate(cells):
        target = next((c for c in stored if c["block"] == cell["block"] and c["column"] == cell["column"]), None)
        if target is None:
            raise ValidationFailed.for_field(
                f"body.table4_cells.{i}", f"表四没有“{cell['block']}·{cell['column']}”这一格", "unknown_cell"
            )
        if target["value"] != cell["value"]:
            _correction(
                report, principal, "table4", f"{cell['block']}·{cell['column']}", target["value"], cell["value"]
            )
            target["value"] = cell["value"]
    report.table4 = {"cells": stored}


async def update_report(
    session: AsyncSession, *, org_id: uuid.UUID, year: int, principal: Principal, changes: dict[str, Any]
) -> AnnualReport:
    """Staff edit the sections, fill the fees, correct figures (each correction is recorded).

    ``changes`` holds only the fields sent: ``sections`` ({key: text or None — None brings the generated text
    back}), ``fees_collected``, ``table2`` (partial), ``table3_cells`` and ``table4_cells``.
    """
    report = await get_report(session, org_id=org_id, year=year, principal=principal)
    await _editable(session, report, principal)
    org = await _organization(session, org_id)
    if changes.get("table2"):
        _apply_table2(report, principal, changes["table2"])
    if changes.get("table3_cells"):
        _apply_table3(report, principal, changes["table3_cells"])
    if changes.get("table4_cells"):
        _apply_table4(report, principal, changes["table4_cells"])
    if "fees_collected" in changes:
        report.fees_collected = changes["fees_collected"]
        report.fees_source = "staff" if changes["fees_collected"] is not None else None
    edited = list(report.edited_sections or [])
    sections = dict(report.sections or {})
    for key, text in (changes.get("sections") or {}).items():
        if text is None:
            edited = [k for k in edited if k != key]
        else:
            sections[key] = text
            edited = [*[k for k in edited if k != key], key]
    report.sections, report.edited_sections = sections, edited
    _regenerate(report, org.name)
    await session.flush()
    return report


# --------------------------------------------------------------------------------------------
# Submission into the catalog's review, publication
# --------------------------------------------------------------------------------------------


def report_title(org_name: str, year: int) -> str:
    return f"{org_name}{year}年政府信息公开工作年度报告"


class ReportInconsistent(ValidationFailed):
    code = "annual_report_inconsistent"
    title = "年度报告未通过格式校验"


async def submit_report(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    year: int,
    principal: Principal,
    settings: CatalogSettings,
    override_reason: str | None = None,
) -> AnnualReport:
    """Check, render, and send the report into the catalog's review as a 年度报告 item of the 年报 column.

    Refused (422 ``annual_report_inconsistent``, one error per failed check) while any check of the format fails.
    """
    from gongkai_catalog import annual_report_render as render  # the renderer imports this module

    report = await get_report(session, org_id=org_id, year=year, principal=principal)
    item = await _editable(session, report, principal)
    errors = [c for c in report_checks(report) if c.severity == "error"]
    if errors:
        raise ReportInconsistent(
            f"年度报告有 {len(errors)} 项未通过{FORMAT_TITLE}的校验，不能提交审查："
            + "；".join(c.message for c in errors[:3]),
            errors=[FieldError(field=f"report.{c.field}", message=c.message, type=c.code) for c in errors],
            extra={"checks": [c.as_dict() for c in report_checks(report)]},
        )
    org = await _organization(session, org_id)
    category = await session.scalar(select(Category.id).where(Category.key == ANNUAL_REPORT_CATEGORY_KEY))
    body = render.report_html_fragment(report, org.name)
    document = render.report_docx(report, org.name)
    title = report_title(org.name, year)
    summary = f"{org.name}按照{FORMAT}编制的{year}年政府信息公开工作年度报告（条例第四十九条、第五十条）。"
    if item is None:
        item = await service.create_item(
            session,
            principal=principal,
            data=ItemCreate(
                organization_id=org_id,
                category_id=category,
                title=title,
                summary=summary,
                kind=ItemKind.annual_report,
                body=body,
                subject_category="综合政务\\政务公开",
                keywords=["政府信息公开", "年度报告"],
            ),
        )
        report.item_id = item.id
    else:
        item = await service.update_item(
            session,
            item_id=item.id,
            principal=principal,
            data=ItemUpdate(title=title, summary=summary, body=body, category_id=category),
        )
        for old in await service.list_attachments(session, item_id=item.id):
            await service.delete_attachment(session, item_id=item.id, attachment_id=old.id, principal=principal)
    await service.add_attachment(
        session,
        item_id=item.id,
        principal=principal,
        filename=f"{title}.docx",
        content_type=DOCX,
        data=document,
        settings=settings,
    )
    await service.submit_item(
        session, item_id=item.id, principal=principal, override_reason=override_reason, settings=settings
    )
    report.status = "submitted"
    report.submitted_at, report.submitted_by = utcnow(), principal.subject
    await session.flush()
    return report


async def report_status(session: AsyncSession, report: AnnualReport) -> str:
    """draft (not yet submitted, or returned), in_review, approved, published: the item's, once submitted."""
    item = await report_item(session, report)
    return item.status.value if item is not None else "draft"


# --------------------------------------------------------------------------------------------
# Due dates: the sweep (条例 art. 49)
# --------------------------------------------------------------------------------------------


async def deadline_sweep(
    session: AsyncSession, *, settings: CatalogSettings, today: dt.date | None = None
) -> tuple[int, int]:
    """Track each organization's report for the year just ended; emit due-soon and overdue once each.

    A deadline row is made for every organization registered by the due date (an organization registered
    later has its earlier reports outside this system). A published report stops the reminders.
    Returns (due_soon, overdue) sent.
    """
    today = today or china_today()
    year = default_year(today)
    # One statement: every organization's row for the year, registered by its due date, unless already there.
    due = case(
        (Organization.type.in_(GOVERNMENT_TYPES), literal(dt.date(year + 1, 3, 31))),
        else_=literal(dt.date(year + 1, 1, 31)),
    )
    await session.execute(
        insert(AnnualReportDeadline)
        .from_select(
            ["id", "organization_id", "year", "due_on"],
            select(func.gen_random_uuid(), Organization.id, literal(year), due).where(
                cast(Organization.created_at, Date) <= due
            ),
        )
        .on_conflict_do_nothing(index_elements=["organization_id", "year"])
    )
    rows = (
        await session.execute(
            select(AnnualReportDeadline, Organization, AnnualReport, Item)
            .join(Organization, Organization.id == AnnualReportDeadline.organization_id)
            .outerjoin(
                AnnualReport,
                (AnnualReport.organization_id == AnnualReportDeadline.organization_id)
                & (AnnualReport.year == AnnualReportDeadline.year),
            )
            .outerjoin(Item, Item.id == AnnualReport.item_id)
            .where(AnnualReportDeadline.overdue_sent_at.is_(None))
            .order_by(AnnualReportDeadline.due_on)
            .with_for_update(of=AnnualReportDeadline, skip_locked=True)
        )
    ).all()
    now, soon_sent, overdue_sent = utcnow(), 0, 0
    horizon = dt.timedelta(days=settings.annual_report_due_soon_days)
    for deadline, org, report, item in rows:
        if item is not None and item.status == ItemStatus.published:
            continue
        payload = AnnualReportDeadlineV1(
            organization_id=org.id,
            organization_name=org.name,
            organization_type=org.type.value,
            year=deadline.year,
            due_on=deadline.due_on,
            basis=due_basis(org.type),
            report_id=report.id if report else None,
            report_status=(item.status.value if item else "draft") if report else "not_started",
        )
        if today > deadline.due_on:
            deadline.overdue_sent_at = now
            await emit(session, event_tables, ANNUAL_REPORT_OVERDUE_V1, payload)
            overdue_sent += 1
        elif deadline.due_soon_sent_at is None and today >= deadline.due_on - horizon:
            deadline.due_soon_sent_at = now
            await emit(session, event_tables, ANNUAL_REPORT_DUE_SOON_V1, payload)
            soon_sent += 1
    await session.flush()
    return soon_sent, overdue_sent


async def list_deadlines(
    session: AsyncSession, *, principal: Principal, year: int | None, organization_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    """Deadlines with where each report stands; staff see their organization's, the office all."""
    stmt = (
        select(AnnualReportDeadline, Organization, AnnualReport, Item)
        .join(Organization, Organization.id == AnnualReportDeadline.organization_id)
        .outerjoin(
            AnnualReport,
            (AnnualReport.organization_id == AnnualReportDeadline.organization_id)
            & (AnnualReport.year == AnnualReportDeadline.year),
        )
        .outerjoin(Item, Item.id == AnnualReport.item_id)
        .order_by(AnnualReportDeadline.due_on, Organization.name)
    )
    if year is not None:
        stmt = stmt.where(AnnualReportDeadline.year == year)
    if organization_id is not None:
        stmt = stmt.where(AnnualReportDeadline.organization_id == organization_id)
    if not service.is_office(principal):
        stmt = stmt.where(AnnualReportDeadline.organization_id == principal.department_id)
    today = china_today()
    out = []
    for deadline, org, report, item in (await session.execute(stmt)).all():
        published = item is not None and item.status == ItemStatus.published
        out.append(
            {
                "organization_id": org.id,
                "organization_name": org.name,
                "year": deadline.year,
                "due_on": deadline.due_on,
                "basis": due_basis(org.type),
                "report_id": report.id if report else None,
                "report_status": (item.status.value if item else "draft") if report else "not_started",
                "published_on": item.published_on if published and item else None,
                "overdue": (not published and today > deadline.due_on)
                or (
                    published
                    and item is not None
                    and item.published_on is not None
                    and item.published_on > deadline.due_on
                ),
                "due_soon_sent_at": deadline.due_soon_sent_at,
                "overdue_sent_at": deadline.overdue_sent_at,
            }
        )
    return out


__all__ = [
    "ANNUAL_REPORT_DUE_SOON_V1",
    "ANNUAL_REPORT_OVERDUE_V1",
    "AnnualReport",
    "AnnualReportDeadline",
    "AnnualReportDeadlineV1",
    "Check",
    "annual_report_sweeps",
    "create_report",
    "deadline_sweep",
    "due_date",
    "fetch_statistics",
    "get_report",
    "prefill",
    "refresh_report",
    "report_checks",
    "submit_report",
    "update_report",
]


def annual_report_sweeps(settings: CatalogSettings) -> list[Sweep]:
    """The worker's sweep of the art. 49 due dates (due-soon and overdue, once each)."""

    async def run(session: AsyncSession) -> None:
        await deadline_sweep(session, settings=settings)

    return [Sweep(name="catalog-annual-report-deadlines", every_seconds=settings.sweep_seconds, run=run)]
