"""Search (issue 3 point 9): ``item_search``, one weighted tsvector per item with a GIN index, and the btree
indexes the filters and the date order use. Existing items are indexed here.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def upgrade() -> None:
    op.create_table(
        "item_search",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("validity", sa.String(20), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("sort_on", sa.Date(), nullable=False),
        sa.Column("document_number", sa.String(100), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name="pk_item_search"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_item_search_item_id_items", ondelete="CASCADE"),
    )
    _backfill()
    op.create_index("ix_item_search_tsv", "item_search", ["tsv"], postgresql_using="gin")
    op.create_index(
        "ix_item_search_status_sort", "item_search", ["status", sa.text("sort_on DESC"), sa.text("item_id DESC")]
    )
    op.create_index(
        "ix_item_search_org_kind_year_sort",
        "item_search",
        ["organization_id", "kind", "year", sa.text("sort_on DESC"), sa.text("item_id DESC")],
    )
    op.create_index(
        "ix_item_search_category_sort", "item_search", ["category_id", sa.text("sort_on DESC"), sa.text("item_id DESC")]
    )
    op.create_index("ix_item_search_document_number", "item_search", ["document_number"])


def _backfill() -> None:
    """Index the items that exist already, with the service's own tokenizer (rjieba, in Python)."""
    from gongkai_catalog.search import search_row

    bind = op.get_bind()
    last = None
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, organization_id, category_id, kind, status, validity, title, summary, body, "
                "document_number, keywords, published_on, written_on, formed_on, created_at FROM items "
                + ("WHERE id > :last " if last else "")
                + "ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        ids = [r.id for r in rows]
        texts: dict = {}
        for item_id, data in bind.execute(
            sa.text(
                "SELECT item_id, data FROM attachments WHERE item_id = ANY(:ids) AND content_type LIKE 'text/%' "
                "ORDER BY item_id, id"
            ),
            {"ids": ids},
        ):
            texts.setdefault(item_id, []).append(bytes(data[: 2 * 1024 * 1024]).decode("utf-8", errors="replace"))
        for r in rows:
            row = search_row(r, attachment_texts=texts.get(r.id, ()))
            bind.execute(
                sa.text(
                    "INSERT INTO item_search (item_id, organization_id, category_id, kind, status, validity, year, "
                    "published_on, sort_on, document_number, title, tsv) VALUES (:item_id, :organization_id, "
                    ":category_id, :kind, :status, :validity, :year, :published_on, :sort_on, :document_number, "
                    ":title, CAST(:tsv AS tsvector))"
                ),
                row,
            )
        last = ids[-1]


def downgrade() -> None:
    op.drop_table("item_search")
