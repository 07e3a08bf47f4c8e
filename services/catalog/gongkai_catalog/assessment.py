"""The assessment (考核评估) of departments' disclosure work for the office (issue 8 point 2).

Per department and period, the figures the seeds say governments are judged on, each turned into a rate in
[0, 1] (higher is better) and weighted into a score out of 100:

| indicator | source | rule |
|---|---|---|
| publication_on_time | catalog (publication clock) | 条例 art. 26: published within 20 working days |
| replies_on_time | requests ``GET /figures`` | 条例 art. 33: replied within the reply deadline |
| remedies_not_corrected | requests ``GET /figures`` | table 四 结果纠正: share of 复议/诉讼 cases not corrected |
| interpretation_rate | interpretation ``GET /figures`` | 国办发〔2016〕80号, domain.md §4: policies interpreted |
| interpretation_on_time | interpretation | 三同步: interpreted within the local deadline |
| non_text_share | interpretation | domain.md §4: share of interpretations with a non-text form |
| opinion_on_time | sentiment ``GET /figures`` | 国办发〔2016〕61号/80号, domain.md §5: responses on time |
| accounts_updated | sentiment ``GET /figures`` | 国办发〔2018〕123号, 国办秘函〔2019〕19号: no gap over 14 days |
| consultation_feedback | catalog (participation) | 国务院令第713号: feedback published on time |
| columns_fresh | catalog (column freshness) | 国办秘函〔2019〕19号: columns neither stale nor empty |
| rectification_on_time | catalog (rectification) | findings closed by their deadline |

An indicator is ``ok`` (a rate), ``not_applicable`` (nothing to measure in the period, e.g. no policy
published: it is left out of the score, with the reason) or ``unavailable`` (its service did not answer: left
out too, with the reason; never a 500). The score is the weighted mean of the indicators that have a rate,
scaled to 100; each department's row says over which weight it was computed.

The catalog's own figures are read from its database; the other services are asked over HTTP with a
one-minute system token (architecture.md: a service never reads another's tables). Nothing is stored.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from gongkai_shared.auth import ALL_ORGANIZATIONS_SCOPE, TokenSigner, service_scope
from gongkai_shared.errors import ValidationFailed
from gongkai_shared.http import service_client
from gongkai_shared.timeutil import china_today
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog import freshness, participation, rectification
from gongkai_catalog.models import ORGANIZATION_TYPE_LABELS, Item, ItemStatus, Organization, OrganizationType
from gongkai_catalog.settings import CatalogSettings

log = structlog.get_logger("gongkai.catalog.assessment")


# --------------------------------------------------------------------------------------------
# Indicators
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    source: str
    basis: str


INDICATORS: tuple[Indicator, ...] = (
    Indicator("publication_on_time", "主动公开按时发布率", "catalog", "条例第二十六条：20个工作日内公开"),
    Indicator(
        "replies_on_time", "依申请按期答复率", "requests", "条例第三十三条：20个工作日内答复（可延长20个工作日）"
    ),
    Indicator("remedies_not_corrected", "复议诉讼未被纠正率", "requests", "年报表四：行政复议、行政诉讼结果纠正"),
    Indicator("interpretation_rate", "政策解读率", "interpretation", "国办发〔2016〕80号：政策文件与解读三同步"),
    Indicator("interpretation_on_time", "政策解读按时率", "interpretation", "三同步：政策公开后规定工作日内解读"),
    Indicator("non_text_share", "多元化解读占比", "interpretation", "国办发〔2016〕80号：图解、音视频等非文字解读"),
    Indicator("opinion_on_time", "舆情按时回应率", "sentiment", "国办发〔2016〕61号、80号：5小时/24小时/48小时内回应"),
    Indicator("accounts_updated", "政务新媒体更新合格率", "sentiment", "国办秘函〔2019〕19号：两周内有更新"),
    Indicator("consultation_feedback", "意见征集反馈按期率", "catalog", "国务院令第713号：公开意见采纳情况"),
    Indicator("columns_fresh", "栏目更新合格率", "catalog", "国办秘函〔2019〕19号：栏目无超期未更新、无空白"),
    Indicator("rectification_on_time", "问题整改按期销号率", "catalog", "政务公开办交办问题按期整改"),
)
INDICATOR_KEYS = tuple(i.key for i in INDICATORS)
BY_KEY = {i.key: i for i in INDICATORS}
SOURCE_LABELS = {
    "catalog": "目录服务",
    "requests": "依申请公开服务",
    "interpretation": "政策解读服务",
    "sentiment": "舆情服务",
}


def validate_weights(weights: dict[str, float], field: str = "assessment_weights") -> dict[str, float]:
    """Weights name known indicators and are non-negative; at least one is positive."""
    unknown = sorted(set(weights) - set(INDICATOR_KEYS))
    if unknown:
        raise ValidationFailed.for_field(field, f"未知的考核指标：{'、'.join(unknown)}", "unknown_indicator")
    if any(w < 0 for w in weights.values()):
        raise ValidationFailed.for_field(field, "权重不能为负数", "negative_weight")
    if not any(w > 0 for w in weights.values()):
        raise ValidationFailed.for_field(field, "至少一个指标的权重应大于0", "no_weight")
    return weights


# --------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A year (``2025``), a quarter (``2025-Q2``), a month (``2025-03``) or a range (``2025-01-01..2025-06-30``)."""

    kind: str
    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        if self.kind == "year":
            return f"{self.start.year}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"{self.start.year}年"
        if self.kind == "quarter":
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start.isoformat()}至{self.end.isoformat()}"

    def previous(self) -> Period:
        if self.kind == "year":
            return Period("year", dt.date(self.start.year - 1, 1, 1), dt.date(self.start.year - 1, 12, 31))
        if self.kind in ("quarter", "month"):
            months = 3 if self.kind == "quarter" else 1
            y, m = self.start.year, self.start.month - months
            if m < 1:
                y, m = y - 1, m + 12
            end_m = m + months - 1
            return Period(self.kind, dt.date(y, m, 1), dt.date(y, end_m, calendar.monthrange(y, end_m)[1]))
        length = self.end - self.start
        end = self.start - dt.timedelta(days=1)
        return Period("range", end - length, end)


