"""The web page in headless Chromium against a real `hogflows serve` on the PostgreSQL scratch database.

Screenshots go to `HOGFLOWS_SCREENSHOT_DIR` (the README's pictures come from `docs/`), else a temporary folder.
"""

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser import chromium
from tests.serving import base_env, run, serving
from tests.web.flows import big_flow, branch_and_delay_flow, run_body

WAIT = 30.0


@pytest.fixture(scope="module")
def server(database_url: str, engine: AsyncEngine) -> Iterator[tuple[str, dict[str, str]]]:
    """`hogflows serve` (embedded runner, no Redis) on the already migrated scratch database."""
    del engine
    if not database_url.startswith("postgresql"):
        pytest.skip("the browser tests run on PostgreSQL")
    env = base_env(DATABASE_URL=database_url, HOGFLOWS_SECRET_KEY="browser-test-secret", HOGFLOWS_LOG_LEVEL="WARNING")
    with serving(env) as served:
        yield served.base_url, env


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium("1280,800", page_load_timeout=WAIT) as driver:
        yield driver


@pytest.fixture(scope="module")
def shots() -> Iterator[Path]:
    configured = os.environ.get("HOGFLOWS_SCREENSHOT_DIR")
    folder = Path(configured) if configured else Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    if not configured:
        shutil.rmtree(folder, ignore_errors=True)


def bootstrap(env: dict[str, str]) -> dict[str, Any]:
    result = run(env, "bootstrap", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    tenant: dict[str, Any] = json.loads(result.stdout)
    return tenant


class Api:
    def __init__(self, base_url: str, tenant: dict[str, Any]) -> None:
        self.client = httpx.Client(
            base_url=f"{base_url}/api/projects/{tenant['team_id']}",
            headers={"Authorization": f"Bearer {tenant['api_key']}"},
            timeout=WAIT,
        )

    def post(self, path: str, body: Any) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result


def wait_until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            result = check()
        except Exception:  # the element may be mid-refresh
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT}s: {what}")
        time.sleep(0.2)


def sign_in(driver: Any, base_url: str, key: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.delete_all_cookies()
    driver.get(f"{base_url}/")
    field = driver.find_element(By.ID, "api_key")
    field.send_keys(key, Keys.ENTER)  # the keyboard is enough
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "table.flows, ul.teams, .error"), "signed in")


def boxes(driver: Any) -> list[tuple[str, float, float, float, float]]:
    return [
        tuple(row)
        for row in driver.execute_script(
            "return Array.from(document.querySelectorAll('g.node rect')).map(function (r) {"
            " var b = r.getBoundingClientRect();"
            " return [r.parentNode.getAttribute('data-action-id'), b.x, b.y, b.width, b.height]; });"
        )
    ]


def overlaps(found: list[tuple[str, float, float, float, float]]) -> list[tuple[str, str]]:
    return [
        (a[0], b[0])
        for a, b in combinations(found, 2)
        if a[1] < b[1] + b[3] and b[1] < a[1] + a[3] and a[2] < b[2] + b[4] and b[2] < a[2] + a[4]
    ]


def entered(driver: Any) -> dict[str, str]:
    result: dict[str, str] = driver.execute_script(
        "var out = {}; document.querySelectorAll('g.node').forEach(function (g) {"
        " var c = g.querySelector('.c-entered'); out[g.getAttribute('data-action-id')] = c ? c.textContent : null; });"
        " return out;"
    )
    return result


