import asyncio

from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.service import run_worker

from gongkai_requests.models import calendar_table, event_tables
from gongkai_requests.settings import RequestsSettings


async def main(settings: RequestsSettings | None = None, stop: asyncio.Event | None = None) -> None:
    handlers = [calendar_updated_handler(name="requests-calendar-updated", table=calendar_table)]
    await run_worker(settings=settings or RequestsSettings(), tables=event_tables, handlers=handlers, stop=stop)
