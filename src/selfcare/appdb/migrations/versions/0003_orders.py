"""Orders (issue 12): orders, their lines, approvals and timeline; tenant approval settings;
in-app notifications and the mail outbox.

Amounts are exact decimal text (models.Money); timestamps ISO-8601 text in UTC, as elsewhere.

Revision ID: 0003_orders
Revises: 0002_token_scope
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_orders"
down_revision = "0002_token_scope"
branch_labels = None
depends_on = None


def _users_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=f"fk_{table}_{column}_users")


def _orders_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=f"fk_{table}_order_id_orders")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("requester_email", sa.Text(), nullable=False),
        sa.Column("requester_employee_id", sa.Text(), nullable=True),
        sa.Column("requester_role", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("monthly_change", sa.Text(), nullable=False),
        sa.Column("once_off_change", sa.Text(), nullable=False),
        sa.Column("needs", sa.Text(), server_default="", nullable=False),
        sa.Column("waits_for_employee_id", sa.Text(), nullable=True),
        sa.Column("round", sa.Integer(), server_default="1", nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.Column("restarted_at", sa.Text(), nullable=False),
        _users_fk("orders", "requester_id"),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("reference", name="uq_orders_reference"),
    )
    op.create_index("orders_tenant_state", "orders", ["tenant_id", "state"])
    op.create_index("orders_requester", "orders", ["requester_id"])

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.Text(), nullable=True),
        sa.Column("employee_id", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("change_field", sa.Text(), nullable=False),
        sa.Column("requested", sa.JSON(), nullable=True),
        sa.Column("in_effect", sa.JSON(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=True),
        sa.Column("operator_ref", sa.Text(), nullable=True),
        sa.Column("submitting_since", sa.Text(), nullable=True),
        sa.Column("submit_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("submitted_at", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.Text(), nullable=True),
        sa.Column("effective_on", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("new_msisdn", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Text(), nullable=False),
        _orders_fk("order_lines"),
        sa.PrimaryKeyConstraint("id", name="pk_order_lines"),
        sa.UniqueConstraint("idempotency_key", name="uq_order_lines_idempotency_key"),
    )
    op.create_index("order_lines_order", "order_lines", ["order_id"])
    op.create_index("order_lines_msisdn", "order_lines", ["msisdn"])
    op.create_index("order_lines_state", "order_lines", ["state"])

    op.create_table(
        "order_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_email", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.Text(), nullable=False),
        _orders_fk("order_approvals"),
        _users_fk("order_approvals", "user_id"),
        sa.PrimaryKeyConstraint("id", name="pk_order_approvals"),
        sa.UniqueConstraint("order_id", "round", "step", name="uq_order_approvals_step"),
    )
    op.create_index("order_approvals_order", "order_approvals", ["order_id"])

    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.Text(), nullable=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=True),
        sa.Column("to_state", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        _orders_fk("order_events"),
        sa.ForeignKeyConstraint(
            ["line_id"], ["order_lines.id"], name="fk_order_events_line_id_order_lines"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_order_events"),
    )
    op.create_index("order_events_order", "order_events", ["order_id"])

    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("finance_threshold", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_settings"),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("read_at", sa.Text(), nullable=True),
        _users_fk("notifications", "user_id"),
        _orders_fk("notifications"),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("notifications_user", "notifications", ["user_id", "read_at"])

    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _users_fk("mail_outbox", "user_id"),
        _orders_fk("mail_outbox"),
        sa.PrimaryKeyConstraint("id", name="pk_mail_outbox"),
    )
    op.create_index("mail_outbox_due", "mail_outbox", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    for index, table in (
        ("mail_outbox_due", "mail_outbox"),
        ("notifications_user", "notifications"),
        ("order_events_order", "order_events"),
        ("order_approvals_order", "order_approvals"),
        ("order_lines_state", "order_lines"),
        ("order_lines_msisdn", "order_lines"),
        ("order_lines_order", "order_lines"),
        ("orders_requester", "orders"),
        ("orders_tenant_state", "orders"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("mail_outbox", "notifications", "tenant_settings", "order_events",
                  "order_approvals", "order_lines", "orders"):
        op.drop_table(table)
