"""The worker's share of public participation and supervision (issue 9): sweeps and a handler, listed in
worker.py with one line each."""

from __future__ import annotations

from gongkai_shared.events import Handler
from gongkai_shared.service import Sweep
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_catalog import freshness, participation, rectification
from gongkai_catalog.settings import CatalogSettings

__all__ = ["participation_handlers", "participation_sweeps"]


def participation_sweeps(settings: CatalogSettings) -> list[Sweep]:
    """Consultation periods that ended and overdue feedback reports; stale columns (国办秘函〔2019〕19号); overdue
    rectification findings. Each event is sent once."""

    async def consultations(session: AsyncSession) -> None:
        await participation.consultation_sweep(session)

    async def columns(session: AsyncSession) -> None:
        await freshness.freshness_sweep(session, settings=settings)

    async def findings(session: AsyncSession) -> None:
        await rectification.overdue_sweep(session)

    return [
        Sweep(name="catalog-consultations", every_seconds=settings.sweep_seconds, run=consultations),
        # Staleness is counted in days: every 10 sweeps is plenty (it reads every column of every organization).
        Sweep(name="catalog-column-freshness", every_seconds=settings.sweep_seconds * 10, run=columns),
        Sweep(name="catalog-rectification-overdue", every_seconds=settings.sweep_seconds, run=findings),
    ]


def participation_handlers(settings: CatalogSettings) -> list[Handler]:
    """A published feedback report (an item whose origin is a consultation) is recorded and announced."""
    del settings
    return [
        Handler(
            name="catalog-consultation-report-published",
            subject="catalog.item.published",
            handle=participation.on_item_published,
        )
    ]
