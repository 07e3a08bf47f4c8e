"""Search speed (issue 3 benchmark): ``item_search.head`` (the A and B parts of the search document) for ranking,
the big ``tsv`` stored out of line when a row exceeds the TOAST threshold, and the facet columns carried in
the btree indexes of the filtered lists so that those lists are index-only scans.

* ``head``: ``ts_filter(tsv, '{a,b}')`` (title, 文号, 主题词, 内容概述 with their positions and weights), kept
  inline (``STORAGE MAIN``). Relevance is ``ts_rank`` over it: a few lexemes per row instead of ~85, so ranking
  ~20k matches costs a few ms instead of ~250 ms (``ts_rank_cd`` over the whole vector).
* ``tsv``: ``STORAGE EXTERNAL`` and ``toast_tuple_target = 1024``: when a row passes PostgreSQL's TOAST threshold
  (~2 KB, which every document of more than a page or so does) its tsvector moves to the TOAST table, and the
  heap row that the facet counts visit keeps the facet columns and ``head``. Rows under ~2 KB stay as they are
  (PostgreSQL 15 toasts only past the compile-time threshold, whatever ``toast_tuple_target`` says). Only the
  GIN index reads ``tsv``; search never detoasts it (the rank uses ``head``).
* The three list indexes INCLUDE the facet and visibility columns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (name, key columns, included columns) of the list indexes after this revision.
LIST_INDEXES = (
    (
        "ix_item_search_status_sort",
        ["status", sa.text("sort_on DESC"), sa.text("item_id DESC")],
        ["organization_id", "category_id", "kind", "year", "validity"],
    ),
    (
        "ix_item_search_org_kind_year_sort",
        ["organization_id", "kind", "year", sa.text("sort_on DESC"), sa.text("item_id DESC")],
        ["category_id", "validity", "status"],
    ),
    (
        "ix_item_search_category_sort",
        ["category_id", sa.text("sort_on DESC"), sa.text("item_id DESC")],
        ["organization_id", "kind", "year", "validity", "status"],
    ),
)


def upgrade() -> None:
    op.add_column("item_search", sa.Column("head", postgresql.TSVECTOR(), nullable=True))
    op.execute("UPDATE item_search SET head = ts_filter(tsv, '{a,b}')")
    op.alter_column("item_search", "head", nullable=False)
    op.execute("ALTER TABLE item_search ALTER COLUMN head SET STORAGE MAIN")
    op.execute("ALTER TABLE item_search ALTER COLUMN tsv SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE item_search SET (toast_tuple_target = 1024)")
    for name, columns, include in LIST_INDEXES:
        op.drop_index(name, table_name="item_search")
        op.create_index(name, "item_search", columns, postgresql_include=include)


def downgrade() -> None:
    for name, columns, _ in LIST_INDEXES:
        op.drop_index(name, table_name="item_search")
        op.create_index(name, "item_search", columns)
    op.execute("ALTER TABLE item_search RESET (toast_tuple_target)")
    op.execute("ALTER TABLE item_search ALTER COLUMN tsv SET STORAGE EXTENDED")
    op.drop_column("item_search", "head")
