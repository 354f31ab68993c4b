"""Integration tokens: encrypted at rest, rotatable keys, never in an answer, a log or a run's state."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.crypto import SecretBox, SecretDecryptionError, split_keys, warn_if_default_key
from app.db.models import Integration
from app.db.repositories.integrations import IntegrationRepository
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.logging import database_error_summary, mask_query_secrets
from app.services.bootstrap import Tenant, bootstrap_tenant
from tests.api.helpers import auth, flows_url, integrations_url
from tests.api.migration_helpers import migrate, own_database
from tests.conftest import TenantFactory
from tests.functions.db_helpers import app_secret_box
from tests.serving import base_env, serving

TOKEN = "xoxb-top-secret-token-42"
SLACK = {
    "kind": "slack",
    "integration_id": "T9",
    "config": {"team": {"id": "T9", "name": "Acme"}},
    "sensitive_config": {"access_token": TOKEN},
}
EVENT = {"uuid": "e-1", "event": "signed_up", "distinct_id": "u1", "timestamp": "2025-01-01T00:00:00Z"}


def slack_flow(integration_id: int) -> dict[str, Any]:
    step = {
        "id": "slack",
        "name": "slack",
        "type": "function",
        "config": {
            "template_id": "template-slack",
            "inputs": {
                "slack_workspace": {"value": integration_id},
                "channel": {"value": "C1"},
                "text": {"value": "hello"},
            },
        },
    }
    return {
        "name": "slack",
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
            step,
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "slack", "type": "continue"},
            {"from": "slack", "to": "done", "type": "continue"},
        ],
    }


def test_keys_rotate_and_any_string_is_a_key() -> None:
    old = SecretBox(["old passphrase"])
    token = old.encrypt("s3cret")
    assert "s3cret" not in token
    rotated = SecretBox.from_setting("new key, old passphrase")
    assert rotated.decrypt(token) == "s3cret"
    # The first key encrypts: the old key alone cannot read what the rotated setting writes.
    with pytest.raises(SecretDecryptionError):
        old.decrypt(rotated.encrypt("x"))
    assert split_keys(" a ,, b ") == ["a", "b"]
    sealed = rotated.seal_json({"access_token": "t"})
    assert rotated.open_json(sealed) == {"access_token": "t"}
    assert rotated.open_json({"access_token": "plain"}) == {"access_token": "plain"}  # rows from before


def test_the_default_key_warns_on_postgresql_only() -> None:
    assert warn_if_default_key("insecure-dev-secret", is_sqlite=False)
    assert warn_if_default_key("new, insecure-dev-secret", is_sqlite=False)
    assert not warn_if_default_key("insecure-dev-secret", is_sqlite=True)
    assert not warn_if_default_key("a real key", is_sqlite=False)


def test_access_log_masks_the_query_string_key() -> None:
    assert mask_query_secrets("/api/x/?personal_api_key=phx_abc&limit=1") == "/api/x/?personal_api_key=***&limit=1"
    assert mask_query_secrets("/api/x/?a=1&PERSONAL_API_KEY=phx_abc") == "/api/x/?a=1&PERSONAL_API_KEY=***"
    assert mask_query_secrets("/api/x/?my_personal_api_key=1") == "/api/x/?my_personal_api_key=1"


async def test_tokens_are_encrypted_at_rest_and_plain_rows_still_read(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await client.post(integrations_url(tenant), json=SLACK, headers=auth(tenant))
    assert response.status_code == 201, response.text
    integration_id = response.json()["id"]
    async with session_scope(sessionmaker) as session:
        stored = await session.scalar(
            text("SELECT sensitive_config FROM integrations WHERE id = :id"), {"id": integration_id}
        )
        stored_text = stored if isinstance(stored, str) else json.dumps(stored)
        assert TOKEN not in stored_text
        assert "$fernet" in stored_text
        resolved = await IntegrationRepository(session, app_secret_box()).resolve(tenant.team_id, integration_id)
        assert resolved is not None and resolved.sensitive_config == {"access_token": TOKEN}
        # A row written before encryption (or before its migration ran) still reads.
        legacy = Integration(team_id=tenant.team_id, kind="slack", config={}, sensitive_config={"access_token": "p"})
        session.add(legacy)
        await session.flush()
        resolved = await IntegrationRepository(session, app_secret_box()).resolve(tenant.team_id, legacy.id)
        assert resolved is not None and resolved.sensitive_config == {"access_token": "p"}


async def test_a_flow_writer_never_reads_a_token_through_a_mocked_invocation(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    response = await client.post(integrations_url(tenant), json=SLACK, headers=auth(tenant))
    integration_id = response.json()["id"]
    # The same user, with a second key that may only write flows (it cannot read integrations).
    writer = await make_tenant(email=tenant.email, scopes=["hog_flow:write"])
    headers = {"Authorization": f"Bearer {writer.api_key}"}
    assert (await client.get(integrations_url(tenant), headers=headers)).status_code == 403
    body = {"configuration": slack_flow(integration_id), "globals": {"event": EVENT}}
    result = await client.post(f"{flows_url(tenant)}new/invocations/", json=body, headers=headers)
    assert result.status_code == 200, result.text
    assert TOKEN not in result.text
    messages = "\n".join(log["message"] for log in result.json()["logs"])
    assert "was mocked with arguments" in messages
    assert "Bearer ***REDACTED***" in messages


def test_database_errors_are_logged_without_values() -> None:
    engine = create_engine("postgresql+asyncpg://127.0.0.1:5432/test")
    assert engine.sync_engine.hide_parameters
    try:
        try:
            raise ValueError(f"invalid input for query argument $2: '{TOKEN}' (out of range)")
        except ValueError as driver_error:
            raise DBAPIError("INSERT INTO integrations ...", {"token": TOKEN}, driver_error) from driver_error
    except DBAPIError as error:
        summary = database_error_summary(error)
    assert TOKEN not in json.dumps(summary)
    assert summary["error_types"][:2] == ["DBAPIError", "ValueError"]


@pytest.mark.postgres_only
async def test_a_served_api_warns_of_the_default_key_and_logs_no_secret(
    database_url: str, tmp_path: Path, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant()
    log = tmp_path / "server.log"
    env = base_env(DATABASE_URL=database_url, HOGFLOWS_LOG_LEVEL="INFO")
    with serving(env, log) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            url = integrations_url(tenant)
            headers = {**auth(tenant), "Content-Type": "application/json"}
            with_nul = {**SLACK, "integration_id": "a\x00b"}
            assert (await http.post(url, content=json.dumps(with_nul), headers=headers)).status_code == 400
            too_long = {**SLACK, "integration_id": "x" * 500}
            assert (await http.post(url, content=json.dumps(too_long), headers=headers)).status_code == 400
            assert (await http.post(url, content=json.dumps(SLACK), headers=headers)).status_code == 201
            listed = await http.get(url, params={"personal_api_key": tenant.api_key})
            assert listed.status_code == 200 and TOKEN not in listed.text
    output = log.read_text(errors="replace")
    assert "HOGFLOWS_SECRET_KEY is the built-in default" in output
    assert "/integrations/" in output  # the requests were logged...
    assert tenant.api_key not in output  # ...without the key from the query string
    assert TOKEN not in output


async def test_the_migration_encrypts_plain_tokens_and_its_downgrade_restores_them(
    database_url: str, tmp_path: Path
) -> None:
    # A database of its own: the migration touches every row, and other tests seal tokens with other keys.
    async with own_database(database_url, tmp_path, "hogflows_migration") as engine:
        sessionmaker = create_sessionmaker(engine)
        async with session_scope(sessionmaker) as session:
            tenant = await bootstrap_tenant(session)
            plain = Integration(
                team_id=tenant.team_id, kind="slack", config={}, sensitive_config={"access_token": TOKEN}
            )
            session.add(plain)
            await session.flush()
            plain_id = plain.id

        async def stored() -> Any:
            async with session_scope(sessionmaker) as session:
                value = await session.scalar(
                    text("SELECT sensitive_config FROM integrations WHERE id = :id"), {"id": plain_id}
                )
            return json.loads(value) if isinstance(value, str) else value

        await migrate(engine, "33d738630357")
        assert await stored() == {"access_token": TOKEN}  # everything plain, as before encryption existed
        await migrate(engine, "head")
        sealed = await stored()
        assert TOKEN not in json.dumps(sealed)
        assert app_secret_box().open_json(sealed) == {"access_token": TOKEN}
