"""Support tickets and billing disputes (issue 15): tickets, the lines they concern, their
comment thread and timeline; notifications learn which ticket they tell of.

Amounts are exact decimal text (models.Money); timestamps ISO-8601 text in UTC, as elsewhere.
The service clock is kept as columns: `pending_seconds` (time spent waiting on the customer) and
`resolved_seconds` (time spent resolved before a reopen) are left out of the measured times.

Revision ID: 0006_tickets
Revises: 0004_token_lifetimes
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_tickets"
down_revision = "0004_token_lifetimes"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, other: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{other}.id"], name=f"fk_{table}_{column}_{other}")


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("raiser_id", sa.Integer(), nullable=False),
        sa.Column("raiser_email", sa.Text(), nullable=False),
        sa.Column("raiser_role", sa.Text(), nullable=False),
        sa.Column("raiser_employee_id", sa.Text(), nullable=True),
        sa.Column("invoice_id", sa.Text(), nullable=True),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("invoice_msisdn", sa.Text(), nullable=True),
        sa.Column("invoice_period", sa.Text(), nullable=True),
        sa.Column("invoice_description", sa.Text(), nullable=True),
        sa.Column("invoice_amount", sa.Text(), nullable=True),
        sa.Column("disputed_amount", sa.Text(), nullable=True),
        sa.Column("credited_amount", sa.Text(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.Column("first_response_at", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.Text(), nullable=True),
        sa.Column("pending_since", sa.Text(), nullable=True),
        sa.Column("pending_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("resolved_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reopened_count", sa.Integer(), server_default="0", nullable=False),
        _fk("tickets", "raiser_id", "users"),
        _fk("tickets", "assignee_id", "users"),
        _fk("tickets", "order_id", "orders"),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("reference", name="uq_tickets_reference"),
    )
    op.create_index("tickets_tenant_state", "tickets", ["tenant_id", "state"])
    op.create_index("tickets_raiser", "tickets", ["raiser_id"])

    op.create_table(
        "ticket_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.Text(), nullable=False),
        sa.Column("employee_id", sa.Text(), nullable=True),
        _fk("ticket_lines", "ticket_id", "tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_lines"),
        sa.UniqueConstraint("ticket_id", "msisdn", name="uq_ticket_lines_msisdn"),
    )
    op.create_index("ticket_lines_msisdn", "ticket_lines", ["msisdn"])

    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("author_email", sa.Text(), nullable=False),
        sa.Column("author_role", sa.Text(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _fk("ticket_comments", "ticket_id", "tickets"),
        _fk("ticket_comments", "author_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_comments"),
    )
    op.create_index("ticket_comments_ticket", "ticket_comments", ["ticket_id"])

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.Text(), nullable=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=True),
        sa.Column("to_state", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        _fk("ticket_events", "ticket_id", "tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_events"),
    )
    op.create_index("ticket_events_ticket", "ticket_events", ["ticket_id"])

    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("ticket_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("ticket_id")
    for index, table in (
        ("ticket_events_ticket", "ticket_events"),
        ("ticket_comments_ticket", "ticket_comments"),
        ("ticket_lines_msisdn", "ticket_lines"),
        ("tickets_raiser", "tickets"),
        ("tickets_tenant_state", "tickets"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("ticket_events", "ticket_comments", "ticket_lines", "tickets"):
        op.drop_table(table)
