"""Ingestion in sets (issue 6 benchmark): a generation row that serialises changes to posts and events and tells
each process what its in-memory index missed; generation columns on posts and events; the near-duplicate index
moves into the processes' memory (loaded from first posts' signatures), so the post_bands table goes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_state",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("instance", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_state")),
    )
    op.execute(
        sa.text("INSERT INTO ingest_state (id, instance, generation, token) VALUES (1, :i, 1, :t)").bindparams(
            i=uuid.uuid4(), t=uuid.uuid4()
        )
    )
    # Adding a column with a constant default rewrites nothing (PostgreSQL 11+).
    op.add_column("posts", sa.Column("generation", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
    op.add_column(
        "opinion_events", sa.Column("generation", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
    )
    op.create_index(op.f("ix_opinion_events_generation"), "opinion_events", ["generation"], unique=False)
    op.create_index(
        "ix_posts_first_posted_at",
        "posts",
        ["posted_at"],
        unique=False,
        postgresql_where=sa.text("signature IS NOT NULL"),
    )
    op.create_index(
        "ix_posts_first_generation",
        "posts",
        ["generation"],
        unique=False,
        postgresql_where=sa.text("signature IS NOT NULL"),
    )
    op.drop_index(op.f("ix_post_bands_posted_at"), table_name="post_bands")
    op.drop_table("post_bands")


def downgrade() -> None:
    op.create_table(
        "post_bands",
        sa.Column("band", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("band", "post_id", name=op.f("pk_post_bands")),
    )
    op.create_index(op.f("ix_post_bands_posted_at"), "post_bands", ["posted_at"], unique=False)
    # Refill the bands of the last week's first posts (the 0002 code looks them up there).
    from gongkai_sentiment.similarity import band_keys

    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, signature, posted_at FROM posts"
            " WHERE signature IS NOT NULL AND posted_at >= now() - interval '8 days'"
        )
    ).all()
    bands = [{"b": b, "p": r.id, "t": r.posted_at} for r in rows for b in set(band_keys(r.signature))]
    if bands:
        bind.execute(sa.text("INSERT INTO post_bands (band, post_id, posted_at) VALUES (:b, :p, :t)"), bands)
    op.drop_index("ix_posts_first_generation", table_name="posts")
    op.drop_index("ix_posts_first_posted_at", table_name="posts")
    op.drop_index(op.f("ix_opinion_events_generation"), table_name="opinion_events")
    op.drop_column("opinion_events", "generation")
    op.drop_column("posts", "generation")
    op.drop_table("ingest_state")
