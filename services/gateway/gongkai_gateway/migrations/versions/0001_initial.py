"""Initial: outbox, inbox, calendar years; users.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from gongkai_gateway.models import Base
from gongkai_shared.migrations import create_shared_tables
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out (not imported from models) so this revision stays what it was when it ran.
ROLES_VALID = "cardinality(roles) >= 1 AND roles <@ ARRAY['staff', 'reviewer', 'office', 'admin']::varchar[]"
DEPARTMENT_REQUIRED = "department_id IS NOT NULL OR NOT (roles && ARRAY['staff', 'reviewer']::varchar[])"
USERNAME_LENGTH = "char_length(username) BETWEEN 3 AND 64"


def upgrade() -> None:
    create_shared_tables("gateway", Base.metadata)
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(20)), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint(ROLES_VALID, name="ck_users_roles_valid"),
        sa.CheckConstraint(DEPARTMENT_REQUIRED, name="ck_users_department_required"),
        sa.CheckConstraint(USERNAME_LENGTH, name="ck_users_username_length"),
    )


def downgrade() -> None:
    op.drop_table("users")
