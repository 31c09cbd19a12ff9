"""pricing mechanisms on products, price detail on lines, adjustments on orders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 08:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import legato.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("products") as b:
        b.add_column(sa.Column("pricing", _JSON, nullable=True))
    with op.batch_alter_table("pricelists") as b:
        b.add_column(sa.Column("channel_id", _ID, nullable=True))
        b.create_foreign_key(op.f("fk_pricelists_channel_id_channels"), "channels", ["channel_id"], ["id"])
    with op.batch_alter_table("pricelist_items") as b:
        b.alter_column("unit_price", existing_type=legato.store.types.Dec(), nullable=True)
        b.add_column(sa.Column("pricing", _JSON, nullable=True))
    for table in ("orders", "quotes"):
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("points_total", legato.store.types.Dec(), nullable=True))
            b.add_column(sa.Column("pricing", _JSON, nullable=True))
    for table in ("order_lines", "quote_lines"):
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("price_detail", _JSON, nullable=True))


def downgrade() -> None:
    for table in ("order_lines", "quote_lines"):
        with op.batch_alter_table(table) as b:
            b.drop_column("price_detail")
    for table in ("orders", "quotes"):
        with op.batch_alter_table(table) as b:
            b.drop_column("pricing")
            b.drop_column("points_total")
    with op.batch_alter_table("pricelist_items") as b:
        b.drop_column("pricing")
        b.alter_column("unit_price", existing_type=legato.store.types.Dec(), nullable=False)
    with op.batch_alter_table("pricelists") as b:
        b.drop_constraint(op.f("fk_pricelists_channel_id_channels"), type_="foreignkey")
        b.drop_column("channel_id")
    with op.batch_alter_table("products") as b:
        b.drop_column("pricing")
