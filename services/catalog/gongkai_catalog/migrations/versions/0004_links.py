"""Links from other services (issue 3 point 8; issue 5 point 6): ``items.origin``/``origin_id`` (the system an
item was published from and its id there, unique together: a redelivered event publishes nothing twice) and
``item_links`` (an interpretation and its policy, 双向关联).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("origin", sa.String(40), nullable=True))
    op.add_column("items", sa.Column("origin_id", sa.Uuid(), nullable=True))
    op.create_unique_constraint("uq_items_origin_origin_id", "items", ["origin", "origin_id"])
    op.create_table(
        "item_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("relation", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_item_links"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_item_links_item_id_items", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["target_id"], ["items.id"], name="fk_item_links_target_id_items", ondelete="CASCADE"),
        sa.UniqueConstraint("item_id", "target_id", "relation", name="uq_item_links_item_id_target_id_relation"),
    )
    op.create_index("ix_item_links_item_id", "item_links", ["item_id"])
    op.create_index("ix_item_links_target_id", "item_links", ["target_id"])


def downgrade() -> None:
    op.drop_table("item_links")
    op.drop_constraint("uq_items_origin_origin_id", "items", type_="unique")
    op.drop_column("items", "origin_id")
    op.drop_column("items", "origin")
