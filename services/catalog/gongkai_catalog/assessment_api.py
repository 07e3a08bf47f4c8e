"""The assessment's API (考核评估; issue 8 point 2), for the disclosure office (政务公开办).

``GET /assessment`` ranks the departments of a period, ``GET /assessment/trend`` follows their scores over the
periods before it; both come as an xlsx export and as SVG charts for the report and the frontend. Nothing is
stored: each call asks the services for their figures; a service that does not answer marks its indicators
unavailable, with the reason, and the scores are computed over the rest.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from gongkai_shared.auth import Principal, Role, TokenSigner, require_roles
from gongkai_shared.db import SessionDep
from gongkai_shared.errors import Forbidden, Unauthorized, ValidationFailed, problem_responses
from gongkai_shared.xlsx import worksheet_row
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from pydantic import BaseModel, Field

from gongkai_catalog import assessment as asm
from gongkai_catalog.assessment_charts import bar_chart, line_chart
from gongkai_catalog.models import OrganizationType
from gongkai_catalog.settings import CatalogSettings

router = APIRouter(tags=["考核评估"])
OfficePrincipal = Annotated[Principal, require_roles(Role.office, Role.admin)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SVG = "image/svg+xml"


def _settings(request: Request) -> CatalogSettings:
    return request.app.state.settings


def _signer(request: Request) -> TokenSigner:
    return request.app.state.token_signer


SettingsDep = Annotated[CatalogSettings, Depends(_settings)]
SignerDep = Annotated[TokenSigner, Depends(_signer)]
PeriodQuery = Annotated[
    str | None,
    Query(
        description="考核期间：2025（年度）、2025-Q1（季度）、2025-03（月）或 2025-01-01..2025-06-30；缺省为上一年度"
    ),
]
TypesQuery = Annotated[
    list[OrganizationType] | None, Query(alias="type", description="参加考核的机关类型（缺省为部门）")
]
WeightsQuery = Annotated[
    str | None, Query(description='临时权重（JSON，如 {"replies_on_time": 20}）；缺省用设置中的权重')
]
PeriodsQuery = Annotated[int | None, Query(ge=1, le=20, description="期间个数（含所选期间，向前推）")]


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------


class PeriodOut(BaseModel):
    key: str = Field(description="期间代码")
    label: str = Field(description="期间")
    start: dt.date = Field(description="开始日期")
    end: dt.date = Field(description="结束日期")


class IndicatorMetaOut(BaseModel):
    key: str = Field(description="指标代码")
    label: str = Field(description="指标")
    source: str = Field(description="数据来源服务")
    basis: str = Field(description="依据")
    weight: float = Field(description="权重")


class SourceOut(BaseModel):
    service: str = Field(description="服务")
    label: str = Field(description="服务名称")
    available: bool = Field(description="是否取得数据")
    reason: str | None = Field(default=None, description="未取得数据的原因")


class IndicatorOut(BaseModel):
    key: str = Field(description="指标代码")
    label: str = Field(description="指标")
    status: Literal["ok", "not_applicable", "unavailable"] = Field(
        description="ok 已计算；not_applicable 期间内无可考核事项；unavailable 数据来源服务未响应"
    )
    value: float | None = Field(description="比率（0-1）")
    numerator: int | None = Field(description="分子")
    denominator: int | None = Field(description="分母")
    detail: str = Field(description="数据说明")
    reason: str | None = Field(description="未计分原因")


class DepartmentOut(BaseModel):
    organization_id: uuid.UUID
    name: str = Field(description="部门")
    type: str = Field(description="机关类型")
    rank: int | None = Field(description="排名（无法计分的不排名）")
    score: float | None = Field(description="得分（百分制）")
    scored_weight: float = Field(description="参与计分的权重")
    total_weight: float = Field(description="全部权重")
    note: str = Field(description="计分说明")
    indicators: list[IndicatorOut]


class AssessmentOut(BaseModel):
    period: PeriodOut
    as_of: dt.date = Field(description="统计截至日期")
    indicators: list[IndicatorMetaOut]
    sources: list[SourceOut]
    complete: bool = Field(description="所有数据来源均已取得")
    departments: list[DepartmentOut] = Field(description="按排名排列")


class TrendDepartmentOut(BaseModel):
    organization_id: uuid.UUID
    name: str = Field(description="部门")
    scores: list[float | None] = Field(description="各期间得分（与 periods 对应）")
    ranks: list[int | None] = Field(description="各期间排名")


class TrendOut(BaseModel):
    periods: list[PeriodOut]
    sources: list[list[SourceOut]] = Field(description="各期间的数据来源状态")
    departments: list[TrendDepartmentOut]


def _period_out(p: asm.Period) -> PeriodOut:
    return PeriodOut(key=p.key, label=p.label, start=p.start, end=p.end)


def _sources_out(a: asm.Assessment) -> list[SourceOut]:
    return [
        SourceOut(service=s.service, label=asm.SOURCE_LABELS[s.service], available=s.available, reason=s.reason)
        for s in a.sources
    ]


def assessment_out(a: asm.Assessment) -> AssessmentOut:
    return AssessmentOut(
        period=_period_out(a.period),
        as_of=a.as_of,
        indicators=[
            IndicatorMetaOut(key=i.key, label=i.label, source=i.source, basis=i.basis, weight=a.weights.get(i.key, 0))
            for i in asm.INDICATORS
        ],
        sources=_sources_out(a),
        complete=all(s.available for s in a.sources),
        departments=[
            DepartmentOut(
                organization_id=d.organization_id,
                name=d.name,
                type=d.type,
                rank=d.rank,
                score=d.score,
                scored_weight=d.scored_weight,
                total_weight=d.total_weight,
                note=d.note,
                indicators=[
                    IndicatorOut(
                        key=r.key,
                        label=r.label,
                        status=r.status,  # type: ignore[arg-type]
                        value=r.value,
                        numerator=r.numerator,
                        denominator=r.denominator,
                        detail=r.detail,
                        reason=r.reason,
                    )
                    for key in asm.INDICATOR_KEYS
                    if (r := d.indicators.get(key)) is not None
                ],
            )
            for d in a.departments
        ],
    )


def _weights(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ValidationFailed.for_field("query.weights", "权重应为 JSON 对象", "json") from exc
    if not isinstance(raw, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in raw.values()
    ):
        raise ValidationFailed.for_field("query.weights", "权重应为“指标代码: 数字”的 JSON 对象", "json")
    return asm.validate_weights({str(k): float(v) for k, v in raw.items()}, field="query.weights")


async def _assess(
    session: SessionDep,
    settings: CatalogSettings,
    signer: TokenSigner,
    period: str | None,
    types: list[OrganizationType] | None,
    weights: str | None,
) -> asm.Assessment:
    p = asm.parse_period(period)
    return await asm.assess(
        session,
        settings=settings,
        signer=signer,
        period=p,
        types=tuple(types) if types else asm.DEFAULT_TYPES,
        weights=_weights(weights),
    )


async def _trend(
    session: SessionDep,
    settings: CatalogSettings,
    signer: TokenSigner,
    period: str | None,
    periods: int | None,
    types: list[OrganizationType] | None,
) -> list[asm.Assessment]:
    return await asm.trend(
        session,
        settings=settings,
        signer=signer,
        period=asm.parse_period(period),
        count=periods or settings.assessment_trend_periods,
        types=tuple(types) if types else asm.DEFAULT_TYPES,
    )


def trend_out(results: list[asm.Assessment]) -> TrendOut:
    names: dict[uuid.UUID, str] = {}
    for a in results:
        for d in a.departments:
            names[d.organization_id] = d.name
    by_period = [{d.organization_id: d for d in a.departments} for a in results]
    return TrendOut(
        periods=[_period_out(a.period) for a in results],
        sources=[_sources_out(a) for a in results],
        departments=[
            TrendDepartmentOut(
                organization_id=org,
                name=name,
                scores=[(p[org].score if org in p else None) for p in by_period],
                ranks=[(p[org].rank if org in p else None) for p in by_period],
            )
            for org, name in sorted(names.items(), key=lambda kv: (kv[1], str(kv[0])))
        ],
    )


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------

_ERRORS = problem_responses(Unauthorized, Forbidden, ValidationFailed)


@router.get("/assessment", response_model=AssessmentOut, summary="考核评估：各部门指标、得分与排名", responses=_ERRORS)
async def get_assessment(
    session: SessionDep,
    _: OfficePrincipal,
    settings: SettingsDep,
    signer: SignerDep,
    period: PeriodQuery = None,
    types: TypesQuery = None,
    weights: WeightsQuery = None,
) -> AssessmentOut:
    return assessment_out(await _assess(session, settings, signer, period, types, weights))


@router.get("/assessment/trend", response_model=TrendOut, summary="考核评估：得分趋势", responses=_ERRORS)
async def get_trend(
    session: SessionDep,
    _: OfficePrincipal,
    settings: SettingsDep,
    signer: SignerDep,
    period: PeriodQuery = None,
    periods: PeriodsQuery = None,
    types: TypesQuery = None,
) -> TrendOut:
    return trend_out(await _trend(session, settings, signer, period, periods, types))


def export_xlsx(a: asm.Assessment) -> bytes:
    """One row per department (rank, score, every indicator as a percentage), then the indicators and sources."""
    wb = Workbook()
    ws = wb.active
    ws.title = "考核评估"
    ws.append([f"政务公开工作考核评估（{a.period.label}，统计截至{a.as_of.isoformat()}）"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["排名", "部门", "得分", "计分权重", *(i.label for i in asm.INDICATORS), "计分说明"])
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for d in a.departments:
        values: list[object] = []
        for key in asm.INDICATOR_KEYS:
            r = d.indicators.get(key)
            if r is None or r.status == "unavailable":
                values.append("数据不可用")
            elif r.status == "not_applicable":
                values.append("不适用")
            else:
                values.append(round((r.value or 0) * 100, 2))
        ws.append(worksheet_row([d.rank, d.name, d.score, f"{d.scored_weight:g}/{d.total_weight:g}", *values, d.note]))
    ws.column_dimensions["B"].width = 24
    meta = wb.create_sheet("指标与数据来源")
    meta.append(["指标代码", "指标", "权重", "依据", "数据来源", "来源状态"])
    state = {s.service: s for s in a.sources}
    for i in asm.INDICATORS:
        s = state.get(i.source)
        meta.append(
            [
                i.key,
                i.label,
                a.weights.get(i.key, 0),
                i.basis,
                asm.SOURCE_LABELS[i.source],
                "正常" if s is None or s.available else f"不可用：{s.reason}",
            ]
        )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get(
    "/assessment/export.xlsx",
    summary="导出考核评估（xlsx，每个部门一行）",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, **_ERRORS},
)
async def get_assessment_xlsx(
    session: SessionDep,
    _: OfficePrincipal,
    settings: SettingsDep,
    signer: SignerDep,
    period: PeriodQuery = None,
    types: TypesQuery = None,
    weights: WeightsQuery = None,
) -> Response:
    a = await _assess(session, settings, signer, period, types, weights)
    return _download(export_xlsx(a), XLSX, f"政务公开考核评估-{a.period.key}.xlsx")


def scores_svg(a: asm.Assessment) -> str:
    return bar_chart(f"{a.period.label}各部门政务公开考核得分", [(d.name, d.score) for d in a.departments])


def trend_svg(results: list[asm.Assessment]) -> str:
    t = trend_out(results)
    title = f"政务公开考核得分趋势（{t.periods[0].label}至{t.periods[-1].label}）"
    return line_chart(title, [p.label for p in t.periods], [(d.name, d.scores) for d in t.departments])


@router.get(
    "/assessment/chart.svg",
    summary="各部门得分柱状图（SVG）",
    response_class=Response,
    responses={200: {"content": {SVG: {}}}, **_ERRORS},
)
async def get_scores_svg(
    session: SessionDep,
    _: OfficePrincipal,
    settings: SettingsDep,
    signer: SignerDep,
    period: PeriodQuery = None,
    types: TypesQuery = None,
    weights: WeightsQuery = None,
) -> Response:
    a = await _assess(session, settings, signer, period, types, weights)
    return Response(scores_svg(a), media_type=SVG)


@router.get(
    "/assessment/trend.svg",
    summary="得分趋势折线图（SVG）",
    response_class=Response,
    responses={200: {"content": {SVG: {}}}, **_ERRORS},
)
async def get_trend_svg(
    session: SessionDep,
    _: OfficePrincipal,
    settings: SettingsDep,
    signer: SignerDep,
    period: PeriodQuery = None,
    periods: PeriodsQuery = None,
    types: TypesQuery = None,
) -> Response:
    return Response(trend_svg(await _trend(session, settings, signer, period, periods, types)), media_type=SVG)


__all__ = ["router"]
