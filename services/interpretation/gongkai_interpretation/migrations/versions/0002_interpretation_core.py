"""Interpretation core (issue 5): task assignment (第一解读人), early registration (三同步), content
(text, forms, Q&A), draft, clause differences, quality check, publication, deadline notices; task
history; organizations as the catalog announces them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_TASK_COLUMNS = [
    sa.Column("policy_kind", sa.String(60), nullable=True),
    sa.Column("policy_body", sa.Text(), nullable=True),
    sa.Column("supersedes_item_id", sa.Uuid(), nullable=True),
    sa.Column("policy_reference", sa.String(200), nullable=True),
    sa.Column("registered_early", sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column("head_name", sa.String(100), nullable=True),
    sa.Column("head_title", sa.String(100), nullable=True),
    sa.Column("head_set_by_staff", sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column("drafter", sa.String(100), nullable=True),
    sa.Column("title", sa.String(500), nullable=True),
    sa.Column("text", sa.Text(), server_default="", nullable=False),
    sa.Column("forms", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column("qa_pairs", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column("non_text_forms", sa.Integer(), server_default="0", nullable=False),
    sa.Column("draft", postgresql.JSONB(), nullable=True),
    sa.Column("differences", postgresql.JSONB(), nullable=True),
    sa.Column("quality_score", sa.Integer(), nullable=True),
    sa.Column("quality", postgresql.JSONB(), nullable=True),
    sa.Column("override_reason", sa.Text(), nullable=True),
    sa.Column("override_by", sa.String(200), nullable=True),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("interpretation_published_on", sa.Date(), nullable=True),
    sa.Column("due_soon_notified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True),
]


def upgrade() -> None:
    # An interpretation registered before its policy (三同步) has no policy, publication date or due date yet.
    for column in ("policy_item_id", "published_on", "due_on"):
        op.alter_column("tasks", column, nullable=True)
    for column in _NEW_TASK_COLUMNS:
        op.add_column("tasks", column)
    op.create_index("ix_tasks_policy_document_number", "tasks", ["policy_document_number"])
    op.create_index("ix_tasks_policy_reference", "tasks", ["policy_reference"])
    op.create_index("ix_tasks_status_due_on", "tasks", ["status", "due_on"])
    op.create_table(
        "task_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=True),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_task_history"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_task_history_task_id_tasks", ondelete="CASCADE"),
    )
    op.create_index("ix_task_history_task_id", "task_history", ["task_id"])
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("head_name", sa.String(100), nullable=True),
        sa.Column("head_title", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
    )


def downgrade() -> None:
    op.drop_table("organizations")
    op.drop_table("task_history")
    op.drop_index("ix_tasks_status_due_on", "tasks")
    op.drop_index("ix_tasks_policy_reference", "tasks")
    op.drop_index("ix_tasks_policy_document_number", "tasks")
    for column in reversed(_NEW_TASK_COLUMNS):
        op.drop_column("tasks", column.name)
    op.execute("DELETE FROM tasks WHERE policy_item_id IS NULL OR published_on IS NULL OR due_on IS NULL")
    for column in ("policy_item_id", "published_on", "due_on"):
        op.alter_column("tasks", column, nullable=False)
