import asyncio

from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.service import run_worker

from gongkai_sentiment.models import calendar_table, event_tables
from gongkai_sentiment.settings import SentimentSettings


async def main(settings: SentimentSettings | None = None, stop: asyncio.Event | None = None) -> None:
    handlers = [calendar_updated_handler(name="sentiment-calendar-updated", table=calendar_table)]
    await run_worker(settings=settings or SentimentSettings(), tables=event_tables, handlers=handlers, stop=stop)
