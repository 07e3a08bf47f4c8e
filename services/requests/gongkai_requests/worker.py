import asyncio

from gongkai_shared.calendar import WorkingDayCalendar
from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.events import Handler
from gongkai_shared.service import Sweep, run_worker
from gongkai_shared.timeutil import china_today
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_requests import service
from gongkai_requests.models import calendar_table, event_tables
from gongkai_requests.settings import RequestsSettings


def handlers(settings: RequestsSettings) -> list[Handler]:
    async def recompute(session: AsyncSession, calendar: WorkingDayCalendar, year: int) -> int:
        return await service.recompute_year(session, calendar, year, settings=settings, today=china_today())

    return [
        calendar_updated_handler(name="requests-calendar-updated", table=calendar_table, recompute_year=recompute),
        Handler(
            name="requests-organization-created", subject="catalog.organization.created", handle=service.on_organization
        ),
        Handler(
            name="requests-organization-updated", subject="catalog.organization.updated", handle=service.on_organization
        ),
        Handler(name="requests-item-published", subject="catalog.item.published", handle=service.on_item_published),
    ]


def sweeps(settings: RequestsSettings) -> list[Sweep]:
    async def lapsed(session: AsyncSession) -> None:
        await service.sweep_lapsed(session, settings=settings, today=china_today())

    async def signals(session: AsyncSession) -> None:
        await service.sweep_signals(session, settings=settings, today=china_today())

    return [
        Sweep(name="requests-lapsed", every_seconds=settings.sweep_every_seconds, run=lapsed),
        Sweep(name="requests-deadline-signals", every_seconds=settings.sweep_every_seconds, run=signals),
    ]


async def main(settings: RequestsSettings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or RequestsSettings()
    await run_worker(
        settings=settings, tables=event_tables, handlers=handlers(settings), sweeps=sweeps(settings), stop=stop
    )
