"""The change sequence of ``item_search`` that the embedded tantivy index follows (gongkai_catalog/search_index*.py).

* ``item_search_state``: one row, ``last_seq`` (the number of the last committed change of ``item_search``) and
  ``index_id`` (a random id of this database, so that an index built from another database, or before a
  restore, is never taken for this one's).
* ``item_search_log``: ``(seq, item_id)`` of every changed row. A deleted row has its log entry like any other
  (its absence from ``item_search`` is its tombstone); ``TRUNCATE`` logs the nil id, "everything changed".
* A deferred constraint trigger numbers the changes at commit: the first change of a transaction takes
  ``last_seq + 1`` by updating the state row, so the row lock orders the numbers as the commits are ordered
  (a transaction that has not committed holds the lock: no later number can commit before it), and a
  rolled-back transaction leaves no gap. The lock is held only from the trigger, at commit, to the commit
  itself. A reader that sees ``last_seq = N`` therefore sees every change numbered up to N and no other, and
  the index is exactly as fresh as PostgreSQL when it has applied N. The trigger also notifies
  ``gk_catalog_search`` (delivered at commit) to wake the worker.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION item_search_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s bigint := nullif(current_setting('gongkai.item_search_seq', true), '')::bigint;
    changed uuid;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        changed := '00000000-0000-0000-0000-000000000000';
    ELSIF TG_OP = 'DELETE' THEN
        changed := OLD.item_id;
    ELSE
        changed := NEW.item_id;
    END IF;
    IF s IS NULL THEN
        UPDATE item_search_state SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq INTO s;
        PERFORM set_config('gongkai.item_search_seq', s::text, true);
        PERFORM pg_notify('gk_catalog_search', s::text);
    END IF;
    INSERT INTO item_search_log (seq, item_id) VALUES (s, changed) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "item_search_state",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("index_id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_item_search_state"),
        sa.CheckConstraint("id = 1", name="ck_item_search_state_one_row"),
    )
    op.execute("INSERT INTO item_search_state (id) VALUES (1)")
    op.create_table(
        "item_search_log",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("logged_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("seq", "item_id", name="pk_item_search_log"),
    )
    op.execute(FUNCTION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER item_search_changed AFTER INSERT OR UPDATE OR DELETE ON item_search "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION item_search_log_change()"
    )
    op.execute(
        "CREATE TRIGGER item_search_truncated AFTER TRUNCATE ON item_search "
        "FOR EACH STATEMENT EXECUTE FUNCTION item_search_log_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER item_search_truncated ON item_search")
    op.execute("DROP TRIGGER item_search_changed ON item_search")
    op.execute("DROP FUNCTION item_search_log_change()")
    op.drop_table("item_search_log")
    op.drop_table("item_search_state")
