"""`hogflows serve`, `worker`, `migrate` and `bootstrap` as an operator starts them on PostgreSQL."""

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.db.scratch import scratch_database
from tests.ops.proxy import TcpProxy
from tests.polling import wait_until
from tests.serving import ROOT, base_env, free_port, run, serving

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def empty_database(database_url: str) -> AsyncIterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    async with scratch_database(database_url, "hogflows_ops") as url:
        yield url


def _one_error_line(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    line: dict[str, object] = json.loads(lines[0])
    assert line["level"] == "error"
    return line


def test_serve_migrates_an_empty_database_and_answers(empty_database: str, tmp_path: Path) -> None:
    env = base_env(DATABASE_URL=empty_database, HOGFLOWS_LOG_JSON="true")
    with serving(env, tmp_path / "serve.log") as serve:
        base = serve.base_url
        ready = httpx.get(f"{base}/_readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}
        tenant = json.loads(run(env, "bootstrap", "--json").stdout)
        flows = f"{base}/api/projects/{tenant['project_id']}/hog_flows/"
        response = httpx.get(flows, headers={"Authorization": f"Bearer {tenant['api_key']}"})
        assert response.status_code == 200, response.text
        assert all(isinstance(line, dict) for line in serve.json_lines())


def test_bootstrap_on_an_empty_database(empty_database: str) -> None:
    result = run(base_env(DATABASE_URL=empty_database), "bootstrap", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["api_key"].startswith("phx_")


def test_no_migrate_refuses_a_schema_behind_head_in_one_line(empty_database: str) -> None:
    env = base_env(DATABASE_URL=empty_database, HOGFLOWS_LOG_JSON="true")
    line = _one_error_line(run(env, "serve", "--no-migrate", "--port", str(free_port())))
    assert "hogflows migrate" in str(line["event"])
    assert run(env, "migrate").returncode == 0


def test_processes_starting_together_migrate_once(empty_database: str) -> None:
    env = base_env(DATABASE_URL=empty_database)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()


def test_operator_errors_are_one_line_and_exit_non_zero(database_url: str) -> None:
    closed = f"127.0.0.1:{free_port()}"
    env = base_env(DATABASE_URL=database_url, HOGFLOWS_LOG_JSON="true")
    no_redis = _one_error_line(run(env, "worker"))
    assert "REDIS_URL" in str(no_redis["event"])
    redis_down = _one_error_line(run({**env, "REDIS_URL": f"redis://{closed}/0"}, "worker"))
    assert "Redis" in str(redis_down["event"])
    redis = f"redis://127.0.0.1:6379/{os.environ.get('HOGFLOWS_TEST_REDIS_DB', '15')}"
    postgres_down = {**env, "DATABASE_URL": f"postgresql://{closed}/x", "REDIS_URL": redis}
    assert "cannot reach the database" in str(_one_error_line(run(postgres_down, "worker"))["event"])
    assert "cannot reach the database" in str(_one_error_line(run(postgres_down, "serve"))["event"])
    bad_setting = _one_error_line(run({**env, "HOGFLOWS_SWEEP_INTERVAL": "0"}, "migrate"))
    assert "HOGFLOWS_SWEEP_INTERVAL" in str(bad_setting["event"])


def test_the_sweeper_backs_off_while_postgresql_is_down(database_url: str, tmp_path: Path) -> None:
    proxy = TcpProxy(5432)
    proxied = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    env = base_env(DATABASE_URL=proxied, HOGFLOWS_LOG_JSON="true", HOGFLOWS_ACCESS_LOG="false")
    with serving(env, tmp_path / "serve.log") as serve:
        base = serve.base_url
        proxy.hang_up()
        serve.wait_for_line(lambda line: "paused" in line["event"])
        unready = wait_until(lambda: (r := httpx.get(f"{base}/_readyz", timeout=30)).status_code == 503 and r)
        assert "database" in unready.json()["checks"]
        assert unready.json()["checks"]["database"] != "ok"
        request = httpx.get(f"{base}/api/projects/1/hog_flows/", headers={"Authorization": "Bearer phx_x"}, timeout=30)
        assert request.status_code == 503, request.text
        assert request.json()["code"] == "service_unavailable" and request.json()["attr"] is None
        lines_then, attempts_then = len(serve.json_lines()), proxy.hung_up

        # Counted in reconnection attempts, not seconds, so a starved process is not let off: over several
        # passes of its loops (each tries PostgreSQL again), the paused loops add at most a few lines.
        def retried() -> bool:
            assert httpx.get(f"{base}/_health", timeout=30).status_code == 200
            return proxy.hung_up >= attempts_then + 6

        wait_until(retried, within=120)
        assert serve.popen.poll() is None
        assert [line for line in serve.json_lines() if "exception" in line] == []
        assert len(serve.json_lines()) - lines_then <= 3, serve.log_text()
