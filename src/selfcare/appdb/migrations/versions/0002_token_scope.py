"""API tokens gain a scope: `read` (every token so far, and still the only kind handed out) or
`write` (for the workflows to come).

On SQLite the check constraint needs batch mode's copy-and-move of api_tokens; its rows move
with it. The naming convention names the constraints 0.1.0's store left unnamed.

Revision ID: 0002_token_scope
Revises: 0001_initial
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_token_scope"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

NAMING = {
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", naming_convention=NAMING) as batch:
        batch.add_column(
            sa.Column("scope", sa.Text(), server_default="read", nullable=False)
        )
        batch.create_check_constraint("scope", "scope in ('read', 'write')")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", naming_convention=NAMING) as batch:
        batch.drop_constraint("ck_api_tokens_scope", type_="check")
        batch.drop_column("scope")
