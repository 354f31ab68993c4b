"""Create a working tenant in one call: organization, project + team, user and an API key."""

import uuid
from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import OrganizationMembership
from app.db.repositories.tenancy import TenancyRepository
from app.services.api_keys import (
    ALL_SCOPES,
    generate_personal_api_key,
    generate_project_token,
    hash_key,
    mask_api_key,
)


@dataclass(frozen=True)
class Tenant:
    api_key: str
    team_id: int
    project_id: int
    organization_id: str
    project_token: str
    user_id: int
    email: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def bootstrap_tenant(
    session: AsyncSession,
    *,
    email: str | None = None,
    organization_name: str = "Default organization",
    project_name: str = "Default project",
    scopes: list[str] | None = ALL_SCOPES,
    scoped_teams: list[int] | None = None,
    scoped_organizations: list[str] | None = None,
) -> Tenant:
    repo = TenancyRepository(session)
    email = email or f"user-{uuid.uuid4().hex[:12]}@hogflows.local"
    organization = await repo.create_organization(organization_name)
    team = await repo.create_project_with_team(organization, project_name, generate_project_token())
    user = await repo.get_user_by_email(email)
    if user is None:
        user = await repo.create_user(email=email, distinct_id=str(uuid.uuid4()), first_name=email.split("@")[0])
    user.current_team_id = team.id
    await repo.add_member(organization, user, OrganizationMembership.OWNER)
    key = generate_personal_api_key()
    await repo.create_personal_api_key(
        user,
        label="bootstrap",
        secure_value=hash_key(key),
        mask_value=mask_api_key(key),
        scopes=scopes,
        scoped_teams=scoped_teams,
        scoped_organizations=scoped_organizations,
    )
    return Tenant(
        api_key=key,
        team_id=team.id,
        project_id=team.project_id,
        organization_id=str(organization.id),
        project_token=team.api_token,
        user_id=user.id,
        email=email,
    )
