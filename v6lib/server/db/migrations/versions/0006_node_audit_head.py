"""The head of each node's audit trail, as the node publishes it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:00:00
"""

# ruff: noqa: E501  (alembic style, reviewed)
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import v6lib.server.db.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audit_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('audit_head', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('audit_published_at', v6lib.server.db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.drop_column('audit_published_at')
        batch_op.drop_column('audit_head')
        batch_op.drop_column('audit_count')
