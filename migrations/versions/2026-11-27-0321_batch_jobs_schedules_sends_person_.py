"""batch jobs, schedules, sends, person properties index

Revision ID: 6e3b319bf713
Revises: 5d7aabf066e5
Create Date: 2026-11-27 03:21:14.063127
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "6e3b319bf713"
down_revision: str | None = "5d7aabf066e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hog_flow_batch_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("hog_flow_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("persons_matched", sa.Integer(), nullable=False),
        sa.Column("runs_created", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_hog_flow_batch_jobs_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["hog_flow_id"],
            ["hog_flows.id"],
            name=op.f("fk_hog_flow_batch_jobs_hog_flow_id_hog_flows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_hog_flow_batch_jobs_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hog_flow_batch_jobs")),
    )
    with op.batch_alter_table("hog_flow_batch_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hog_flow_batch_jobs_hog_flow_id_created_at", ["hog_flow_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_hog_flow_batch_jobs_status", ["status"], unique=False)

    op.create_table(
        "hog_flow_schedules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("hog_flow_id", sa.Uuid(), nullable=False),
        sa.Column("rrule", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hog_flow_id"],
            ["hog_flows.id"],
            name=op.f("fk_hog_flow_schedules_hog_flow_id_hog_flows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_hog_flow_schedules_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hog_flow_schedules")),
    )
    with op.batch_alter_table("hog_flow_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hog_flow_schedules_hog_flow_id"), ["hog_flow_id"], unique=False)
        batch_op.create_index("ix_hog_flow_schedules_status_next_run_at", ["status", "next_run_at"], unique=False)

    op.create_table(
        "hog_flow_sends",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("action_id", sa.String(length=400), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("call_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("response", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["hog_flow_runs.id"], name=op.f("fk_hog_flow_sends_run_id_hog_flow_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hog_flow_sends")),
        sa.UniqueConstraint(
            "run_id",
            "action_id",
            "attempt",
            "call_index",
            name=op.f("uq_hog_flow_sends_run_id_action_id_attempt_call_index"),
        ),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index("ix_persons_properties", ["properties"], unique=False, postgresql_using="gin")


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index("ix_persons_properties", postgresql_using="gin")

    op.drop_table("hog_flow_sends")
    with op.batch_alter_table("hog_flow_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_hog_flow_schedules_status_next_run_at")
        batch_op.drop_index(batch_op.f("ix_hog_flow_schedules_hog_flow_id"))

    op.drop_table("hog_flow_schedules")
    with op.batch_alter_table("hog_flow_batch_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_hog_flow_batch_jobs_status")
        batch_op.drop_index("ix_hog_flow_batch_jobs_hog_flow_id_created_at")

    op.drop_table("hog_flow_batch_jobs")
