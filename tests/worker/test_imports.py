"""The worker must not load the web framework: domain errors live in `app.errors`, not `app.api`."""

import subprocess
import sys

import pytest

WORKER_MODULES = ["app.worker.arq_worker", "app.worker.processor", "app.batch.tasks", "app.ingest.pipeline"]


@pytest.mark.parametrize("module", WORKER_MODULES)
def test_worker_modules_do_not_import_fastapi(module: str) -> None:
    # A fresh interpreter: this test process has FastAPI loaded already.
    check = (
        f"import sys, {module}; "
        "loaded = sorted(m for m in sys.modules if m.partition('.')[0] in ('fastapi', 'starlette') "
        "or m.startswith('app.api')); "
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
