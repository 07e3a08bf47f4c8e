"""Gateway tables: users (who may sign in), the canonical calendar years, outbox and inbox.

API keys, rate limits and webhook subscriptions (architecture.md, "The edge") come with a later issue.
"""

from __future__ import annotations

import uuid

from gongkai_shared.auth import Role
from gongkai_shared.calendar_store import define_calendar_table
from gongkai_shared.db import IdMixin, TimestampMixin, make_metadata
from gongkai_shared.events import define_event_tables
from sqlalchemy import Boolean, CheckConstraint, String, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["ASSIGNABLE_ROLES", "DEPARTMENT_ROLES", "Base", "User", "calendar_table", "event_tables"]


class Base(DeclarativeBase):
    metadata = make_metadata()


event_tables = define_event_tables(Base.metadata)
#: The canonical list of loaded years: the office loads a year here and every service follows
#: ``gateway.calendar.updated`` (domain.md §6).
calendar_table = define_calendar_table(Base.metadata)

#: Roles a person can hold. ``public`` is the anonymous caller and ``system`` an API key: neither
#: is a user account.
ASSIGNABLE_ROLES = (Role.staff, Role.reviewer, Role.office, Role.admin)
#: Roles that act only for their own department, so the account must name one.
DEPARTMENT_ROLES = (Role.staff, Role.reviewer)


def _sql_array(roles: tuple[Role, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{r.value}'" for r in roles) + "]::varchar[]"


#: The same rules as the schemas, kept by the database too (the CLI and a later admin tool write here).
ROLES_VALID = f"cardinality(roles) >= 1 AND roles <@ {_sql_array(ASSIGNABLE_ROLES)}"
DEPARTMENT_REQUIRED = f"department_id IS NOT NULL OR NOT (roles && {_sql_array(DEPARTMENT_ROLES)})"
USERNAME_LENGTH = "char_length(username) BETWEEN 3 AND 64"


class User(IdMixin, TimestampMixin, Base):
    """A person who signs in at the gateway: staff, reviewer, disclosure office or administrator."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(ROLES_VALID, name="roles_valid"),
        CheckConstraint(DEPARTMENT_REQUIRED, name="department_required"),
        CheckConstraint(USERNAME_LENGTH, name="username_length"),
    )

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    department_id: Mapped[uuid.UUID | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
