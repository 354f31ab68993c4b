"""encrypt integration secrets

Integration tokens (`sensitive_config`) written before encryption existed are encrypted in place with
`HOGFLOWS_SECRET_KEY` (the first key of the list). Rows already encrypted are left alone, so the migration
can run again safely; the code reads both forms in any case.

Revision ID: 7c1f4e2a9b10
Revises: 33d738630357
Create Date: 2026-12-04 20:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.config import get_settings
from app.crypto import SecretBox, is_sealed

revision: str = "7c1f4e2a9b10"
down_revision: str | None = "33d738630357"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _box() -> SecretBox:
    # Migrations run from entry points (`hogflows migrate`, `serve --migrate`): the environment's key.
    return SecretBox.from_setting(get_settings().secret_key)


def upgrade() -> None:
    connection = op.get_bind()
    box = _box()
    rows = connection.execute(sa.text("SELECT id, sensitive_config FROM integrations")).all()
    for row_id, stored in rows:
        value = json.loads(stored) if isinstance(stored, str) else stored
        if not isinstance(value, dict) or is_sealed(value):
            continue
        connection.execute(
            sa.text("UPDATE integrations SET sensitive_config = :sealed WHERE id = :id").bindparams(
                sa.bindparam("sealed", type_=JSON)
            ),
            {"sealed": box.seal_json(value), "id": row_id},
        )


def downgrade() -> None:
    connection = op.get_bind()
    box = _box()
    rows = connection.execute(sa.text("SELECT id, sensitive_config FROM integrations")).all()
    for row_id, stored in rows:
        value = json.loads(stored) if isinstance(stored, str) else stored
        if not is_sealed(value):
            continue
        connection.execute(
            sa.text("UPDATE integrations SET sensitive_config = :plain WHERE id = :id").bindparams(
                sa.bindparam("plain", type_=JSON)
            ),
            {"plain": box.open_json(value), "id": row_id},
        )