def test_flow_graph_counts_and_a_runs_path(server: tuple[str, dict[str, str]], browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    base_url, env = server
    tenant = bootstrap(env)
    api = Api(base_url, tenant)
    flow = api.post("/hog_flows/", branch_and_delay_flow())

    sign_in(browser, base_url, tenant["api_key"])
    assert browser.current_url == f"{base_url}/teams/{tenant['team_id']}/flows"
    browser.find_element(By.LINK_TEXT, "Onboarding").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "g.node"), "graph drawn")

    nodes = {
        g.get_attribute("data-action-id"): g.find_element(By.CSS_SELECTOR, ".node-type").text
        for g in browser.find_elements(By.CSS_SELECTOR, "g.node")
    }
    assert nodes == {"trigger": "TRIGGER", "branch": "CONDITION", "wait": "DELAY", "vip": "EXIT", "done": "EXIT"}
    labels = {
        (g.get_attribute("data-from"), g.get_attribute("data-to")): g.find_element(By.CSS_SELECTOR, "text").text
        for g in browser.find_elements(By.CSS_SELECTOR, "g.edge")
    }
    assert labels == {
        ("trigger", "branch"): "continue",
        ("branch", "vip"): "is pro",
        ("branch", "wait"): "else",
        ("wait", "done"): "continue",
    }
    assert overlaps(boxes(browser)) == []
    assert entered(browser)["branch"] == "in 0"
    assert "Plan" in browser.find_element(By.CSS_SELECTOR, "table.vars").text

    # Two persons go through while the page is open: the counts refresh by themselves.
    api.post(f"/hog_flows/{flow['id']}/runs/", run_body("ada", "pro"))
    free = api.post(f"/hog_flows/{flow['id']}/runs/", run_body("bob", "free"))
    expected = {"trigger": "in 2", "branch": "in 2", "vip": "in 1", "wait": "in 1", "done": "in 0"}
    wait_until(lambda: entered(browser) == expected, "counts refreshed")
    browser.save_screenshot(str(shots / "web-flow.png"))

    browser.find_element(By.LINK_TEXT, "Runs").click()
    wait_until(lambda: "bob" in browser.find_element(By.CSS_SELECTOR, "table.runs").text, "runs listed")
    assert "ada" in browser.find_element(By.CSS_SELECTOR, "table.runs").text
    browser.find_element(By.CSS_SELECTOR, f"a[href$='/runs/{free['id']}']").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "g.node.taken"), "path highlighted")
    taken = [g.get_attribute("data-action-id") for g in browser.find_elements(By.CSS_SELECTOR, "g.node.taken")]
    assert taken == ["trigger", "branch", "wait"]
    order = {
        g.find_element(By.XPATH, "..").get_attribute("data-action-id"): g.text
        for g in browser.find_elements(By.CSS_SELECTOR, "g.order")
    }
    assert order == {"branch": "1", "wait": "2"}
    timing = browser.find_element(By.CSS_SELECTOR, "g.node[data-action-id='wait'] .node-timing").text
    assert timing.startswith("waiting ") and timing.endswith(" ms")
    steps = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "ol.steps li")]
    assert steps[0].startswith("Plan? conditional_branch — succeeded") and steps[1].startswith("Wait an hour delay")
    assert "Workflow will pause until" in browser.find_element(By.CSS_SELECTOR, "ol.logs").text
    assert browser.find_element(By.ID, "run-status").text == "waiting"
    browser.save_screenshot(str(shots / "web-run.png"))

    # Archive, confirmed on a page of its own.
    browser.get(f"{base_url}/teams/{tenant['team_id']}/flows/{flow['id']}")
    browser.find_element(By.ID, "archive").click()
    browser.find_element(By.ID, "confirm").click()
    wait_until(lambda: browser.find_element(By.ID, "flow-status").text == "archived", "archived")


