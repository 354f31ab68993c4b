"""A team's integrations (Slack workspaces, Twilio accounts...). `sensitive_config` is encrypted at rest."""

from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.crypto import SecretBox
from app.db.models import Integration, User
from app.engine.functions.calls import IntegrationConfig


class IntegrationRepository:
    def __init__(self, session: AsyncSession, box: SecretBox | None = None) -> None:
        self.session = session
        self._box = box  # needed only to write or read tokens

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            raise RuntimeError("IntegrationRepository needs the SecretBox of HOGFLOWS_SECRET_KEY for tokens")
        return self._box

    async def create(
        self,
        *,
        team_id: int,
        kind: str,
        config: dict[str, Any],
        sensitive_config: dict[str, Any],
        integration_id: str | None,
        created_by: User | None,
    ) -> Integration:
        integration = Integration(
            team_id=team_id,
            kind=kind,
            config=config,
            sensitive_config=self.box.seal_json(sensitive_config),
            integration_id=integration_id,
            created_by=created_by,
            errors="",
        )
        self.session.add(integration)
        await self.session.flush()
        return integration

    def _team_query(self, team_id: int) -> Select[Integration]:
        return select(Integration).where(Integration.team_id == team_id).options(selectinload(Integration.created_by))

    async def get(self, team_id: int, integration_id: int) -> Integration | None:
        result = await self.session.execute(self._team_query(team_id).where(Integration.id == integration_id))
        return result.scalar_one_or_none()

    async def list(
        self, team_id: int, *, kind: str | None = None, limit: int, offset: int
    ) -> tuple[int, list[Integration]]:
        conditions = [Integration.team_id == team_id]
        if kind is not None:
            conditions.append(Integration.kind == kind)
        count = await self.session.scalar(select(func.count()).select_from(Integration).where(*conditions))
        rows = await self.session.execute(
            self._team_query(team_id).where(*conditions).order_by(Integration.id.desc()).limit(limit).offset(offset)
        )
        return int(count or 0), list(rows.scalars())

    async def delete(self, integration: Integration) -> None:
        await self.session.execute(delete(Integration).where(Integration.id == integration.id))

    async def resolve(self, team_id: int, integration_id: int) -> IntegrationConfig | None:
        """The engine's `IntegrationResolver`: another team's integration resolves to None."""
        integration = await self.get(team_id, integration_id)
        if integration is None:
            return None
        return IntegrationConfig(
            config=dict(integration.config or {}), sensitive_config=self.box.open_json(integration.sensitive_config)
        )
