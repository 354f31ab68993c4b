"""runs, persons, logs and metrics

Revision ID: 5d7aabf066e5
Revises: 0f46a223934c
Create Date: 2026-11-27 03:06:48.895764
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5d7aabf066e5"
down_revision: str | None = "0f46a223934c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "app_metrics",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("app_source", sa.String(length=40), nullable=False),
        sa.Column("app_source_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=400), nullable=True),
        sa.Column("metric_kind", sa.String(length=40), nullable=False),
        sa.Column("metric_name", sa.String(length=60), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_metrics")),
    )
    with op.batch_alter_table("app_metrics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_app_metrics_source_timestamp", ["team_id", "app_source", "app_source_id", "timestamp"], unique=False
        )

    op.create_table(
        "log_entries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("log_source", sa.String(length=40), nullable=False),
        sa.Column("log_source_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_entries")),
    )
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_log_entries_source_timestamp", ["team_id", "log_source", "log_source_id", "timestamp"], unique=False
        )

    op.create_table(
        "persons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_persons_team_id_teams"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index("ix_persons_team_id_created_at", ["team_id", "created_at"], unique=False)

    op.create_table(
        "person_distinct_ids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("distinct_id", sa.String(length=400), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_person_distinct_ids_person_id_persons"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_person_distinct_ids_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_distinct_ids")),
        sa.UniqueConstraint("team_id", "distinct_id", name=op.f("uq_person_distinct_ids_team_id_distinct_id")),
    )
    with op.batch_alter_table("person_distinct_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_distinct_ids_person_id"), ["person_id"], unique=False)

    op.create_table(
        "hog_flow_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("hog_flow_id", sa.Uuid(), nullable=False),
        sa.Column("parent_run_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("current_action_id", sa.String(length=400), nullable=True),
        sa.Column("distinct_id", sa.String(length=400), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pickups", sa.Integer(), nullable=False),
        sa.Column("is_manual", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hog_flow_id"], ["hog_flows.id"], name=op.f("fk_hog_flow_runs_hog_flow_id_hog_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_hog_flow_runs_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hog_flow_runs")),
    )
    with op.batch_alter_table("hog_flow_runs", schema=None) as batch_op:
        batch_op.create_index("ix_hog_flow_runs_hog_flow_id_created_at", ["hog_flow_id", "created_at"], unique=False)
        batch_op.create_index("ix_hog_flow_runs_status_next_run_at", ["status", "next_run_at"], unique=False)

    op.create_table(
        "hog_flow_run_steps",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("pickup", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.String(length=400), nullable=False),
        sa.Column("action_type", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("next_action_id", sa.String(length=400), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["hog_flow_runs.id"],
            name=op.f("fk_hog_flow_run_steps_run_id_hog_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hog_flow_run_steps")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_hog_flow_run_steps_run_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("hog_flow_run_steps")
    with op.batch_alter_table("hog_flow_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_hog_flow_runs_status_next_run_at")
        batch_op.drop_index("ix_hog_flow_runs_hog_flow_id_created_at")

    op.drop_table("hog_flow_runs")
    with op.batch_alter_table("person_distinct_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_distinct_ids_person_id"))

    op.drop_table("person_distinct_ids")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index("ix_persons_team_id_created_at")

    op.drop_table("persons")
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_log_entries_source_timestamp")

    op.drop_table("log_entries")
    with op.batch_alter_table("app_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_app_metrics_source_timestamp")

    op.drop_table("app_metrics")
