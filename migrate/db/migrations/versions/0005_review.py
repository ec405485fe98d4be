"""review: users, sessions, append-only audit trail, claims, decisions, verified clinical rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERIFIED = {
    "patient_encounters": [
        sa.Column("date", sa.String(length=10), nullable=True),
        sa.Column("provider", sa.String(length=128), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
    ],
    "patient_diagnoses": [
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("negated", sa.Boolean(), nullable=False),
        sa.Column("temporality", sa.String(length=16), nullable=False),
        sa.Column("experiencer", sa.String(length=16), nullable=False),
    ],
    "patient_procedures": [
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("date", sa.String(length=10), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=True),
    ],
    "patient_medications": [
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("dose", sa.String(length=64), nullable=True),
        sa.Column("route", sa.String(length=32), nullable=True),
        sa.Column("frequency", sa.String(length=32), nullable=True),
    ],
    "patient_allergies": [
        sa.Column("substance", sa.String(length=128), nullable=True),
        sa.Column("reaction", sa.String(length=128), nullable=True),
    ],
}


def upgrade() -> None:
    op.add_column("drafts", sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("drafts", sa.Column("reasons", sa.JSON(), nullable=False, server_default="[]"))
    op.create_index("ix_drafts_queue", "drafts", ["status", "priority"])
    _backfill_triage()
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_object", "audit_events", ["object"])
    op.create_index("ix_audit_events_username", "audit_events", ["username"])
    _append_only("audit_events")
    op.create_table(
        "review_claims",
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("draft_id"),
    )
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["mpi_patients.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_decisions_draft_id", "review_decisions", ["draft_id"])
    for table, columns in _VERIFIED.items():
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("patient_id", sa.Integer(), nullable=False),
            sa.Column("document_id", sa.Integer(), nullable=False),
            sa.Column("page", sa.Integer(), nullable=True),
            sa.Column("decision_id", sa.Integer(), nullable=False),
            *columns,
            sa.ForeignKeyConstraint(["decision_id"], ["review_decisions.id"]),
            sa.ForeignKeyConstraint(["document_id"], ["documents.id"]),
            sa.ForeignKeyConstraint(["patient_id"], ["mpi_patients.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(f"ix_{table}_patient_id", table, ["patient_id"])
        op.create_index(f"ix_{table}_document_id", table, ["document_id"])


def _append_only(table: str) -> None:
    """No UPDATE or DELETE may touch the table, whatever code (or person with SQL) tries."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _backfill_triage() -> None:
    from migrate.review import triage

    bind = op.get_bind()
    drafts = sa.table(
        "drafts", sa.column("id", sa.Integer), sa.column("document_id", sa.Integer), sa.column("data", sa.JSON),
        sa.column("priority", sa.Integer), sa.column("reasons", sa.JSON),
    )  # fmt: skip
    documents = sa.table("documents", sa.column("id", sa.Integer), sa.column("ocr_confidence", sa.Float))
    rows = bind.execute(
        sa.select(drafts.c.id, drafts.c.data, documents.c.ocr_confidence).join(
            documents, documents.c.id == drafts.c.document_id
        )
    ).all()
    for draft_id, data, confidence in rows:
        priority, reasons = triage(data or {}, confidence)
        bind.execute(drafts.update().where(drafts.c.id == draft_id).values(priority=priority, reasons=reasons))


def downgrade() -> None:
    for table in reversed(list(_VERIFIED)):
        op.drop_table(table)
    op.drop_table("review_decisions")
    op.drop_table("review_claims")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.drop_table("audit_events")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("users")
    op.drop_index("ix_drafts_queue", table_name="drafts")
    op.drop_column("drafts", "reasons")
    op.drop_column("drafts", "priority")
