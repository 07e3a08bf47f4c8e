"""Column freshness (栏目更新; issue 9 point 2): the single-veto items of the website inspection, seen before the
inspectors see them. Never commits.

国办秘函〔2019〕19号 (全国政府网站抽查评估指标): a column fails when 动态、要闻类 columns are silent for more than
2 weeks, 通知公告、政策文件类 columns for more than 6 months, or a column is empty (空白栏目). The rhythms are
settings (``freshness_news_days``, ``freshness_notice_months``); which columns are news-type is a setting too
(``freshness_news_markers``, matched in the column's name); the guide, the rules and the annual reports have no
rhythm (``freshness_exempt_keys``) and are checked for emptiness only.

A column is a leaf of the catalog tree (categories) that applies to the organization: every organization has the
art. 20 columns; the art. 21 columns apply to city/county governments and their departments (scope city_county) or
to townships (scope township). Its last publication is the latest ``published_on`` of its published items.

Boundaries: a column last updated on day D with a 14-day rhythm is fresh through D + 14 and stale from D + 15
("no gap over 14 days", domain.md §5); with a 6-month rhythm it is fresh through the same day 6 months later (the
month's last day when that day does not exist) and stale the day after.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from gongkai_shared.contracts.catalog import COLUMN_STALE_V1, ColumnStaleV1
from gongkai_shared.events import emit
from gongkai_shared.timeutil import china_today
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog.models import Category, Item, ItemStatus, Organization, OrganizationType, event_tables
from gongkai_catalog.participation_models import ColumnStaleFlag
from gongkai_catalog.settings import CatalogSettings

__all__ = [
    "RHYTHM_LABELS",
    "ColumnState",
    "add_months",
    "column_states",
    "freshness_sweep",
    "last_fresh_day",
    "rhythm_of",
]

Rhythm = Literal["news", "notice", "none"]
State = Literal["empty", "fresh", "stale", "no_rhythm"]
RHYTHM_LABELS = {
    "news": "动态类：2周内应有更新",
    "notice": "通知公告、政策文件类：6个月内应有更新",
    "none": "无固定更新周期",
}
STATE_LABELS = {"empty": "空白栏目", "fresh": "按要求更新", "stale": "超期未更新", "no_rhythm": "已有内容"}

#: Which organization types a category scope applies to (条例 art. 21).
_SCOPE_TYPES = {
    "city_county": {OrganizationType.government, OrganizationType.district, OrganizationType.department},
    "township": {OrganizationType.township},
}


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it has no such day (31 Aug + 6 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def rhythm_of(category: Category, settings: CatalogSettings) -> Rhythm:
    if category.key is not None and category.key in settings.freshness_exempt_keys:
        return "none"
    if any(marker in category.name for marker in settings.freshness_news_markers):
        return "news"
    return "notice"


def last_fresh_day(last: dt.date, rhythm: Rhythm, settings: CatalogSettings) -> dt.date | None:
    """The last day a column updated on ``last`` still meets its rhythm (None: no rhythm)."""
    if rhythm == "news":
        return last + dt.timedelta(days=settings.freshness_news_days)
    if rhythm == "notice":
        return add_months(last, settings.freshness_notice_months)
    return None


@dataclass(frozen=True, slots=True)
class ColumnState:
    organization_id: uuid.UUID
    organization_name: str
    category_id: uuid.UUID
    category_name: str
    category_key: str | None
    rhythm: Rhythm
    state: State
    published_count: int
    last_published_on: dt.date | None
    fresh_until: dt.date | None
    days_silent: int | None

    @property
    def stale_since(self) -> dt.date | None:
        return self.fresh_until + dt.timedelta(days=1) if self.state == "stale" and self.fresh_until else None


def _applies(category: Category, org: Organization) -> bool:
    types = _SCOPE_TYPES.get(category.scope)
    return types is None or org.type in types


async def column_states(
    session: AsyncSession,
    *,
    settings: CatalogSettings,
    today: dt.date | None = None,
    organization_id: uuid.UUID | None = None,
) -> list[ColumnState]:
    """Every applicable column of every organization (or one), as of ``today``: last publication, rhythm, state."""
    today = today or china_today()
    categories = (await session.scalars(select(Category).order_by(Category.position, Category.name))).all()
    parents = {c.parent_id for c in categories if c.parent_id is not None}
    leaves = [c for c in categories if c.id not in parents]
    org_stmt = select(Organization).order_by(Organization.name, Organization.id)
    if organization_id is not None:
        org_stmt = org_stmt.where(Organization.id == organization_id)
    orgs = (await session.scalars(org_stmt)).all()
    last_stmt = (
        select(Item.organization_id, Item.category_id, func.max(Item.published_on), func.count())
        .where(Item.status == ItemStatus.published, Item.category_id.is_not(None), Item.published_on <= today)
        .group_by(Item.organization_id, Item.category_id)
    )
    if organization_id is not None:
        last_stmt = last_stmt.where(Item.organization_id == organization_id)
    last = {(o, c): (d, n) for o, c, d, n in (await session.execute(last_stmt)).all()}
    out: list[ColumnState] = []
    for org in orgs:
        for cat in leaves:
            if not _applies(cat, org):
                continue
            rhythm = rhythm_of(cat, settings)
            published_on, count = last.get((org.id, cat.id), (None, 0))
            fresh_until = last_fresh_day(published_on, rhythm, settings) if published_on else None
            if published_on is None:
                state: State = "empty"
            elif fresh_until is None:
                state = "no_rhythm"
            else:
                state = "stale" if today > fresh_until else "fresh"
            out.append(
                ColumnState(
                    organization_id=org.id,
                    organization_name=org.name,
                    category_id=cat.id,
                    category_name=cat.name,
                    category_key=cat.key,
                    rhythm=rhythm,
                    state=state,
                    published_count=count,
                    last_published_on=published_on,
                    fresh_until=fresh_until,
                    days_silent=(today - published_on).days if published_on else None,
                )
            )
    return out


async def freshness_sweep(
    session: AsyncSession, *, settings: CatalogSettings, today: dt.date | None = None
) -> list[ColumnState]:
    """Send ``catalog.column.stale`` for each column that turned stale, once per staleness; return those sent.

    A staleness is identified by the column's last publication: a new publication ends it, and if the column
    falls silent again, that is a new staleness and a new event.
    """
    today = today or china_today()
    stale = [s for s in await column_states(session, settings=settings, today=today) if s.state == "stale"]
    if not stale:
        return []
    flags = {
        (f.organization_id, f.category_id): f.last_published_on
        for f in (await session.scalars(select(ColumnStaleFlag).with_for_update())).all()
    }
    sent = []
    for s in stale:
        assert s.last_published_on is not None and s.stale_since is not None and s.days_silent is not None
        if flags.get((s.organization_id, s.category_id)) == s.last_published_on:
            continue
        await session.execute(
            insert(ColumnStaleFlag)
            .values(
                organization_id=s.organization_id,
                category_id=s.category_id,
                last_published_on=s.last_published_on,
                flagged_on=today,
            )
            .on_conflict_do_update(
                index_elements=[ColumnStaleFlag.organization_id, ColumnStaleFlag.category_id],
                set_={"last_published_on": s.last_published_on, "flagged_on": today, "updated_at": func.now()},
            )
        )
        await emit(
            session,
            event_tables,
            COLUMN_STALE_V1,
            ColumnStaleV1(
                organization_id=s.organization_id,
                organization_name=s.organization_name,
                category_id=s.category_id,
                category_name=s.category_name,
                rhythm=s.rhythm,
                rhythm_label=RHYTHM_LABELS[s.rhythm],
                last_published_on=s.last_published_on,
                stale_since=s.stale_since,
                days_silent=s.days_silent,
            ),
        )
        sent.append(s)
    await session.flush()
    return sent
