"""Catalog core (issue 3): organization details; categories (four columns, 条例 art. 20-21) and pilot areas
seeded as data; standard catalog entries; negative lists; item metadata, review, validity and the publication
clock; attachments; item history; 索引号 counters; table 二 figures; the 依申请转主动 suggestion queue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from gongkai_catalog.seeds import category_rows, pilot_area_rows
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    # Organizations: type, contact details, head (第一解读人).
    op.add_column("organizations", sa.Column("type", sa.String(20), server_default="department", nullable=False))
    op.alter_column("organizations", "type", server_default=None)
    for name, length in (
        ("address", 300),
        ("office_hours", 200),
        ("phone", 50),
        ("head_name", 100),
        ("head_title", 100),
    ):
        op.add_column("organizations", sa.Column(name, sa.String(length), nullable=True))
    op.create_index("ix_organizations_parent_id", "organizations", ["parent_id"])

    categories = op.create_table(
        "categories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key", sa.String(60), nullable=True),
        sa.Column("basis", sa.String(200), nullable=True),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
        sa.ForeignKeyConstraint(["parent_id"], ["categories.id"], name="fk_categories_parent_id_categories"),
        sa.UniqueConstraint("key", name="uq_categories_key"),
    )
    op.create_index("ix_categories_parent_id", "categories", ["parent_id"])

    pilot_areas = op.create_table(
        "pilot_areas",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_pilot_areas"),
        sa.UniqueConstraint("name", name="uq_pilot_areas_name"),
    )

    op.create_table(
        "catalog_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("pilot_area_id", sa.Uuid(), nullable=True),
        sa.Column("matter_level1", sa.String(200), nullable=False),
        sa.Column("matter_level2", sa.String(200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("time_limit", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(50), nullable=False),
        sa.Column("method", sa.String(50), nullable=False),
        sa.Column("level", sa.String(50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_entries"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name="fk_catalog_entries_organization_id_organizations"
        ),
        sa.ForeignKeyConstraint(
            ["pilot_area_id"], ["pilot_areas.id"], name="fk_catalog_entries_pilot_area_id_pilot_areas"
        ),
    )
    op.create_index("ix_catalog_entries_organization_id", "catalog_entries", ["organization_id"])

    op.create_table(
        "negative_terms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("term", sa.String(100), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("note", sa.String(300), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_negative_terms"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name="fk_negative_terms_organization_id_organizations"
        ),
        sa.UniqueConstraint("organization_id", "term", name="uq_negative_terms_organization_id_term"),
    )
    op.create_index("ix_negative_terms_organization_id", "negative_terms", ["organization_id"])

    # Items: statutory metadata, review, validity, the publication clock (条例 art. 12, 17, 26).
    op.add_column("items", sa.Column("category_id", sa.Uuid(), nullable=True))
    op.create_foreign_key("fk_items_category_id_categories", "items", "categories", ["category_id"], ["id"])
    op.create_index("ix_items_category_id", "items", ["category_id"])
    op.add_column("items", sa.Column("summary", sa.Text(), nullable=True))
    op.add_column("items", sa.Column("index_number", sa.String(40), nullable=True))
    op.create_unique_constraint("uq_items_index_number", "items", ["index_number"])
    op.add_column("items", sa.Column("publisher", sa.String(200), nullable=True))
    op.add_column("items", sa.Column("subject_category", sa.String(200), nullable=True))
    op.add_column(
        "items",
        sa.Column("keywords", postgresql.ARRAY(sa.String(50)), server_default=sa.text("'{}'"), nullable=False),
    )
    op.add_column("items", sa.Column("review_stage", sa.Integer(), nullable=True))
    op.add_column("items", sa.Column("formed_on", sa.Date(), nullable=True))
    op.add_column("items", sa.Column("abolish_on", sa.Date(), nullable=True))
    op.add_column("items", sa.Column("validity", sa.String(20), server_default="effective", nullable=False))
    op.add_column("items", sa.Column("validity_changed_on", sa.Date(), nullable=True))
    op.add_column("items", sa.Column("superseded_by_id", sa.Uuid(), nullable=True))
    op.create_foreign_key("fk_items_superseded_by_id_items", "items", "items", ["superseded_by_id"], ["id"])
    op.add_column("items", sa.Column("due_on", sa.Date(), nullable=True))
    op.create_index("ix_items_due_on", "items", ["due_on"])
    op.add_column("items", sa.Column("due_provisional", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("items", sa.Column("published_late", sa.Boolean(), nullable=True))
    op.add_column("items", sa.Column("due_soon_sent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("items", sa.Column("overdue_sent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_items_status", "items", ["status"])

    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(150), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_attachments_item_id_items", ondelete="CASCADE"),
    )
    op.create_index("ix_attachments_item_id", "attachments", ["item_id"])

    op.create_table(
        "item_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("stage", sa.String(40), nullable=True),
        sa.Column("decision", sa.String(40), nullable=True),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_item_history"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_item_history_item_id_items", ondelete="CASCADE"),
    )
    op.create_index("ix_item_history_item_id", "item_history", ["item_id"])

    op.create_table(
        "index_counters",
        sa.Column("agency_code", sa.String(18), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agency_code", "year", name="pk_index_counters"),
    )

    op.create_table(
        "annual_figures",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("licensing_decisions", sa.Integer(), nullable=True),
        sa.Column("penalty_decisions", sa.Integer(), nullable=True),
        sa.Column("enforcement_decisions", sa.Integer(), nullable=True),
        sa.Column("fee_amount", sa.Numeric(14, 4), nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("organization_id", "year", name="pk_annual_figures"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name="fk_annual_figures_organization_id_organizations"
        ),
    )

    op.create_table(
        "suggestions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("applicant_count", sa.Integer(), nullable=False),
        sa.Column("application_ids", postgresql.JSONB(), nullable=False),
        sa.Column("source_event_ids", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_suggestions"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_suggestions_item_id_items"),
    )
    op.create_index("ix_suggestions_organization_id", "suggestions", ["organization_id"])
    op.create_index("ix_suggestions_status", "suggestions", ["status"])

    # The default catalog tree and the pilot areas, as data the office edits (seeds.py).
    op.bulk_insert(categories, category_rows())
    op.bulk_insert(pilot_areas, pilot_area_rows())


def downgrade() -> None:
    op.drop_table("suggestions")
    op.drop_table("annual_figures")
    op.drop_table("index_counters")
    op.drop_table("item_history")
    op.drop_table("attachments")
    op.drop_index("ix_items_status", table_name="items")
    op.drop_index("ix_items_due_on", table_name="items")
    op.drop_constraint("fk_items_superseded_by_id_items", "items", type_="foreignkey")
    op.drop_constraint("uq_items_index_number", "items", type_="unique")
    op.drop_index("ix_items_category_id", table_name="items")
    op.drop_constraint("fk_items_category_id_categories", "items", type_="foreignkey")
    for name in (
        "category_id",
        "summary",
        "index_number",
        "publisher",
        "subject_category",
        "keywords",
        "review_stage",
        "formed_on",
        "abolish_on",
        "validity",
        "validity_changed_on",
        "superseded_by_id",
        "due_on",
        "due_provisional",
        "published_late",
        "due_soon_sent_at",
        "overdue_sent_at",
    ):
        op.drop_column("items", name)
    op.drop_table("negative_terms")
    op.drop_table("catalog_entries")
    op.drop_table("pilot_areas")
    op.drop_table("categories")
    op.drop_index("ix_organizations_parent_id", table_name="organizations")
    for name in ("type", "address", "office_hours", "phone", "head_name", "head_title"):
        op.drop_column("organizations", name)