_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def parse_period(text: str | None, *, field: str = "query.period", today: dt.date | None = None) -> Period:
    """The period of ``text``; none → the previous calendar year (the annual report's year)."""
    if text is None or not text.strip():
        year = (today or china_today()).year - 1
        return Period("year", dt.date(year, 1, 1), dt.date(year, 12, 31))
    text = text.strip()
    bad = ValidationFailed.for_field(
        field, "考核期间格式应为 2025、2025-Q1、2025-03 或 2025-01-01..2025-06-30", "period_format"
    )
    try:
        if m := _YEAR.match(text):
            y = int(m[1])
            period = Period("year", dt.date(y, 1, 1), dt.date(y, 12, 31))
        elif m := _QUARTER.match(text):
            y, q = int(m[1]), int(m[2])
            end_m = q * 3
            period = Period("quarter", dt.date(y, end_m - 2, 1), dt.date(y, end_m, calendar.monthrange(y, end_m)[1]))
        elif m := _MONTH.match(text):
            y, mo = int(m[1]), int(m[2])
            period = Period("month", dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1]))
        elif m := _RANGE.match(text):
            period = Period("range", dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2]))
        else:
            raise bad
    except ValueError as exc:
        raise bad from exc
    if period.end < period.start:
        raise ValidationFailed.for_field(field, "考核期间的结束日期不能早于开始日期", "date_order")
    if period.start.year < 2008 or period.end.year > 2100:
        raise ValidationFailed.for_field(field, "考核期间应在2008年（条例施行）至2100年之间", "period_range")
    if (period.end - period.start).days > 3 * 366:
        raise ValidationFailed.for_field(field, "考核期间不能超过三年", "period_too_long")
    return period


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class IndicatorResult:
    key: str
    status: str  # ok | not_applicable | unavailable
    value: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    detail: str = ""
    reason: str | None = None

    @property
    def label(self) -> str:
        return BY_KEY[self.key].label


@dataclass
class DepartmentResult:
    organization_id: uuid.UUID
    name: str
    type: str
    indicators: dict[str, IndicatorResult]
    score: float | None = None
    scored_weight: float = 0.0
    total_weight: float = 0.0
    rank: int | None = None
    note: str = ""


@dataclass
class SourceState:
    service: str
    available: bool
    reason: str | None = None


