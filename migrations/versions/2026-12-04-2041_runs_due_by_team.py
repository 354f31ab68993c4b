"""runs due by team: the index behind fair claiming

Revision ID: 7a1c2e9d4b10
Revises: 7c1f4e2a9b10
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7a1c2e9d4b10"
down_revision: str | None = "7c1f4e2a9b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_hog_flow_runs_team_id_status_next_run_at", "hog_flow_runs", ["team_id", "status", "next_run_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_hog_flow_runs_team_id_status_next_run_at", table_name="hog_flow_runs")
