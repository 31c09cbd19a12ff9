"""files seen on SFTP channels

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 08:30:00
"""

import sqlalchemy as sa
from alembic import op

import legato.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sftp_files",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("first_seen", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", legato.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_sftp_files_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sftp_files")),
        sa.UniqueConstraint(
            "channel_id", "name", "size", "mtime", name="uq_sftp_files_channel_id_name_size_mtime"
        ),
    )
    op.create_index(
        "ix_sftp_files_channel_id_name_sha256", "sftp_files", ["channel_id", "name", "sha256"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sftp_files_channel_id_name_sha256", table_name="sftp_files")
    op.drop_table("sftp_files")