@dataclass
class Assessment:
    period: Period
    as_of: dt.date
    weights: dict[str, float]
    sources: list[SourceState]
    departments: list[DepartmentResult] = field(default_factory=list)


def _rate(num: int, den: int, *, key: str, detail: str, empty: str) -> IndicatorResult:
    if den <= 0:
        return IndicatorResult(key, "not_applicable", None, num, den, detail, empty)
    return IndicatorResult(key, "ok", round(num / den, 4), num, den, detail)


def score_department(dept: DepartmentResult, weights: dict[str, float]) -> None:
    """The weighted mean of the indicators with a rate, out of 100; the others are left out and named."""
    total = sum(weights.get(k, 0.0) for k in INDICATOR_KEYS)
    scored = 0.0
    acc = 0.0
    left_out: list[str] = []
    for key in INDICATOR_KEYS:
        w = weights.get(key, 0.0)
        if w <= 0:
            continue
        r = dept.indicators.get(key)
        if r is None or r.status != "ok" or r.value is None:
            left_out.append(BY_KEY[key].label)
            continue
        scored += w
        acc += w * r.value
    dept.total_weight = total
    dept.scored_weight = scored
    dept.score = round(100 * acc / scored, 2) if scored > 0 else None
    if left_out:
        dept.note = f"按可计算的指标（权重 {scored:g}/{total:g}）计分；未计分：{'、'.join(left_out)}"
    else:
        dept.note = f"按全部指标（权重 {total:g}）计分"


def rank(departments: list[DepartmentResult]) -> list[DepartmentResult]:
    """Highest score first; equal scores share a rank (1, 2, 2, 4); no score last, unranked."""
    ordered = sorted(departments, key=lambda d: (d.score is None, -(d.score or 0.0), d.name, str(d.organization_id)))
    previous: float | None = None
    current = 0
    for i, d in enumerate(ordered, start=1):
        if d.score is None:
            d.rank = None
            continue
        if d.score != previous:
            current = i
            previous = d.score
        d.rank = current
    return ordered


# --------------------------------------------------------------------------------------------
# Figures from the other services
# --------------------------------------------------------------------------------------------


class SourceError(Exception):
    """A service did not answer usably; the message is the reason shown to the office."""


def _token(signer: TokenSigner, service: str) -> str:
    """A one-minute read-only system token for one service's figures of every organization
    (``<service>:read`` and ``org:*``, which requests, sentiment and interpretation admit)."""
    return signer.issue_system(
        subject="system:catalog-assessment",
        name="目录服务（考核评估）",
        scopes={service_scope(service, "read"), ALL_ORGANIZATIONS_SCOPE},
    )


