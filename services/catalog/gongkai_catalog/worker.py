import asyncio

from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.events import Handler
from gongkai_shared.service import Sweep, run_worker
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog import service
from gongkai_catalog.annual_report import annual_report_sweeps
from gongkai_catalog.models import calendar_table, event_tables
from gongkai_catalog.participation_worker import participation_handlers, participation_sweeps
from gongkai_catalog.search_index_writer import SearchIndexFollower
from gongkai_catalog.settings import CatalogSettings


def sweeps(settings: CatalogSettings) -> list[Sweep]:
    """The publication clock (条例 art. 26: due-soon and overdue, once each) and expiry (失效)."""

    async def clock(session: AsyncSession) -> None:
        await service.publication_clock_sweep(session, settings=settings)

    async def expiry(session: AsyncSession) -> None:
        await service.expiry_sweep(session)

    return [
        Sweep(name="catalog-publication-clock", every_seconds=settings.sweep_seconds, run=clock),
        Sweep(name="catalog-expiry", every_seconds=settings.sweep_seconds, run=expiry),
        *participation_sweeps(settings),
        *annual_report_sweeps(settings),
    ]


def handlers(settings: CatalogSettings) -> list[Handler]:
    return [
        Handler(name="catalog-topic-repeated", subject="requests.topic.repeated", handle=service.on_topic_repeated),
        # A published interpretation becomes a 政策解读 item linked both ways with its policy (issue 3 point 8).
        Handler(
            name="catalog-interpretation-published",
            subject="interpretation.interpretation.published",
            handle=service.on_interpretation_published,
        ),
        # A department's published response to public concern becomes a 回应关切 item (issue 3 point 8).
        Handler(
            name="catalog-response-published",
            subject="sentiment.response.published",
            handle=service.on_response_published,
        ),
        calendar_updated_handler(
            name="catalog-calendar-updated", table=calendar_table, recompute=service.recompute_due_dates
        ),
        *participation_handlers(settings),
    ]


async def main(settings: CatalogSettings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or CatalogSettings()
    stop = stop or asyncio.Event()  # run_worker sets it on SIGTERM/SIGINT; the search index follows it too
    # The one writer of the search index (gongkai_catalog/search_index_writer.py), beside relay and consumers.
    follower = SearchIndexFollower(settings) if settings.search_index_directory() is not None else None
    index_task = asyncio.create_task(follower.run(stop), name="search-index") if follower else None
    try:
        await run_worker(
            settings=settings, tables=event_tables, handlers=handlers(settings), sweeps=sweeps(settings), stop=stop
        )
    finally:
        stop.set()
        if index_task is not None:
            await index_task


__all__ = ["handlers", "main", "sweeps"]
