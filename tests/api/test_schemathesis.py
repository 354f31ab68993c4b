"""Schemathesis (`--checks all`) over the OpenAPI document against `hogflows serve` on PostgreSQL: no 5xx.

Bounded by `HOGFLOWS_SCHEMATHESIS_SECONDS` (default 120 s of fuzzing). Path ids point at real objects so
requests reach the handlers rather than stopping at 404. Other findings (conformance of the document) are
printed, not failed on: the server errors are the contract.
"""

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.batch_helpers import batch_flow, create_flow, schedules_url
from tests.api.helpers import SLACK, auth, integrations_url
from tests.serving import base_env, serving

pytestmark = pytest.mark.postgres_only

SECONDS = int(os.environ.get("HOGFLOWS_SCHEMATHESIS_SECONDS", "120"))
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "server.log"
    env = base_env(DATABASE_URL=database_url, HOGFLOWS_LOG_LEVEL="INFO", HOGFLOWS_SECRET_KEY="schemathesis-key")
    with serving(env, log) as server:
        yield server.base_url, log


async def test_schemathesis_finds_no_server_error(
    client: httpx.AsyncClient, tenant: Tenant, server: tuple[str, Path], tmp_path: Path
) -> None:
    base_url, log = server
    flow_id = await create_flow(client, tenant, batch_flow())
    doomed_flow_id = await create_flow(client, tenant, batch_flow())
    body = {"rrule": "FREQ=DAILY", "starts_at": "2024-01-01T00:00:00Z", "timezone": "UTC"}
    schedule = (await client.post(schedules_url(tenant, flow_id), json=body, headers=auth(tenant))).json()
    integration = (await client.post(integrations_url(tenant), json=SLACK, headers=auth(tenant))).json()
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"""
headers = {{ Authorization = "Bearer {tenant.api_key}" }}

[generation]
max-examples = 10
# NUL has its own probes (test_unstorable_text.py); here it would only make valid data look refused.
allow-x00 = false

[parameters]
"path.team_id" = {tenant.team_id}
"path.flow_id" = "{flow_id}"
"path.schedule_id" = "{schedule["id"]}"
"path.integration_id" = "{integration["id"]}"

[[operations]]
include-method = "DELETE"
include-path-regex = "/hog_flows/\\\\{{flow_id\\\\}}/$"
parameters = {{ "path.flow_id" = "{doomed_flow_id}" }}
"""
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [
            str(SCHEMATHESIS),
            "--no-color",
            "--config-file",
            str(config),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "all",
            "--max-time",
            str(SECONDS),
            "--workers",
            "2",
            "--continue-on-failure",
            "--request-timeout",
            "20",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SECONDS + 300,
        check=False,
    )
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY") :]
    print(summary)
    assert "Test cases:" in summary, output[-3000:]
    server_log = log.read_text(errors="replace")
    server_errors = [line for line in server_log.splitlines() if re.search(r'HTTP/1\.1" 5\d\d', line)]
    assert not server_errors, "\n".join(server_errors[:20])
    assert "Traceback" not in server_log, server_log[-5000:]
    assert "Server error" not in output, output[-5000:]
