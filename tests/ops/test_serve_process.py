"""A served API process: readiness when Redis goes away, request ids in its JSON log lines."""

import os
import uuid
from pathlib import Path

import httpx
import pytest

from tests.ops.proxy import TcpProxy
from tests.polling import wait_until
from tests.serving import base_env, child_pids, process_running, serving

pytestmark = pytest.mark.postgres_only


def test_readyz_names_redis_when_it_is_unreachable(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    redis_db = os.environ.get("HOGFLOWS_TEST_REDIS_DB", "15")
    proxy = TcpProxy(6379)
    env = base_env(
        DATABASE_URL=database_url,
        REDIS_URL=f"redis://127.0.0.1:{proxy.port}/{redis_db}",
        HOGFLOWS_QUEUE_NAME=f"hogflows-ops-{uuid.uuid4().hex[:8]}",
        HOGFLOWS_LOG_JSON="true",
    )
    with serving(env, tmp_path / "serve.log") as serve:
        base = serve.base_url
        ready = httpx.get(f"{base}/_readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}

        response = httpx.get(f"{base}/api/projects/1/hog_flows/", headers={"X-Request-ID": "trace-me-1"})
        assert response.status_code == 401
        assert response.headers["x-request-id"] == "trace-me-1"
        line = serve.wait_for_line(lambda line: line.get("request_id") == "trace-me-1")
        assert line["route"] == "/api/projects/{team_id}/hog_flows/" and line["status"] == 401

        proxy.close()
        unready = wait_until(lambda: (r := httpx.get(f"{base}/_readyz", timeout=10)).status_code == 503 and r)
        body = unready.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("Redis is not reachable")
        assert httpx.get(f"{base}/_health").status_code == 200
    assert all("exception" not in line for line in serve.json_lines()), serve.log_text()


def test_parse_processes_end_with_a_killed_server(database_url: str, tmp_path: Path) -> None:
    env = base_env(DATABASE_URL=database_url, HOGFLOWS_QUEUE_NAME=f"hogflows-ops-{uuid.uuid4().hex[:8]}")
    with serving(env, tmp_path / "serve.log") as serve:
        # The parse pool starts before the server answers; each of its processes is a child of the server.
        children = child_pids(serve.popen.pid)
        assert len(children) >= 2 and all(process_running(pid) for pid in children), children
        assert "template_warm_up_incomplete" not in serve.log_text()
        serve.kill()
        assert wait_until(lambda: not any(process_running(pid) for pid in children), within=20)
