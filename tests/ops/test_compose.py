"""compose.yaml and the Dockerfile, checked for structure (no Docker engine runs in the tests)."""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


def test_compose_runs_postgres_redis_the_api_and_two_workers() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "api", "worker"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    api, worker = services["api"], services["worker"]
    assert api["build"] == worker["build"] == "." and api["image"] == worker["image"]
    assert api["command"][:2] == ["hogflows", "serve"] and "0.0.0.0" in api["command"]
    assert worker["command"][:2] == ["hogflows", "worker"] and "--metrics-port" in worker["command"]
    assert worker["deploy"]["replicas"] == 2
    for service in (api, worker):
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        assert "--no-migrate" not in service["command"]  # they migrate at start, under the advisory lock
        for dependency in ("postgres", "redis"):
            assert service["depends_on"][dependency]["condition"] == "service_healthy"
    port = worker["command"][worker["command"].index("--metrics-port") + 1]
    assert f"127.0.0.1:{port}/_health" in " ".join(worker["healthcheck"]["test"])
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    assert set(_compose()["volumes"]) == {"postgres-data", "redis-data"}


def test_dockerfile_has_a_healthcheck_on_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK") :].split("\n\n")[0]
    assert "/_health" in healthcheck and "8000" in healthcheck
