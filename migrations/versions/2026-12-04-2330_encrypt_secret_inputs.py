"""encrypt secret inputs

Template inputs marked `secret` were stored in clear inside `actions` (and the derived `trigger`), the
open `draft` and every revision's `content`. Each set one is sealed in place with `HOGFLOWS_SECRET_KEY`
(the first key of the list), as a save does now (`app.services.secret_inputs`). Sealed inputs are left
alone, so the migration can run again; downgrade opens them.

Revision ID: 4b8e2d1c6a57
Revises: 95439483ed35
Create Date: 2026-12-04 23:30:00
"""

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.config import get_settings
from app.crypto import SecretBox
from app.services.secret_inputs import open_secret_inputs, seal_secret_inputs

revision: str = "4b8e2d1c6a57"
down_revision: str | None = "95439483ed35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Change = Callable[[list[dict[str, Any]]], object]


def _box() -> SecretBox:
    # Migrations run from entry points (`hogflows migrate`, `serve --migrate`): the environment's key.
    return SecretBox.from_setting(get_settings().secret_key)


def _load(stored: Any) -> Any:
    return json.loads(stored) if isinstance(stored, str) else stored


def _content(value: Any, change: Change) -> Any:
    """`value` (a dict with `actions` and `trigger`) with `change` applied to both, or None when unchanged."""
    if not isinstance(value, dict):
        return None
    updated = copy.deepcopy(value)
    if isinstance(updated.get("actions"), list):
        change(updated["actions"])
    if isinstance(updated.get("trigger"), dict) and updated["trigger"]:
        wrapped = [{"type": "trigger", "config": updated["trigger"]}]
        change(wrapped)
        updated["trigger"] = wrapped[0]["config"]
    return None if updated == value else updated


def _rewrite(change: Change) -> None:
    connection = op.get_bind()
    update_flow = sa.text("UPDATE hog_flows SET actions = :actions, trigger = :trigger, draft = :draft WHERE id = :id")
    update_flow = update_flow.bindparams(
        sa.bindparam("actions", type_=JSON), sa.bindparam("trigger", type_=JSON), sa.bindparam("draft", type_=JSON)
    )
    for row_id, actions, trigger, draft in connection.execute(
        sa.text("SELECT id, actions, trigger, draft FROM hog_flows")
    ).all():
        live = {"actions": _load(actions), "trigger": _load(trigger)}
        new_live = _content(live, change)
        new_draft = _content(_load(draft), change)
        if new_live is None and new_draft is None:
            continue
        live = new_live or live
        connection.execute(
            update_flow,
            {"id": row_id, "actions": live["actions"], "trigger": live["trigger"], "draft": new_draft or _load(draft)},
        )
    update_revision = sa.text("UPDATE hog_flow_revisions SET content = :content WHERE id = :id").bindparams(
        sa.bindparam("content", type_=JSON)
    )
    for row_id, content in connection.execute(sa.text("SELECT id, content FROM hog_flow_revisions")).all():
        new_content = _content(_load(content), change)
        if new_content is not None:
            connection.execute(update_revision, {"id": row_id, "content": new_content})


def upgrade() -> None:
    box = _box()
    _rewrite(lambda actions: seal_secret_inputs(actions, box))


def downgrade() -> None:
    box = _box()
    _rewrite(lambda actions: open_secret_inputs(actions, box))
