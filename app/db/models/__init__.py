"""Every ORM model, imported here so `Base.metadata` knows all tables (alembic reads it)."""

from app.db.models.batch import HogFlowBatchJob, HogFlowSchedule
from app.db.models.hog_flow import HogFlow
from app.db.models.hog_flow_run import HogFlowRun, HogFlowRunStep, HogFlowSend, RunStatus
from app.db.models.integration import Integration
from app.db.models.observability import AppMetric, LogEntry
from app.db.models.person import Person, PersonDistinctId
from app.db.models.tenancy import Organization, OrganizationMembership, PersonalAPIKey, Project, Team, User

__all__ = [
    "AppMetric",
    "HogFlow",
    "HogFlowBatchJob",
    "HogFlowRun",
    "HogFlowRunStep",
    "HogFlowSchedule",
    "HogFlowSend",
    "Integration",
    "LogEntry",
    "Organization",
    "OrganizationMembership",
    "Person",
    "PersonDistinctId",
    "PersonalAPIKey",
    "Project",
    "RunStatus",
    "Team",
    "User",
]
