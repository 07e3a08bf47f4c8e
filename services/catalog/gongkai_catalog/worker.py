import asyncio

from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.service import run_worker

from gongkai_catalog.models import calendar_table, event_tables
from gongkai_catalog.settings import CatalogSettings


async def main(settings: CatalogSettings | None = None, stop: asyncio.Event | None = None) -> None:
    handlers = [calendar_updated_handler(name="catalog-calendar-updated", table=calendar_table)]
    await run_worker(settings=settings or CatalogSettings(), tables=event_tables, handlers=handlers, stop=stop)
