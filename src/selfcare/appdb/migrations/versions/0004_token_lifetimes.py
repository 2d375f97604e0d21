"""API tokens get a lifetime (`expires_at`), and the login throttle gets its table.

Tokens made before this revision never expired; they get the default lifetime counted from the
upgrade, so none stops working the moment the portal is upgraded. `login_attempts` holds the
throttle's moving window (selfcare.services.throttle): shared by every server process and kept
across restarts because it lives in the portal's own database.

Revision ID: 0004_token_lifetimes
Revises: 0003_orders
Create Date: 2026-12-07
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0004_token_lifetimes"
down_revision = "0003_orders"
branch_labels = None
depends_on = None

DEFAULT_LIFETIME_DAYS = 90  # services.tokens.DEFAULT_LIFETIME, frozen here as migrations must be


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.Text(), nullable=True))
    expires = (datetime.now(UTC) + timedelta(days=DEFAULT_LIFETIME_DAYS)).isoformat(
        timespec="seconds"
    )
    op.execute(
        sa.text("update api_tokens set expires_at = :e where expires_at is null").bindparams(
            e=expires
        )
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("login_attempts_key_at", "login_attempts", ["key", "at"])


def downgrade() -> None:
    op.drop_index("login_attempts_key_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
