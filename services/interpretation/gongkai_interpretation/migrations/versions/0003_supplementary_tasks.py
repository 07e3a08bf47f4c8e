"""Supplementary interpretations (补充解读, issue 5 point 6): a task kind (regular | supplementary); one
regular task per policy and one supplementary task per (policy, public-opinion event) instead of one
task per policy; the opinion event and the hour-based deadline (国办发〔2016〕61号) on the task; opinion
events waiting for a policy this service does not hold yet.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_TASK_COLUMNS = [
    sa.Column("kind", sa.String(20), server_default="regular", nullable=False),
    sa.Column("opinion_event_id", sa.Uuid(), nullable=True),
    sa.Column("opinion_event", postgresql.JSONB(), nullable=True),
    sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("due_hours", sa.Float(), nullable=True),
]


def upgrade() -> None:
    for column in _NEW_TASK_COLUMNS:
        op.add_column("tasks", column)
    # A supplementary task is due in hours, not working days.
    op.alter_column("tasks", "due_working_days", nullable=True)
    op.drop_constraint("uq_tasks_policy_item_id", "tasks", type_="unique")
    op.create_index(
        "uq_tasks_regular_policy_item_id",
        "tasks",
        ["policy_item_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'regular'"),
    )
    op.create_index(
        "uq_tasks_supplementary_policy_item_id_opinion_event_id",
        "tasks",
        ["policy_item_id", "opinion_event_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'supplementary'"),
    )
    op.create_index("ix_tasks_opinion_event_id", "tasks", ["opinion_event_id"])
    op.create_check_constraint(
        op.f("ck_tasks_supplementary_has_event"),
        "tasks",
        "(kind = 'supplementary') = (opinion_event_id IS NOT NULL AND due_at IS NOT NULL)",
    )
    op.create_table(
        "pending_supplementary",
        sa.Column("opinion_event_id", sa.Uuid(), nullable=False),
        sa.Column("policy_item_id", sa.Uuid(), nullable=False),
        sa.Column("risk_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_hours", sa.Float(), nullable=False),
        sa.Column("opinion_event", postgresql.JSONB(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("opinion_event_id", name="pk_pending_supplementary"),
    )
    op.create_index("ix_pending_supplementary_policy_item_id", "pending_supplementary", ["policy_item_id"])


def downgrade() -> None:
    op.drop_table("pending_supplementary")
    # Supplementary tasks cannot live under one-task-per-policy: they go with the schema that allows them.
    op.execute("DELETE FROM tasks WHERE kind = 'supplementary'")
    op.drop_constraint(op.f("ck_tasks_supplementary_has_event"), "tasks", type_="check")
    op.drop_index("ix_tasks_opinion_event_id", "tasks")
    op.drop_index("uq_tasks_supplementary_policy_item_id_opinion_event_id", "tasks")
    op.drop_index("uq_tasks_regular_policy_item_id", "tasks")
    op.create_unique_constraint("uq_tasks_policy_item_id", "tasks", ["policy_item_id"])
    op.alter_column("tasks", "due_working_days", nullable=False)
    for column in reversed(_NEW_TASK_COLUMNS):
        op.drop_column("tasks", column.name)
