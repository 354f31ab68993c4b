"""Every ORM model, imported here so `Base.metadata` knows all tables (alembic reads it).

`HogFlow`, `Integration` and `Person` are also API schemas (`app.schemas`, whose names are PostHog's
and the OpenAPI components'). Convention: a module that needs the model next to the schema, or any
module in `app/api/`, imports the model with a `Model` suffix (`from app.db.models import HogFlow as
HogFlowModel`); everywhere else (repositories, services, engine, worker) the bare name is the model.
"""

from app.db.models.activity import ActivityLog
from app.db.models.batch import HogFlowBatchJob, HogFlowSchedule
from app.db.models.hog_flow import HogFlow, HogFlowRevision
from app.db.models.hog_flow_run import HogFlowRun, HogFlowRunStep, HogFlowRunWait, HogFlowSend, RunStatus
from app.db.models.integration import Integration
from app.db.models.observability import AppMetric, LogEntry
from app.db.models.person import Person, PersonDistinctId
from app.db.models.tenancy import Organization, OrganizationMembership, PersonalAPIKey, Project, Team, User

__all__ = [
    "ActivityLog",
    "AppMetric",
    "HogFlow",
    "HogFlowBatchJob",
    "HogFlowRevision",
    "HogFlowRun",
    "HogFlowRunStep",
    "HogFlowRunWait",
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
