"""Every ORM model, imported here so `Base.metadata` knows all tables (alembic reads it)."""

from app.db.models.hog_flow import HogFlow
from app.db.models.tenancy import Organization, OrganizationMembership, PersonalAPIKey, Project, Team, User

__all__ = ["HogFlow", "Organization", "OrganizationMembership", "PersonalAPIKey", "Project", "Team", "User"]
