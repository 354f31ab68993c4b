"""drafts, revisions, origin_product, run version

Revision ID: a7c1d2e3f405
Revises: 7a1c2e9d4b10
Create Date: 2026-12-04 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a7c1d2e3f405"
down_revision: str | None = "7a1c2e9d4b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "hog_flow_revisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("hog_flow_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", JSON, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_hog_flow_revisions_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["hog_flow_id"],
            ["hog_flows.id"],
            name=op.f("fk_hog_flow_revisions_hog_flow_id_hog_flows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_hog_flow_revisions_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hog_flow_revisions")),
        sa.UniqueConstraint("hog_flow_id", "version", name=op.f("uq_hog_flow_revisions_hog_flow_id_version")),
    )
    with op.batch_alter_table("hog_flows") as batch:
        batch.add_column(sa.Column("origin_product", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("draft", JSON, nullable=True))
        batch.add_column(sa.Column("draft_updated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("hog_flow_runs") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hog_flow_runs") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("hog_flows") as batch:
        batch.drop_column("draft_updated_at")
        batch.drop_column("draft")
        batch.drop_column("origin_product")
    op.drop_table("hog_flow_revisions")
