import asyncio
import functools

from gongkai_shared.calendar_store import calendar_updated_handler
from gongkai_shared.events import Handler
from gongkai_shared.service import Sweep, run_worker
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_sentiment import service
from gongkai_sentiment.classifier import load_model
from gongkai_sentiment.models import calendar_table, event_tables
from gongkai_sentiment.settings import SentimentSettings
from gongkai_sentiment.state import freeze_startup_objects


def handlers(settings: SentimentSettings) -> list[Handler]:
    return [
        Handler(
            name="sentiment-ingest-posts",
            subject="sentiment.ingest.posts",
            handle=functools.partial(service.on_ingest_posts, settings=settings),
        ),
        Handler(
            name="sentiment-application-received",
            subject="requests.application.received",
            handle=functools.partial(service.on_application_received, settings=settings),
        ),
        Handler(
            name="sentiment-topic-repeated",
            subject="requests.topic.repeated",
            handle=functools.partial(service.on_topic_repeated, settings=settings),
        ),
        Handler(
            name="sentiment-organization-created",
            subject="catalog.organization.created",
            handle=service.on_organization,
        ),
        Handler(
            name="sentiment-organization-updated",
            subject="catalog.organization.updated",
            handle=service.on_organization,
        ),
        Handler(name="sentiment-item-published", subject="catalog.item.published", handle=service.on_item_published),
        Handler(
            name="sentiment-policy-published", subject="catalog.policy.published", handle=service.on_item_published
        ),
        calendar_updated_handler(name="sentiment-calendar-updated", table=calendar_table),
    ]


def sweeps(settings: SentimentSettings) -> list[Sweep]:
    async def responses(session: AsyncSession) -> None:
        await service.sweep_responses(session, settings=settings)

    async def accounts(session: AsyncSession) -> None:
        await service.sweep_accounts(session, settings=settings)

    async def retention(session: AsyncSession) -> None:
        await service.sweep_retention(session, settings=settings)

    return [
        Sweep(name="sentiment-responses", every_seconds=settings.sweep_seconds, run=responses),
        Sweep(name="sentiment-accounts", every_seconds=settings.sweep_seconds * 10, run=accounts),
        Sweep(name="sentiment-retention", every_seconds=3600, run=retention),
    ]


async def main(settings: SentimentSettings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or SentimentSettings()
    # Connectors' posts are ingested here too: the model loaded and the libraries' objects out of full GC passes.
    model = await asyncio.to_thread(load_model)
    _ = model.compiled, model.topic_compiled
    freeze_startup_objects()
    await run_worker(
        settings=settings, tables=event_tables, handlers=handlers(settings), sweeps=sweeps(settings), stop=stop
    )
