"""The tables of release 0.1.0: users, audit, api_tokens.

An empty database gets them created. A database written by release 0.1.0 (its store created
them with `create table if not exists`, no alembic_version) already has them, with the same
names and columns: they are adopted as they are, every row kept, and only what is missing (an
index) is added.

Revision ID: 0001_initial
Revises:
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

EMAIL = sa.Text().with_variant(sa.Text(collation="NOCASE"), "sqlite")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "users" not in tables:
        op.create_table(
            "users",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("email", EMAIL, nullable=False),
            sa.Column("password_hash", sa.Text(), nullable=False),
            sa.Column("role", sa.Text(), nullable=False),
            sa.Column("tenant_id", sa.Text(), nullable=True),
            sa.Column("employee_id", sa.Text(), nullable=True),
            sa.Column("active", sa.Integer(), server_default="1", nullable=False),
            sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
            sa.Column("created_at", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_users"),
            sa.UniqueConstraint("email", name="uq_users_email"),
        )
    if "audit" not in tables:
        op.create_table(
            "audit",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("ts", sa.Text(), nullable=False),
            sa.Column("event", sa.Text(), nullable=False),
            sa.Column("email", sa.Text(), nullable=True),
            sa.Column("user_id", sa.Integer(), nullable=True),
            sa.Column("ip", sa.Text(), nullable=True),
            sa.Column("detail", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_audit"),
        )
    if "api_tokens" not in tables:
        op.create_table(
            "api_tokens",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("name", sa.Text(), nullable=False),
            sa.Column("token_hash", sa.Text(), nullable=False),
            sa.Column("prefix", sa.Text(), nullable=False),
            sa.Column("created_at", sa.Text(), nullable=False),
            sa.Column("last_used_at", sa.Text(), nullable=True),
            sa.Column("revoked_at", sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(
                ["user_id"], ["users.id"], name="fk_api_tokens_user_id_users"
            ),
            sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
            sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        )
    inspector = sa.inspect(op.get_bind())
    if "audit_ts" not in {i["name"] for i in inspector.get_indexes("audit")}:
        op.create_index("audit_ts", "audit", ["ts"])
    if "api_tokens_user" not in {i["name"] for i in inspector.get_indexes("api_tokens")}:
        op.create_index("api_tokens_user", "api_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("api_tokens_user", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("audit_ts", table_name="audit")
    op.drop_table("audit")
    op.drop_table("users")
