"""Annual report (政府信息公开工作年度报告, 条例 art. 49-50; issue 8 point 1): ``annual_reports`` (one per
organization and year: the figures of tables 二/三/四 as last fetched, sections 一 to 六, the catalog item it is
published as) and ``annual_report_deadlines`` (the art. 49 due date per organization and year, and when the
due-soon and overdue events were sent).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "annual_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("table2", postgresql.JSONB(), nullable=True),
        sa.Column("table3", postgresql.JSONB(), nullable=True),
        sa.Column("table4", postgresql.JSONB(), nullable=True),
        sa.Column("statistics_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_figures", postgresql.JSONB(), nullable=True),
        sa.Column("fees_collected", sa.Numeric(14, 2), nullable=True),
        sa.Column("fees_source", sa.String(20), nullable=True),
        sa.Column("sections", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("edited_sections", postgresql.ARRAY(sa.String(20)), nullable=False, server_default="{}"),
        sa.Column("corrections", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_annual_reports"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name="fk_annual_reports_organization_id_organizations"
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_annual_reports_item_id_items", ondelete="SET NULL"),
        sa.UniqueConstraint("organization_id", "year", name="uq_annual_reports_organization_id_year"),
    )
    op.create_table(
        "annual_report_deadlines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_soon_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_sent_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_annual_report_deadlines"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_annual_report_deadlines_organization_id_organizations",
        ),
        sa.UniqueConstraint("organization_id", "year", name="uq_annual_report_deadlines_organization_id_year"),
    )
    op.create_index("ix_annual_report_deadlines_due_on", "annual_report_deadlines", ["due_on"])


def downgrade() -> None:
    op.drop_table("annual_report_deadlines")
    op.drop_table("annual_reports")
