"""The annual report's API (条例 art. 49-50; 国办公开办函〔2021〕30号; issue 8 point 1).

Staff of the organization (and the office) compose the draft, correct and edit it, render it (HTML, Word) and
submit it; reviewers then use the catalog's ordinary item review (``/items/{id}/approve``, ``/publish``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from gongkai_shared.auth import StaffPrincipal, TokenSigner
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    UpstreamUnavailable,
    problem_responses,
)
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog import annual_report as ar
from gongkai_catalog import annual_report_render as render
from gongkai_catalog.models import ITEM_STATUS_LABELS, Organization
from gongkai_catalog.settings import CatalogSettings

router = APIRouter(tags=["年度报告"])
Year = Annotated[int, Path(ge=2008, le=2100, description="报告年度")]
_STATUS_LABELS = {"draft": "草稿", **{s.value: label for s, label in ITEM_STATUS_LABELS.items()}}


def get_settings(request: Request) -> CatalogSettings:
    return request.app.state.settings


def get_signer(request: Request) -> TokenSigner:
    return request.app.state.token_signer


SettingsDep = Annotated[CatalogSettings, Depends(get_settings)]
SignerDep = Annotated[TokenSigner, Depends(get_signer)]


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------


class CreateReportIn(BaseModel):
    year: int | None = Field(default=None, ge=2008, le=2100, description="报告年度（缺省为上一自然年度）")


class CheckOut(BaseModel):
    code: str = Field(description="校验规则代码")
    severity: Literal["error", "warning"] = Field(description="error 不能提交；warning 提示核实")
    field: str = Field(description="涉及的表格或字段")
    message: str = Field(description="说明")


class SectionsOut(BaseModel):
    overview: str = Field(default="", description="一、总体情况")
    problems: str = Field(default="", description="五、存在的主要问题及改进情况")
    other: str = Field(default="", description="六、其他需要报告的事项")


class AnnualReportOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str = Field(description="机关名称")
    year: int = Field(description="报告年度")
    title: str = Field(description="标题")
    status: str = Field(description="draft/in_review/approved/published")
    status_label: str = Field(description="状态（中文）")
    item_id: uuid.UUID | None = Field(default=None, description="目录中的年度报告信息（提交后）")
    due_on: dt.date = Field(description="公布期限（条例第四十九条）")
    due_basis: str = Field(description="期限依据")
    sections: SectionsOut
    edited_sections: list[str] = Field(description="工作人员修改过的部分（不再自动生成）")
    table2: dict[str, Any] | None = Field(description="表二 主动公开政府信息情况")
    table3: dict[str, Any] | None = Field(description="表三 收到和处理政府信息公开申请情况（来自依申请公开服务）")
    table4: dict[str, Any] | None = Field(description="表四 政府信息公开行政复议、行政诉讼情况（来自依申请公开服务）")
    statistics_fetched_at: dt.datetime | None = Field(description="表三、表四取得时间")
    fees_collected: Decimal | None = Field(description="本年实际收取的信息处理费（元）")
    fees_source: str | None = Field(description="requests（依申请公开服务）或 staff（工作人员填报）")
    corrections: list[dict[str, Any]] = Field(description="手工更正的数字（重新取数后清空）")
    checks: list[CheckOut] = Field(description="格式校验结果（error 须先更正）")
    submitted_at: dt.datetime | None = None
    updated_at: dt.datetime


class SectionsIn(BaseModel):
    """Text of a section; ``null`` brings the generated text back."""

    overview: str | None = Field(default=None, min_length=1, max_length=50_000, description="一、总体情况")
    problems: str | None = Field(
        default=None, min_length=1, max_length=50_000, description="五、存在的主要问题及改进情况"
    )
    other: str | None = Field(default=None, min_length=1, max_length=50_000, description="六、其他需要报告的事项")


class DocumentCountsIn(BaseModel):
    issued: int | None = Field(default=None, ge=0, description="本年制发件数")
    repealed: int | None = Field(default=None, ge=0, description="本年废止件数")
    in_force: int | None = Field(default=None, ge=0, description="现行有效件数")


class Table2In(BaseModel):
    regulations: DocumentCountsIn | None = Field(default=None, description="规章")
    normative_documents: DocumentCountsIn | None = Field(default=None, description="行政规范性文件")
    licensing_decisions: int | None = Field(default=None, ge=0, description="行政许可 本年处理决定数量")
    penalty_decisions: int | None = Field(default=None, ge=0, description="行政处罚 本年处理决定数量")
    enforcement_decisions: int | None = Field(default=None, ge=0, description="行政强制 本年处理决定数量")
    fee_amount: Decimal | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=4, description="行政事业性收费 本年收费金额（万元）"
    )


class Table3CellIn(BaseModel):
    row: str = Field(min_length=1, max_length=60, description="行（统计数据中的 key，如 new、disclosed）")
    column: str = Field(min_length=1, max_length=20, description="列：自然人、商业企业……总计")
    value: int = Field(ge=0, description="数量")


class Table4CellIn(BaseModel):
    block: str = Field(min_length=1, max_length=40, description="行政复议 / 行政诉讼·未经复议直接起诉 / …")
    column: str = Field(min_length=1, max_length=20, description="结果维持、结果纠正、其他结果、尚未审结、总计")
    value: int = Field(ge=0, description="数量")


class AnnualReportPatch(BaseModel):
    """Only the fields sent change."""

    sections: SectionsIn | None = Field(default=None, description="修改一、五、六部分的文字")
    fees_collected: Decimal | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=2, description="本年实际收取的信息处理费（元）"
    )
    table2: Table2In | None = Field(default=None, description="更正表二的数字")
    table3_cells: list[Table3CellIn] | None = Field(default=None, max_length=200, description="更正表三的格")
    table4_cells: list[Table4CellIn] | None = Field(default=None, max_length=15, description="更正表四的格")


class SubmitIn(BaseModel):
    override_reason: str | None = Field(
        default=None, min_length=2, max_length=2000, description="敏感内容检查放行理由（审核人员）"
    )


class DeadlineOut(BaseModel):
    organization_id: uuid.UUID
    organization_name: str
    year: int
    due_on: dt.date = Field(description="公布期限")
    basis: str = Field(description="依据（条例第四十九条）")
    report_id: uuid.UUID | None
    report_status: str = Field(description="not_started/draft/in_review/approved/published")
    published_on: dt.date | None
    overdue: bool = Field(description="已逾期（未公布且已过期限，或逾期公布）")
    due_soon_sent_at: dt.datetime | None
    overdue_sent_at: dt.datetime | None


async def report_out(session: AsyncSession, report: ar.AnnualReport) -> AnnualReportOut:
    org = await session.get(Organization, report.organization_id)
    assert org is not None
    status = await ar.report_status(session, report)
    return AnnualReportOut(
        id=report.id,
        organization_id=report.organization_id,
        organization_name=org.name,
        year=report.year,
        title=ar.report_title(org.name, report.year),
        status=status,
        status_label=_STATUS_LABELS.get(status, status),
        item_id=report.item_id,
        due_on=ar.due_date(org.type, report.year),
        due_basis=ar.due_basis(org.type),
        sections=SectionsOut(**{k: v for k, v in (report.sections or {}).items() if k in ar.SECTION_KEYS}),
        edited_sections=list(report.edited_sections or []),
        table2=report.table2,
        table3=report.table3,
        table4=report.table4,
        statistics_fetched_at=report.statistics_fetched_at,
        fees_collected=report.fees_collected,
        fees_source=report.fees_source,
        corrections=list(report.corrections or []),
        checks=[CheckOut(**c.as_dict()) for c in ar.report_checks(report)],
        submitted_at=report.submitted_at,
        updated_at=report.updated_at,
    )


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------

_BASE = "/organizations/{org_id}/annual-reports"


@router.post(
    _BASE,
    status_code=201,
    response_model=AnnualReportOut,
    summary="编制年度报告草稿（表二取自目录，表三、表四取自依申请公开服务）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict, UpstreamUnavailable, ServiceUnavailable),
)
async def create_annual_report(
    org_id: uuid.UUID,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    signer: SignerDep,
    data: Annotated[CreateReportIn | None, Body()] = None,
) -> AnnualReportOut:
    report = await ar.create_report(
        session,
        org_id=org_id,
        year=data.year if data else None,
        principal=principal,
        settings=settings,
        signer=signer,
    )
    return await report_out(session, report)


@router.get(
    _BASE + "/{year}",
    response_model=AnnualReportOut,
    summary="年度报告（含格式校验结果）",
    responses=problem_responses(Unauthorized, NotFound),
)
async def get_annual_report(
    org_id: uuid.UUID, year: Year, session: SessionDep, principal: StaffPrincipal
) -> AnnualReportOut:
    return await report_out(session, await ar.get_report(session, org_id=org_id, year=year, principal=principal))


@router.patch(
    _BASE + "/{year}",
    response_model=AnnualReportOut,
    summary="修改年度报告：一、五、六部分文字，信息处理费，更正表格数字",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def update_annual_report(
    org_id: uuid.UUID, year: Year, data: AnnualReportPatch, session: SessionDep, principal: StaffPrincipal
) -> AnnualReportOut:
    changes = data.model_dump(exclude_unset=True)
    if data.sections is not None:
        changes["sections"] = data.sections.model_dump(exclude_unset=True)
    if data.table2 is not None:
        table2 = data.table2.model_dump(exclude_unset=True)
        for kind in ar.TABLE2_DOCUMENT_FIELDS:
            if table2.get(kind) is not None:
                table2[kind] = {k: v for k, v in table2[kind].items() if v is not None}
        changes["table2"] = table2
    report = await ar.update_report(session, org_id=org_id, year=year, principal=principal, changes=changes)
    return await report_out(session, report)


@router.post(
    _BASE + "/{year}/refresh",
    response_model=AnnualReportOut,
    summary="重新取数（表二、表三、表四；手工更正的数字将被替换，修改过的文字保留）",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict, UpstreamUnavailable, ServiceUnavailable),
)
async def refresh_annual_report(
    org_id: uuid.UUID,
    year: Year,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    signer: SignerDep,
) -> AnnualReportOut:
    report = await ar.refresh_report(
        session, org_id=org_id, year=year, principal=principal, settings=settings, signer=signer
    )
    return await report_out(session, report)


@router.post(
    _BASE + "/{year}/submit",
    response_model=AnnualReportOut,
    summary="提交审查：通过格式校验后，作为“年度报告”信息进入政府信息公开年报栏目的保密审查和内容审核",
    responses=problem_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def submit_annual_report(
    org_id: uuid.UUID,
    year: Year,
    session: SessionDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
    data: Annotated[SubmitIn | None, Body()] = None,
) -> AnnualReportOut:
    report = await ar.submit_report(
        session,
        org_id=org_id,
        year=year,
        principal=principal,
        settings=settings,
        override_reason=data.override_reason if data else None,
    )
    return await report_out(session, report)


async def _rendered(session: AsyncSession, org_id: uuid.UUID, year: int, principal: Any) -> tuple[Any, str]:
    report = await ar.get_report(session, org_id=org_id, year=year, principal=principal)
    org = await session.get(Organization, org_id)
    assert org is not None
    return report, org.name


@router.get(
    _BASE + "/{year}/html",
    response_class=HTMLResponse,
    summary="年度报告 HTML",
    responses=problem_responses(Unauthorized, NotFound),
)
async def annual_report_html(org_id: uuid.UUID, year: Year, session: SessionDep, principal: StaffPrincipal) -> Response:
    report, name = await _rendered(session, org_id, year, principal)
    return HTMLResponse(render.report_html(report, name))


@router.get(
    _BASE + "/{year}/docx",
    response_class=Response,
    summary="年度报告 Word 文档（按国办公开办函〔2021〕30号表格样式）",
    responses=problem_responses(Unauthorized, NotFound),
)
async def annual_report_docx(org_id: uuid.UUID, year: Year, session: SessionDep, principal: StaffPrincipal) -> Response:
    report, name = await _rendered(session, org_id, year, principal)
    filename = f"{ar.report_title(name, year)}.docx"
    return Response(
        content=render.report_docx(report, name),
        media_type=ar.DOCX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get(
    "/annual-report-deadlines",
    response_model=list[DeadlineOut],
    summary="年度报告公布期限（条例第四十九条：部门1月31日前，政府3月31日前）",
    responses=problem_responses(Unauthorized),
)
async def annual_report_deadlines(
    session: SessionDep,
    principal: StaffPrincipal,
    year: Annotated[int | None, Query(ge=2008, le=2100, description="报告年度")] = None,
    organization_id: Annotated[uuid.UUID | None, Query(description="机关")] = None,
) -> list[dict[str, Any]]:
    return await ar.list_deadlines(session, principal=principal, year=year, organization_id=organization_id)


__all__ = ["router"]
