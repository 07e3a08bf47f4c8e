import asyncio
import functools

from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.events import Handler
from gongkai_shared.service import Sweep, run_worker
from sqlalchemy.ext.asyncio import AsyncSession

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
        Handler(
            name="interpretation-policy-superseded",
            subject="catalog.policy.superseded",
            handle=service.on_policy_superseded,
        ),
        Handler(
            name="interpretation-organization-created",
            subject="catalog.organization.created",
            handle=service.on_organization,
        ),
        Handler(
            name="interpretation-organization-updated",
            subject="catalog.organization.updated",
            handle=service.on_organization,
        ),
        # A public-opinion event about a policy: its supplementary interpretation (补充解读, issue 5 point 6).
        Handler(
            name="interpretation-opinion-escalated",
            subject="sentiment.event.escalated",
            handle=functools.partial(service.on_opinion_event, settings=settings),
        ),
        # An event detected already at the level (a staff flag such as 重大政策误读误解 before detection, or a first
        # batch that is already hot) is never "escalated" to it: it opens the task the same way.
        Handler(
            name="interpretation-opinion-detected",
            subject="sentiment.event.detected",
            handle=functools.partial(service.on_opinion_event, settings=settings),
        ),
        calendar_updated_handler(
            name="interpretation-calendar-updated", table=calendar_table, recompute=service.recompute_due_dates
        ),
    ]


def sweeps(settings: InterpretationSettings) -> list[Sweep]:
    async def deadlines(session: AsyncSession) -> None:
        await service.sweep_deadlines(
            session,
            due_soon_working_days=settings.due_soon_working_days,
            due_soon_hours=settings.supplementary_due_soon_hours,
        )

    return [Sweep(name="interpretation-deadlines", every_seconds=settings.deadline_sweep_seconds, run=deadlines)]


async def main(settings: InterpretationSettings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or InterpretationSettings()
    await run_worker(
        settings=settings, tables=event_tables, handlers=handlers(settings), sweeps=sweeps(settings), stop=stop
    )
