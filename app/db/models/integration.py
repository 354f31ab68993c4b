"""Integrations: a team's connected accounts (Slack workspace, Twilio account...) that function inputs refer to by id.

`sensitive_config` holds the tokens, encrypted (`{"$fernet": token}`, see `app.crypto`); the API accepts it
on create and never returns it. At run time an
`integration` input becomes `{**config, **sensitive_config}`, as in PostHog.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, JSONType, UTCDateTime, utcnow
from app.db.models.tenancy import User


class Integration(Base):
    __tablename__ = "integrations"
    __table_args__ = (Index("ix_integrations_team_id_kind", "team_id", "kind"),)

    # Integer ids: function inputs store them as numbers (`{"slack_workspace": {"value": 12}}`).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    # The account's id at the provider (Slack team id, Twilio account SID...).
    integration_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sensitive_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    errors: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User | None] = relationship(lazy="raise")

    @property
    def display_name(self) -> str:
        """What PostHog's UI shows for the account: the Slack workspace name, the Twilio account SID..."""
        config = self.config or {}
        team = config.get("team")
        if self.kind == "slack" and isinstance(team, dict) and team.get("name"):
            return str(team["name"])
        for key in ("account_sid", "domain", "email", "name"):
            if config.get(key):
                return str(config[key])
        return self.integration_id or self.kind
