"""Initial: outbox, inbox, calendar years; interpretation tasks (walking skeleton).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from gongkai_interpretation.models import Base
from gongkai_shared.migrations import create_shared_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_shared_tables("interpretation", Base.metadata)
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("policy_item_id", sa.Uuid(), nullable=False),
        sa.Column("policy_title", sa.String(500), nullable=False),
        sa.Column("policy_document_number", sa.String(100), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("due_working_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.UniqueConstraint("policy_item_id", name="uq_tasks_policy_item_id"),
    )
    op.create_index("ix_tasks_organization_id", "tasks", ["organization_id"])


def downgrade() -> None:
    op.drop_table("tasks")
