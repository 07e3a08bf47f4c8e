"""The annual statistics read an index, not the department's rows: one index on (department, the day an
application was concluded — reply, else closing, else never) carrying the columns tables 三 counts by, and one on
(department, filing date) for table 四's cases.

Measured with bench/requests.py (1,000,000 applications): the largest department-year took 2.4 s as bitmap heap
scans over every row of the department; as an index-only range it stays well under the 1 s target.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_applications_statistics",
        "applications",
        ["department_id", sa.text("coalesce(replied_on, closed_on, 'infinity'::date)")],
        unique=False,
        postgresql_include=["received_on", "replied_on", "closed_on", "applicant_type", "applicant_kind", "outcome"],
    )
    op.create_index(
        "ix_remedies_department_filed",
        "remedies",
        ["department_id", "filed_on"],
        unique=False,
        postgresql_include=["kind", "result", "concluded_on"],
    )


def downgrade() -> None:
    op.drop_index("ix_remedies_department_filed", table_name="remedies")
    op.drop_index("ix_applications_statistics", table_name="applications")
