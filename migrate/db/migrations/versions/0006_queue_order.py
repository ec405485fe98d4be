"""queue order: drafts carry their document's receipt time; one covering index orders the queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("drafts", sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    documents = sa.table("documents", sa.column("id", sa.Integer), sa.column("received_at", sa.DateTime))
    drafts = sa.table("drafts", sa.column("document_id", sa.Integer), sa.column("received_at", sa.DateTime))
    op.execute(
        drafts.update().values(
            received_at=sa.select(documents.c.received_at)
            .where(documents.c.id == drafts.c.document_id)
            .scalar_subquery()
        )
    )
    op.drop_index("ix_drafts_queue", table_name="drafts")
    op.create_index("ix_drafts_queue", "drafts", ["status", "priority", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_drafts_queue", table_name="drafts")
    op.create_index("ix_drafts_queue", "drafts", ["status", "priority"])
    op.drop_column("drafts", "received_at")
