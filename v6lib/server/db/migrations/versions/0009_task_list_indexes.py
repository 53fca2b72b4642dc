"""An index that gives an organization's tasks through their runs in task id order; the
permissions epoch.

Task lists page through the visible tasks' sources in id order (see
``v6lib.server.permissions.task_visibility``); for "a run at our organization" that is
this index, read without touching the ``run`` rows.

The ``permissions_epoch`` row of ``server_meta`` changes with every change of roles, rules
or memberships; principals are cached per epoch (``v6lib.server.permissions.cache``). It
exists from here on, so concurrent first changes never race to create it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00
"""

from __future__ import annotations

import uuid

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_run_organization_id_task_id', 'run', ['organization_id', 'task_id'])
    op.execute("INSERT INTO server_meta (key, value) "
               f"VALUES ('permissions_epoch', '{uuid.uuid4().hex}')")


def downgrade() -> None:
    op.execute("DELETE FROM server_meta WHERE key = 'permissions_epoch'")
    op.drop_index('ix_run_organization_id_task_id', table_name='run')
