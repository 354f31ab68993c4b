"""run cancel, rerun and idempotency columns

Revision ID: b7c41e2d9a10
Revises: a7c1d2e3f405
Create Date: 2026-12-04 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c41e2d9a10"
down_revision: str | None = "a7c1d2e3f405"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hog_flow_runs") as batch:
        batch.add_column(sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("rerun_job_id", sa.String(length=64), nullable=True))
    op.create_index(
        "ux_hog_flow_runs_hog_flow_id_idempotency_key",
        "hog_flow_runs",
        ["hog_flow_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_hog_flow_runs_hog_flow_id_idempotency_key", table_name="hog_flow_runs")
    with op.batch_alter_table("hog_flow_runs") as batch:
        batch.drop_column("rerun_job_id")
        batch.drop_column("attempts")
        batch.drop_column("idempotency_key")
        batch.drop_column("cancel_requested")
