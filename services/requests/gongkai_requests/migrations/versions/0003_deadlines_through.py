"""Applications: ``deadlines_through`` (the latest date any stored deadline reaches) and a partial index of
the open applications on it, so that a calendar change recomputes only the applications it can touch.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 19:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("applications", sa.Column("deadlines_through", sa.Date(), nullable=True))
    # The stored deadlines (JSON) already say how far each computation went.
    op.execute(
        "UPDATE applications SET deadlines_through = ("
        "SELECT max((d ->> 'due_on')::date) FROM jsonb_array_elements(deadlines) AS d)"
    )
    op.create_index(
        "ix_applications_open_deadlines_through",
        "applications",
        ["deadlines_through"],
        unique=False,
        postgresql_where=sa.text("status <> 'closed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_applications_open_deadlines_through", table_name="applications")
    op.drop_column("applications", "deadlines_through")
