"""initial tenancy and hog flows

Revision ID: 0f46a223934c
Revises:
Create Date: 2026-11-27 02:56:04.445609
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0f46a223934c"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSONB on PostgreSQL (containment, GIN indexes); JSON text on SQLite.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("members_can_use_personal_api_keys", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_projects_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projects_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("api_token", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=240), nullable=False),
        sa.Column("test_account_filters", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_teams_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_teams_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("api_token", name=op.f("uq_teams_api_token")),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_teams_project_id"), ["project_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("distinct_id", sa.String(length=200), nullable=False),
        sa.Column("first_name", sa.String(length=150), nullable=False),
        sa.Column("last_name", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("is_email_verified", sa.Boolean(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("hedgehog_config", JSON, nullable=True),
        sa.Column("role_at_organization", sa.String(length=64), nullable=True),
        sa.Column("current_team_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["current_team_id"],
            ["teams.id"],
            name=op.f("fk_users_current_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("distinct_id", name=op.f("uq_users_distinct_id")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("uuid", name=op.f("uq_users_uuid")),
    )
    op.create_table(
        "hog_flows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", JSON, nullable=False),
        sa.Column("trigger_masking", JSON, nullable=True),
        sa.Column("conversion", JSON, nullable=True),
        sa.Column("exit_condition", sa.String(length=100), nullable=False),
        sa.Column("edges", JSON, nullable=False),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("abort_action", sa.String(length=400), nullable=True),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("billable_action_types", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_hog_flows_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_hog_flows_team_id_teams"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hog_flows")),
    )
    with op.batch_alter_table("hog_flows", schema=None) as batch_op:
        batch_op.create_index("ix_hog_flows_team_id_status", ["team_id", "status"], unique=False)
        batch_op.create_index("ix_hog_flows_team_id_updated_at", ["team_id", "updated_at"], unique=False)
        batch_op.create_index("ix_hog_flows_trigger", ["trigger"], unique=False, postgresql_using="gin")

    op.create_table(
        "organization_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_memberships_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_organization_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_memberships")),
        sa.UniqueConstraint(
            "organization_id", "user_id", name=op.f("uq_organization_memberships_organization_id_user_id")
        ),
    )
    with op.batch_alter_table("organization_memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organization_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "personal_api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("secure_value", sa.String(length=300), nullable=False),
        sa.Column("mask_value", sa.String(length=11), nullable=False),
        sa.Column("scopes", JSON, nullable=True),
        sa.Column("scoped_teams", JSON, nullable=True),
        sa.Column("scoped_organizations", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_personal_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_api_keys")),
        sa.UniqueConstraint("secure_value", name=op.f("uq_personal_api_keys_secure_value")),
    )
    with op.batch_alter_table("personal_api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_personal_api_keys_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("personal_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_api_keys_user_id"))

    op.drop_table("personal_api_keys")
    with op.batch_alter_table("organization_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_memberships_user_id"))

    op.drop_table("organization_memberships")
    with op.batch_alter_table("hog_flows", schema=None) as batch_op:
        batch_op.drop_index("ix_hog_flows_trigger", postgresql_using="gin")
        batch_op.drop_index("ix_hog_flows_team_id_updated_at")
        batch_op.drop_index("ix_hog_flows_team_id_status")

    op.drop_table("hog_flows")
    op.drop_table("users")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_project_id"))
        batch_op.drop_index(batch_op.f("ix_teams_organization_id"))

    op.drop_table("teams")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_organization_id"))

    op.drop_table("projects")
    op.drop_table("organizations")
