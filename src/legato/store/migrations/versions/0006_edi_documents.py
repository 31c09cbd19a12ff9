"""outbound EDI documents (997, 855, CONTRL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 08:30:00
"""

import sqlalchemy as sa
from alembic import op

import legato.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbound_documents",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("control_number", sa.String(length=40), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", legato.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("destination", sa.String(length=500), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_outbound_documents_channel_id_channels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_documents")),
    )
    op.create_index(
        "ix_outbound_documents_pending", "outbound_documents", ["channel_id", "sent_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_documents_pending", table_name="outbound_documents")
    op.drop_table("outbound_documents")
