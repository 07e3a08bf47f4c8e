"""``item_search.text_digest``: a digest of what the search document is made from (title, 文号, 主题词, 内容概述,
body, text attachments, and the version of the segmentation), so that a change of an item that leaves its text
alone (a review step, publication, withdrawal, expiry) updates the row's other columns without segmenting the
text again. Rows written before this revision have none and get one at their next change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("item_search", sa.Column("text_digest", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("item_search", "text_digest")
