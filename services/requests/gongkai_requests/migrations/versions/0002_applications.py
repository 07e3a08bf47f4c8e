"""Applications (依申请公开): ledger, correspondence (送达), fees, remedies, transfers, organizations,
access log, deadline and topic signals, published items.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:19:27.631469
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_department_id", sa.Uuid(), nullable=True),
        sa.Column("roles", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index(op.f("ix_access_log_application_id"), "access_log", ["application_id"], unique=False)
    op.create_table(
        "applications",
        sa.Column("tracking_code", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "online",
                "letter_signed",
                "letter_ordinary",
                "in_person",
                "fax",
                "oral",
                name="channel",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column(
            "applicant_type",
            sa.Enum("natural_person", "legal_person", name="applicant_type", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "applicant_kind",
            sa.Enum(
                "commercial",
                "research",
                "public_welfare",
                "legal_services",
                "other",
                name="organization_kind",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column(
            "id_type",
            sa.Enum(
                "resident_id",
                "residence_permit",
                "passport",
                "hk_macao_pass",
                "taiwan_pass",
                "other",
                name="id_type",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("id_number", sa.String(length=40), nullable=True),
        sa.Column("organization_code", sa.String(length=18), nullable=True),
        sa.Column("legal_representative", sa.String(length=100), nullable=True),
        sa.Column("contact_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("postal_code", sa.String(length=10), nullable=True),
        sa.Column("identity_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("document_number", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "wanted_form",
            sa.Enum("paper", "electronic", "disc", "disk", "other", name="wanted_form", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "delivery_method",
            sa.Enum(
                "post",
                "email",
                "fax",
                "pickup",
                "on_site",
                "online",
                name="delivery_method",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("submitted_on", sa.Date(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("confirmed_on", sa.Date(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("receipt_note", sa.Text(), nullable=False),
        sa.Column("registered_by", sa.String(length=200), nullable=True),
        sa.Column("oral_difficulty", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "processing",
                "awaiting_correction",
                "awaiting_fee",
                "decided",
                "replied",
                "closed",
                name="application_status",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("outcome_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("replied_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("repeat_of_id", sa.Uuid(), nullable=True),
        sa.Column("published_match", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("reply_due_on", sa.Date(), nullable=True),
        sa.Column("reply_due_provisional", sa.Boolean(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("clock_paused", sa.Boolean(), nullable=False),
        sa.Column("sort_due_on", sa.Date(), nullable=False),
        sa.Column("deadlines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("channel", "idempotency_key", name=op.f("uq_applications_channel_idempotency_key")),
        sa.UniqueConstraint("tracking_code", name=op.f("uq_applications_tracking_code")),
    )
    op.create_index(
        "ix_applications_department_received", "applications", ["department_id", "received_on"], unique=False
    )
    op.create_index("ix_applications_identity_received", "applications", ["identity_hash", "received_on"], unique=False)
    op.create_index("ix_applications_office_worklist", "applications", ["status", "sort_due_on", "id"], unique=False)
    op.create_index(
        "ix_applications_worklist", "applications", ["department_id", "status", "sort_due_on", "id"], unique=False
    )
    op.create_table(
        "deadline_signals",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("deadline_key", sa.String(length=80), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("signal", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("application_id", "deadline_key", "due_on", "signal", name=op.f("pk_deadline_signals")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=18), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "published_items",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("document_number", sa.String(length=100), nullable=True),
        sa.Column("index_number", sa.String(length=60), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_published_items")),
    )
    op.create_index(op.f("ix_published_items_organization_id"), "published_items", ["organization_id"], unique=False)
    op.create_table(
        "topic_signals",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("application_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_signals")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_topic_signals_fingerprint")),
    )
    op.create_table(
        "correspondence",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column(
            "direction", sa.Enum("incoming", "outgoing", name="direction", native_enum=False, length=10), nullable=False
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "post_signed",
                "post_ordinary",
                "email",
                "fax",
                "in_person",
                "online",
                name="letter_channel",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "purpose",
            sa.Enum(
                "application",
                "corrected_application",
                "correction_notice",
                "extension_notice",
                "consultation",
                "consultation_answer",
                "fee_notice",
                "reply",
                "other",
                name="letter_purpose",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("tracking_number", sa.String(length=60), nullable=True),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("delivered_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_correspondence_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correspondence")),
    )
    op.create_index(op.f("ix_correspondence_application_id"), "correspondence", ["application_id"], unique=False)
    op.create_table(
        "fees",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("quote", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("noticed_on", sa.Date(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("paid_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_fees_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fees")),
        sa.UniqueConstraint("application_id", name=op.f("uq_fees_application_id")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "received",
                "correction_requested",
                "corrected_received",
                "third_party_consulted",
                "third_party_answered",
                "agency_consulted",
                "agency_answered",
                "extension_approved",
                "fee_notice_sent",
                "fee_paid",
                "later_deadline_set",
                "reply_sent",
                "closed",
                name="entry_kind",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=True),
        sa.Column("ref", sa.Uuid(), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("delivered_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_ledger_entries_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("application_id", "seq", name=op.f("uq_ledger_entries_application_id_seq")),
    )
    op.create_table(
        "remedies",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("review", "suit_direct", "suit_after_review", name="remedy_kind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("case_number", sa.String(length=100), nullable=True),
        sa.Column(
            "result",
            sa.Enum("upheld", "corrected", "other", "pending", name="remedy_result", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("concluded_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_remedies_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remedies")),
    )
    op.create_index(op.f("ix_remedies_application_id"), "remedies", ["application_id"], unique=False)
    op.create_index(op.f("ix_remedies_department_id"), "remedies", ["department_id"], unique=False)
    op.create_table(
        "transfers",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("from_department_id", sa.Uuid(), nullable=False),
        sa.Column("to_department_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_transfers_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    op.create_index(op.f("ix_transfers_application_id"), "transfers", ["application_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_transfers_application_id"), table_name="transfers")
    op.drop_table("transfers")
    op.drop_index(op.f("ix_remedies_department_id"), table_name="remedies")
    op.drop_index(op.f("ix_remedies_application_id"), table_name="remedies")
    op.drop_table("remedies")
    op.drop_table("ledger_entries")
    op.drop_table("fees")
    op.drop_index(op.f("ix_correspondence_application_id"), table_name="correspondence")
    op.drop_table("correspondence")
    op.drop_table("topic_signals")
    op.drop_index(op.f("ix_published_items_organization_id"), table_name="published_items")
    op.drop_table("published_items")
    op.drop_table("organizations")
    op.drop_table("deadline_signals")
    op.drop_index("ix_applications_worklist", table_name="applications")
    op.drop_index("ix_applications_office_worklist", table_name="applications")
    op.drop_index("ix_applications_identity_received", table_name="applications")
    op.drop_index("ix_applications_department_received", table_name="applications")
    op.drop_table("applications")
    op.drop_index(op.f("ix_access_log_application_id"), table_name="access_log")
    op.drop_table("access_log")
