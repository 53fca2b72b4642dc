"""Membership needs both sides' consent; ids are never reused on SQLite (AUTOINCREMENT).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

# ruff: noqa: E501  (alembic style, reviewed)
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import v6lib.server.db.base

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


# Tables whose ids leave the server (tokens, node journals) and must never be reused.
_NEVER_REUSED = ('organization', 'collaboration', 'rule', 'role', 'user', 'node', 'study',
                 'task', 'run', 'result_upload')


def _autoincrement(on: bool) -> None:
    """Rebuild the tables with (or without) SQLite's AUTOINCREMENT; nothing elsewhere."""
    if op.get_bind().dialect.name != 'sqlite':
        return  # PostgreSQL sequences never hand out an id twice
    for table in _NEVER_REUSED:
        with op.batch_alter_table(table, recreate='always',
                                  table_kwargs={'sqlite_autoincrement': on}):
            pass


def upgrade() -> None:
    _autoincrement(True)
    op.create_table('membership_consent',
    sa.Column('collaboration_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', v6lib.server.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['collaboration_id'], ['collaboration.id'], name=op.f('fk_membership_consent_collaboration_id_collaboration'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_membership_consent_organization_id_organization'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_membership_consent_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('collaboration_id', 'organization_id', 'side', name=op.f('pk_membership_consent'))
    )
    with op.batch_alter_table('membership_consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_consent_organization_id'), ['organization_id'], unique=False)


def downgrade() -> None:
    _autoincrement(False)
    with op.batch_alter_table('membership_consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_consent_organization_id'))
    op.drop_table('membership_consent')
