"""Organizations, teams, users and API keys."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import Organization, OrganizationMembership, PersonalAPIKey, Project, Team, User

# PostHog writes `last_used_at` at most hourly so every request doesn't turn into a write.
_LAST_USED_RESOLUTION = timedelta(hours=1)


def key_touch_due(key: PersonalAPIKey, now: datetime | None = None) -> bool:
    """Whether a use of the key now is written (`last_used_at` is kept to the hour)."""
    return key.last_used_at is None or (now or utcnow()) - key.last_used_at >= _LAST_USED_RESOLUTION


class TenancyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_key_with_user(self, secure_value: str) -> tuple[PersonalAPIKey, User] | None:
        statement = (
            select(PersonalAPIKey, User)
            .join(User, User.id == PersonalAPIKey.user_id)
            .where(PersonalAPIKey.secure_value == secure_value)
        )
        row = (await self.session.execute(statement)).first()
        return (row[0], row[1]) if row else None

    async def memberships_with_teams(self, user_id: int) -> list[tuple[int, Organization, Team | None]]:
        """Each organization the user belongs to (membership level, organization) with each of its teams."""
        statement = (
            select(OrganizationMembership.level, Organization, Team)
            .join(Organization, Organization.id == OrganizationMembership.organization_id)
            .outerjoin(Team, Team.organization_id == Organization.id)
            .where(OrganizationMembership.user_id == user_id)
        )
        return [(row[0], row[1], row[2]) for row in (await self.session.execute(statement)).all()]

    async def touch_key(self, key: PersonalAPIKey, now: datetime | None = None) -> datetime | None:
        """Record use at most hourly; returns the new `last_used_at` when it was written."""
        now = now or utcnow()
        if not key_touch_due(key, now):
            return None
        statement = (
            update(PersonalAPIKey)
            .where(PersonalAPIKey.id == key.id)
            .values(last_used_at=now)
            .execution_options(cache_neutral=True, synchronize_session=False)
        )
        await self.session.execute(statement)
        return now

    async def get_team(self, team_id: int) -> Team | None:
        return await self.session.get(Team, team_id)

    async def get_team_by_token(self, token: str) -> Team | None:
        return (await self.session.execute(select(Team).where(Team.api_token == token))).scalar_one_or_none()

    async def get_organization(self, organization_id: UUID) -> Organization | None:
        return await self.session.get(Organization, organization_id)

    async def get_membership(self, user_id: int, organization_id: UUID) -> OrganizationMembership | None:
        statement = select(OrganizationMembership).where(
            OrganizationMembership.user_id == user_id,
            OrganizationMembership.organization_id == organization_id,
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def teams_of_member(self, user_id: int) -> Sequence[Team]:
        """Teams of every organization the user belongs to (each still to be authorized per key)."""
        statement = (
            select(Team)
            .join(OrganizationMembership, OrganizationMembership.organization_id == Team.organization_id)
            .where(OrganizationMembership.user_id == user_id)
            .order_by(Team.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def get_user_by_email(self, email: str) -> User | None:
        return (await self.session.execute(select(User).where(User.email == email))).scalar_one_or_none()

    async def create_organization(self, name: str) -> Organization:
        organization = Organization(name=name)
        self.session.add(organization)
        await self.session.flush()
        return organization

    async def create_project_with_team(self, organization: Organization, name: str, api_token: str) -> Team:
        project = Project(organization_id=organization.id, name=name)
        self.session.add(project)
        await self.session.flush()
        team = Team(project_id=project.id, organization_id=organization.id, name=name, api_token=api_token)
        self.session.add(team)
        await self.session.flush()
        return team

    async def create_user(self, email: str, distinct_id: str, first_name: str = "") -> User:
        user = User(email=email, distinct_id=distinct_id, first_name=first_name)
        self.session.add(user)
        await self.session.flush()
        return user

    async def add_member(self, organization: Organization, user: User, level: int) -> None:
        self.session.add(OrganizationMembership(organization_id=organization.id, user_id=user.id, level=level))
        await self.session.flush()

    async def create_personal_api_key(
        self,
        user: User,
        label: str,
        secure_value: str,
        mask_value: str,
        scopes: list[str] | None,
        scoped_teams: list[int] | None = None,
        scoped_organizations: list[str] | None = None,
    ) -> PersonalAPIKey:
        key = PersonalAPIKey(
            user_id=user.id,
            label=label,
            secure_value=secure_value,
            mask_value=mask_value,
            scopes=scopes,
            scoped_teams=scoped_teams,
            scoped_organizations=scoped_organizations,
        )
        self.session.add(key)
        await self.session.flush()
        return key