async def _get_json(
    *, settings: CatalogSettings, signer: TokenSigner, service: str, base_url: str, path: str, params: dict
) -> dict[str, Any]:
    label = SOURCE_LABELS[service]
    timeout = httpx.Timeout(settings.assessment_timeout_seconds, connect=min(3.0, settings.assessment_timeout_seconds))
    headers = {"Authorization": f"Bearer {_token(signer, service)}"}
    try:
        async with service_client(base_url, timeout=timeout) as client:
            resp = await client.get(path, params=params, headers=headers)
    except httpx.InvalidURL as exc:
        raise SourceError(f"{label}地址配置有误") from exc
    except (httpx.TransportError, httpx.TimeoutException) as exc:
        log.warning("assessment_source_unreachable", service=service, error=type(exc).__name__)
        raise SourceError(f"{label}暂时无法连接（{type(exc).__name__}）") from exc
    if resp.status_code != 200:
        log.warning("assessment_source_refused", service=service, status=resp.status_code)
        raise SourceError(f"{label}返回 HTTP {resp.status_code}")
    try:
        payload = resp.json()
    except ValueError as exc:
        raise SourceError(f"{label}返回的不是 JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
        raise SourceError(f"{label}返回的数据无法识别")
    return payload


def _rows_by_org(payload: dict[str, Any], id_key: str, fields: tuple[str, ...], service: str) -> dict[uuid.UUID, dict]:
    out: dict[uuid.UUID, dict] = {}
    for row in payload["rows"]:
        if not isinstance(row, dict) or row.get(id_key) is None:
            continue  # the interpretation service's total row has no organization
        try:
            org = uuid.UUID(str(row[id_key]))
        except ValueError as exc:
            raise SourceError(f"{SOURCE_LABELS[service]}返回的机关标识无法识别") from exc
        for f in fields:
            v = row.get(f)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise SourceError(f"{SOURCE_LABELS[service]}返回的“{f}”不是数字")
        out[org] = row
    return out


REQUESTS_FIELDS = ("replies", "replies_on_time", "replies_late", "overdue_unanswered", "remedies", "remedies_corrected")
INTERPRETATION_FIELDS = ("policies", "interpreted", "on_time", "interpretation_rate", "on_time_rate", "non_text_share")
SENTIMENT_FIELDS = ("responses_due", "responses_on_time", "responses_late", "responses_overdue", "accounts")


async def fetch_requests(settings: CatalogSettings, signer: TokenSigner, period: Period) -> dict[uuid.UUID, dict]:
    payload = await _get_json(
        settings=settings,
        signer=signer,
        service="requests",
        base_url=settings.requests_url,
        path="/figures",
        params={"from": period.start.isoformat(), "to": period.end.isoformat()},
    )
    return _rows_by_org(payload, "department_id", REQUESTS_FIELDS, "requests")


async def fetch_interpretation(settings: CatalogSettings, signer: TokenSigner, period: Period) -> dict[uuid.UUID, dict]:
    payload = await _get_json(
        settings=settings,
        signer=signer,
        service="interpretation",
        base_url=settings.interpretation_url,
        path="/figures",
        params={"start": period.start.isoformat(), "end": period.end.isoformat()},
    )
    return _rows_by_org(payload, "organization_id", INTERPRETATION_FIELDS, "interpretation")


async def fetch_sentiment(settings: CatalogSettings, signer: TokenSigner, period: Period) -> dict[uuid.UUID, dict]:
    payload = await _get_json(
        settings=settings,
        signer=signer,
        service="sentiment",
        base_url=settings.sentiment_url,
        path="/figures",
        params={"from": period.start.isoformat(), "to": period.end.isoformat()},
    )
    rows = _rows_by_org(payload, "department_id", SENTIMENT_FIELDS, "sentiment")
    limit = payload.get("silence_limit_days")
    for row in rows.values():
        row["silence_limit_days"] = limit if isinstance(limit, int) else None
    return rows


# --------------------------------------------------------------------------------------------
# Indicators from each source
# --------------------------------------------------------------------------------------------


def _requests_indicators(row: dict | None) -> list[IndicatorResult]:
    row = row or {}
    replies, on_time = int(row.get("replies", 0)), int(row.get("replies_on_time", 0))
    late, overdue = int(row.get("replies_late", 0)), int(row.get("overdue_unanswered", 0))
    remedies, corrected = int(row.get("remedies", 0)), int(row.get("remedies_corrected", 0))
    return [
        # 条例 art. 33: an application still unanswered past its deadline counts against the department too.
        _rate(
            on_time,
            replies + overdue,
            key="replies_on_time",
            detail=f"答复 {replies} 件，按期 {on_time} 件，超期答复 {late} 件，超期未答复 {overdue} 件",
            empty="期间内无应答复的申请",
        ),
        _rate(
            remedies - corrected,
            remedies,
            key="remedies_not_corrected",
            detail=f"新收复议诉讼 {remedies} 件，结果纠正 {corrected} 件",
            empty="期间内无行政复议、行政诉讼案件",
        ),
    ]


def _interpretation_indicators(row: dict | None) -> list[IndicatorResult]:
    row = row or {}
    policies, interpreted, on_time = (
        int(row.get("policies", 0)),
        int(row.get("interpreted", 0)),
        int(row.get("on_time", 0)),
    )
    share = row.get("non_text_share")
    non_text = round(float(share) * interpreted) if share is not None else 0
    return [
        _rate(
            interpreted,
            policies,
            key="interpretation_rate",
            detail=f"政策文件 {policies} 件，已解读 {interpreted} 件",
            empty="期间内未发布需解读的政策文件",
        ),
        _rate(
            on_time,
            policies,
            key="interpretation_on_time",
            detail=f"政策文件 {policies} 件，按时解读 {on_time} 件",
            empty="期间内未发布需解读的政策文件",
        ),
        _rate(
            non_text,
            interpreted,
            key="non_text_share",
            detail=f"已发布解读 {interpreted} 件，含非文字形式 {non_text} 件",
            empty="期间内无已发布的解读",
        ),
    ]


def _sentiment_indicators(row: dict | None) -> list[IndicatorResult]:
    row = row or {}
    silence_days = row.get("silence_limit_days") or "规定"
    due, on_time = int(row.get("responses_due", 0)), int(row.get("responses_on_time", 0))
    late, overdue = int(row.get("responses_late", 0)), int(row.get("responses_overdue", 0))
    accounts, silent = int(row.get("accounts", 0)), int(row.get("accounts_silent", 0))
    return [
        _rate(
            on_time,
            on_time + late + overdue,
            key="opinion_on_time",
            detail=f"需回应 {due} 件，按时 {on_time} 件，超时 {late} 件，超期未回应 {overdue} 件",
            empty="期间内无到期的舆情回应任务",
        ),
        _rate(
            accounts - silent,
            accounts,
            key="accounts_updated",
            detail=f"账号 {accounts} 个，超过 {silence_days} 天未更新 {silent} 个（当前）",
            empty="未登记政务新媒体账号",
        ),
    ]


def _unavailable(service: str, reason: str) -> list[IndicatorResult]:
    return [IndicatorResult(i.key, "unavailable", reason=reason) for i in INDICATORS if i.source == service]


async def _publication(
    session: AsyncSession, period: Period, org_ids: list[uuid.UUID], as_of: dt.date
) -> dict[uuid.UUID, tuple[int, int, int]]:
    """条例 art. 26 per organization: (published in the period with a deadline, of them late, unpublished past due)."""
    i = Item
    in_period = (i.status == ItemStatus.published) & i.published_on.between(period.start, period.end)
    with_clock = in_period & i.due_on.is_not(None)
    rows = await session.execute(
        select(
            i.organization_id,
            func.count().filter(with_clock),
            func.count().filter(with_clock, i.published_late.is_(True)),
            func.count().filter(
                i.due_on.is_not(None),
                i.due_on >= period.start,
                i.due_on < as_of,
                (i.published_on.is_(None)) | (i.published_on > as_of),
            ),
        )
        .where(i.organization_id.in_(org_ids))
        .group_by(i.organization_id)
    )
    return {org: (n, late, pending) for org, n, late, pending in rows.all()}


async def _catalog_indicators(
    session: AsyncSession, *, settings: CatalogSettings, period: Period, orgs: list[Organization], as_of: dt.date
) -> dict[uuid.UUID, list[IndicatorResult]]:
    ids = [o.id for o in orgs]
    publication = await _publication(session, period, ids, as_of)
    columns: dict[uuid.UUID, list[freshness.ColumnState]] = {}
    for state in await freshness.column_states(session, settings=settings, today=as_of):
        columns.setdefault(state.organization_id, []).append(state)
    today = china_today()
    out: dict[uuid.UUID, list[IndicatorResult]] = {}
    for org in orgs:
        n, late, pending = publication.get(org.id, (0, 0, 0))
        cons = await participation.consultation_figures(
            session, organization_id=org.id, start=period.start, end=period.end, today=today
        )
        finds = await rectification.finding_figures(
            session, department_id=org.id, start=period.start, end=period.end, today=today
        )
        cols = columns.get(org.id, [])
        bad_cols = sum(c.state in ("stale", "empty") for c in cols)
        closed_on_time, closed_late, overdue = (
            finds["findings_closed_on_time"],
            finds["findings_closed_late"],
            finds["findings_overdue"],
        )
        out[org.id] = [
            _rate(
                n - late,
                n + pending,
                key="publication_on_time",
                detail=f"发布 {n} 条，逾期发布 {late} 条，超期未发布 {pending} 条",
                empty="期间内无计时发布的信息",
            ),
            _rate(
                cons["reports_on_time"],
                cons["reports_due"],
                key="consultation_feedback",
                detail=(
                    f"开展意见征集 {cons['consultations_held']} 次，应公开反馈 {cons['reports_due']} 次，"
                    f"按期 {cons['reports_on_time']} 次"
                ),
                empty="期间内无到期的意见征集反馈",
            ),
            _rate(
                len(cols) - bad_cols,
                len(cols),
                key="columns_fresh",
                detail=f"栏目 {len(cols)} 个，超期未更新或空白 {bad_cols} 个（截至 {as_of.isoformat()}）",
                empty="无适用的栏目",
            ),
            _rate(
                closed_on_time,
                closed_on_time + closed_late + overdue,
                key="rectification_on_time",
                detail=(
                    f"交办问题 {finds['findings']} 个，按期销号 {closed_on_time} 个，逾期销号 {closed_late} 个，"
                    f"逾期未销号 {overdue} 个"
                ),
                empty="期间内无到期的整改问题",
            ),
        ]
    return out


DEFAULT_TYPES = (OrganizationType.department,)


async def assess(
    session: AsyncSession,
    *,
    settings: CatalogSettings,
    signer: TokenSigner,
    period: Period,
    types: tuple[OrganizationType, ...] = DEFAULT_TYPES,
    weights: dict[str, float] | None = None,
    fetchers: dict[str, Callable[[CatalogSettings, TokenSigner, Period], Awaitable[dict]]] | None = None,
) -> Assessment:
    """Every department's indicators, score and rank for ``period``; a silent service marks its indicators."""
    if weights is None:
        weights = validate_weights(dict(settings.assessment_weights), field="GK_CATALOG_ASSESSMENT_WEIGHTS")
    weights = validate_weights(dict(weights))
    as_of = min(period.end, china_today())
    orgs = list(
        (
            await session.scalars(
                select(Organization).where(Organization.type.in_(types)).order_by(Organization.name, Organization.id)
            )
        ).all()
    )
    fetchers = fetchers or {
        "requests": fetch_requests,
        "interpretation": fetch_interpretation,
        "sentiment": fetch_sentiment,
    }
    names = list(fetchers)
    answers = await asyncio.gather(*(fetchers[n](settings, signer, period) for n in names), return_exceptions=True)
    sources = [SourceState("catalog", True)]
    figures: dict[str, dict[uuid.UUID, dict] | str] = {}
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, SourceError):
            figures[name] = str(answer)
        elif isinstance(answer, BaseException):
            log.warning("assessment_source_failed", service=name, error=type(answer).__name__)
            figures[name] = f"{SOURCE_LABELS[name]}的数据无法处理（{type(answer).__name__}）"
        else:
            figures[name] = answer
        sources.append(
            SourceState(
                name, not isinstance(figures[name], str), figures[name] if isinstance(figures[name], str) else None
            )
        )
    catalog = await _catalog_indicators(session, settings=settings, period=period, orgs=orgs, as_of=as_of)
    departments = []
    for org in orgs:
        results: list[IndicatorResult] = list(catalog[org.id])
        for name, build in (
            ("requests", _requests_indicators),
            ("interpretation", _interpretation_indicators),
            ("sentiment", _sentiment_indicators),
        ):
            got = figures.get(name)
            if got is None:
                continue
            results += _unavailable(name, got) if isinstance(got, str) else build(got.get(org.id))
        dept = DepartmentResult(
            organization_id=org.id,
            name=org.name,
            type=ORGANIZATION_TYPE_LABELS[org.type],
            indicators={r.key: r for r in results},
        )
        score_department(dept, weights)
        departments.append(dept)
    return Assessment(period=period, as_of=as_of, weights=weights, sources=sources, departments=rank(departments))


async def trend(
    session: AsyncSession,
    *,
    settings: CatalogSettings,
    signer: TokenSigner,
    period: Period,
    count: int,
    types: tuple[OrganizationType, ...] = DEFAULT_TYPES,
    fetchers: dict[str, Callable[[CatalogSettings, TokenSigner, Period], Awaitable[dict]]] | None = None,
) -> list[Assessment]:
    """The assessment of ``period`` and the ``count - 1`` periods of the same length before it, oldest first."""
    periods = [period]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    out = []
    for p in reversed(periods):
        out.append(await assess(session, settings=settings, signer=signer, period=p, types=types, fetchers=fetchers))
    return out


__all__ = [
    "INDICATORS",
    "INDICATOR_KEYS",
    "Assessment",
    "DepartmentResult",
    "IndicatorResult",
    "Period",
    "SourceError",
    "assess",
    "parse_period",
    "rank",
    "score_department",
    "trend",
    "validate_weights",
]
