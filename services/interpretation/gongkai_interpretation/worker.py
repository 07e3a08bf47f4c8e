import asyncio
import functools

from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.events import Handler
from gongkai_shared.service import run_worker

from gongkai_interpretation import service
from gongkai_interpretation.models import calendar_table, event_tables
from gongkai_interpretation.settings import InterpretationSettings


def handlers(settings: InterpretationSettings) -> list[Handler]:
    return [
        Handler(
            name="interpretation-policy-published",
            subject="catalog.policy.published",
            handle=functools.partial(service.on_policy_published, due_working_days=settings.due_working_days),
        ),
        calendar_updated_handler(
            name="interpretation-calendar-updated", table=calendar_table, recompute=service.recompute_due_dates
        ),
    ]


async def main(settings: InterpretationSettings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or InterpretationSettings()
    await run_worker(settings=settings, tables=event_tables, handlers=handlers(settings), stop=stop)
