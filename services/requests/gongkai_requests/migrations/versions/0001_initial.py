"""Initial: outbox, inbox, calendar years.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from gongkai_requests.models import Base
from gongkai_shared.migrations import create_shared_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_shared_tables("requests", Base.metadata)


def downgrade() -> None:
    pass
