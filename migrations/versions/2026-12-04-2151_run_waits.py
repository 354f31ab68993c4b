"""run waits: what parked runs wait for, looked up by the capture pipeline

Revision ID: 7f12b56bf45c
Revises: b7c41e2d9a10
Create Date: 2026-12-04 21:08:57.550217
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7f12b56bf45c"
down_revision: str | None = "b7c41e2d9a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hog_flow_run_waits",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("event_name", sa.String(length=400), nullable=True),
        sa.Column("filters", JSON, nullable=True),
        sa.Column("correlation", JSON, nullable=True),
        sa.Column("correlation_value", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("matched_event", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["hog_flow_runs.id"],
            name=op.f("fk_hog_flow_run_waits_run_id_hog_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hog_flow_run_waits")),
    )
    op.create_index("ix_hog_flow_run_waits_run_id", "hog_flow_run_waits", ["run_id"], unique=False)
    op.create_index(
        "ix_hog_flow_run_waits_team_id_person_id", "hog_flow_run_waits", ["team_id", "person_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_hog_flow_run_waits_team_id_person_id", table_name="hog_flow_run_waits")
    op.drop_index("ix_hog_flow_run_waits_run_id", table_name="hog_flow_run_waits")
    op.drop_table("hog_flow_run_waits")
