"""Public participation and supervision (issue 9): ``consultations`` (意见征集 on draft major decisions),
``consultation_points`` (主要观点 and their adoption), ``consultation_comments`` (public comments; contact
private), ``column_stale_flags`` (each staleness of a column announced once) and ``rectification_findings``
(问题整改清单, 销号管理). Models: gongkai_catalog/participation_models.py.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("draft_item_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("channels", sa.Text(), nullable=True),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("shortened_reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("closes_on", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report_due_on", sa.Date(), nullable=True),
        sa.Column("report_item_id", sa.Uuid(), nullable=True),
        sa.Column("report_published_on", sa.Date(), nullable=True),
        sa.Column("report_overdue_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_consultations"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name="fk_consultations_organization_id_organizations"
        ),
        sa.ForeignKeyConstraint(["draft_item_id"], ["items.id"], name="fk_consultations_draft_item_id_items"),
        sa.ForeignKeyConstraint(["report_item_id"], ["items.id"], name="fk_consultations_report_item_id_items"),
    )
    op.create_index("ix_consultations_organization_id", "consultations", ["organization_id"])
    op.create_index("ix_consultations_draft_item_id", "consultations", ["draft_item_id"])
    op.create_index("ix_consultations_status", "consultations", ["status"])
    op.create_index("ix_consultations_closes_on", "consultations", ["closes_on"])

    op.create_table(
        "consultation_points",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("adopted", sa.Boolean(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_consultation_points"),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name="fk_consultation_points_consultation_id_consultations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_consultation_points_consultation_id", "consultation_points", ["consultation_id"])

    op.create_table(
        "consultation_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("clause", sa.String(200), nullable=True),
        sa.Column("author_name", sa.String(100), nullable=True),
        sa.Column("contact", sa.String(200), nullable=True),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("findings", postgresql.JSONB(), nullable=False),
        sa.Column("rejection_reason", sa.String(20), nullable=True),
        sa.Column("moderation_note", sa.Text(), nullable=True),
        sa.Column("moderated_by", sa.String(200), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("point_id", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_consultation_comments"),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name="fk_consultation_comments_consultation_id_consultations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["point_id"],
            ["consultation_points.id"],
            name="fk_consultation_comments_point_id_consultation_points",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_consultation_comments_consultation_id", "consultation_comments", ["consultation_id"])
    op.create_index("ix_consultation_comments_status", "consultation_comments", ["status"])
    op.create_index("ix_consultation_comments_point_id", "consultation_comments", ["point_id"])

    op.create_table(
        "column_stale_flags",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("last_published_on", sa.Date(), nullable=False),
        sa.Column("flagged_on", sa.Date(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("organization_id", "category_id", name="pk_column_stale_flags"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name="fk_column_stale_flags_organization_id_organizations"
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name="fk_column_stale_flags_category_id_categories"
        ),
    )

    op.create_table(
        "rectification_findings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("source_reference", sa.String(300), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("requirement", sa.Text(), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answered_by", sa.String(200), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("overdue_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("history", postgresql.JSONB(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_rectification_findings"),
        sa.ForeignKeyConstraint(
            ["department_id"], ["organizations.id"], name="fk_rectification_findings_department_id_organizations"
        ),
    )
    op.create_index("ix_rectification_findings_department_id", "rectification_findings", ["department_id"])
    op.create_index("ix_rectification_findings_found_on", "rectification_findings", ["found_on"])
    op.create_index("ix_rectification_findings_deadline", "rectification_findings", ["deadline"])
    op.create_index("ix_rectification_findings_status", "rectification_findings", ["status"])


def downgrade() -> None:
    op.drop_table("rectification_findings")
    op.drop_table("column_stale_flags")
    op.drop_table("consultation_comments")
    op.drop_table("consultation_points")
    op.drop_table("consultations")
