"""tickets and timeline entries indexed by time, for Open311's date filters

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 17:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_ticket_created', 'ticket', ['created_at', 'id'], unique=False)
    op.create_index('ix_ticket_update_at', 'ticket_update', ['at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ticket_update_at', table_name='ticket_update')
    op.drop_index('ix_ticket_created', table_name='ticket')