def test_a_hundred_action_flow_and_a_phone_screen(
    server: tuple[str, dict[str, str]], browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    base_url, env = server
    tenant = bootstrap(env)
    actions, edges = big_flow(100)
    flow = Api(base_url, tenant).post("/hog_flows/", {"name": "Big", "actions": actions, "edges": edges})
    sign_in(browser, base_url, tenant["api_key"])
    browser.get(f"{base_url}/teams/{tenant['team_id']}/flows/{flow['id']}")
    found = boxes(browser)
    assert len(found) == 101
    assert overlaps(found) == []
    assert len(browser.find_elements(By.CSS_SELECTOR, "g.edge text")) == len(edges)
    trigger_in_view = (
        "var view = document.querySelector('.graph-wrap').getBoundingClientRect();"
        " var box = document.querySelector('g.node.type-trigger').getBoundingClientRect();"
        " return box.left >= view.left && box.right <= view.right;"
    )
    assert wait_until(lambda: browser.execute_script(trigger_in_view), "the wide graph opens on its trigger")

    browser.set_window_size(390, 844)
    browser.get(f"{base_url}/teams/{tenant['team_id']}/flows")
    wide = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 1, "the flows list scrolls sideways on a phone"
    browser.save_screenshot(str(shots / "web-flows-phone.png"))
    browser.get(f"{base_url}/teams/{tenant['team_id']}/flows/{flow['id']}")
    wide = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 1, "only the graph's own box may scroll on a phone"


def test_another_organization_sees_none_of_it(server: tuple[str, dict[str, str]], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base_url, env = server
    owner, stranger = bootstrap(env), bootstrap(env)
    flow = Api(base_url, owner).post("/hog_flows/", branch_and_delay_flow("Secret plan"))

    sign_in(browser, base_url, stranger["api_key"])
    assert "Secret plan" not in browser.page_source
    assert "No flows match." in browser.find_element(By.CSS_SELECTOR, "table.flows").text
    for path in ("flows", f"flows/{flow['id']}", f"flows/{flow['id']}/runs", f"flows/{flow['id']}/logs"):
        browser.get(f"{base_url}/teams/{owner['team_id']}/{path}")
        assert browser.find_element(By.ID, "error").text == "403 You don't have access to the project."
        assert "Secret plan" not in browser.page_source
    browser.get(f"{base_url}/teams/{stranger['team_id']}/flows/{flow['id']}")
    assert browser.find_element(By.ID, "error").text == "404 Not found."

    browser.delete_all_cookies()
    browser.get(f"{base_url}/")
    browser.find_element(By.ID, "api_key").send_keys("phx_wrong\n")
    wait_until(lambda: browser.find_elements(By.ID, "error"), "error shown")
    assert browser.find_element(By.ID, "error").text == "Personal API key found in request body is invalid."


def test_a_batch_jobs_progress_bar_moves_while_the_page_is_open(
    server: tuple[str, dict[str, str]], browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    base_url, env = server
    tenant = bootstrap(env)
    api = Api(base_url, tenant)
    audience = [{"key": "plan", "value": "pro", "type": "person"}]
    flow = api.post(
        "/hog_flows/",
        {
            "name": "Newsletter",
            "status": "active",
            "actions": [
                {
                    "id": "trigger",
                    "name": "Everyone",
                    "type": "trigger",
                    "config": {"type": "batch", "filters": {"properties": audience}},
                },
                {"id": "done", "name": "Done", "type": "exit", "config": {}},
            ],
            "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
        },
    )
    persons = [{"distinct_id": f"p{i}", "properties": {"plan": "pro"}} for i in range(5)]
    api.post("/persons/", {"persons": persons})
    sign_in(browser, base_url, tenant["api_key"])
    browser.get(f"{base_url}/teams/{tenant['team_id']}/flows/{flow['id']}")
    wait_until(lambda: "No batch jobs yet" in browser.find_element(By.ID, "batch-jobs").text, "empty job list")

    api.post(f"/hog_flows/{flow['id']}/batch_jobs/", {"variables": []})

    def progress() -> tuple[str, str]:
        bar = browser.find_element(By.CSS_SELECTOR, "#batch-jobs progress")
        return bar.get_attribute("value"), bar.get_attribute("max")

    wait_until(lambda: progress() == ("5", "5"), "the bar filled up without a reload")
    assert "5 of 5 runs finished" in browser.find_element(By.ID, "batch-jobs").text
