import asyncio

from gongkai_shared.service import run_worker

from gongkai_gateway.models import event_tables
from gongkai_gateway.settings import GatewaySettings


async def main(settings: GatewaySettings | None = None, stop: asyncio.Event | None = None) -> None:
    """The outbox relay (publishes ``gateway.calendar.updated``); webhook delivery comes with its issue."""
    await run_worker(settings=settings or GatewaySettings(), tables=event_tables, stop=stop)
