"""Swagger UI in a real headless Chromium: it renders offline, Authorize takes a key, "Try it out" works."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium
from tests.serving import base_env, run, serving

LIST_PATH = "/api/environments/{team_id}/hog_flows/"


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium("1400,2000") as driver:
        yield driver


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """`hogflows serve` on its embedded default, with a tenant."""
    env = base_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'docs.sqlite3'}")
    tenant = json.loads(run(env, "bootstrap", "--json").stdout)
    with serving(env, tmp_path / "serve.log") as serve:
        yield serve.base_url, tenant


def test_swagger_ui_lists_authorizes_and_tries_a_request(browser: Any, served: tuple[str, dict[str, Any]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, tenant = served
    wait = WebDriverWait(browser, 60)
    browser.get(f"{base}/docs")
    wait.until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= 20)
    paths = {element.get_attribute("data-path") for element in browser.find_elements(By.CSS_SELECTOR, "[data-path]")}
    assert LIST_PATH in paths and "/api/environments/{team_id}/hog_flows/{flow_id}/" in paths
    # Offline: every file the page loaded came from the service itself.
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(base) for url in loaded), loaded

    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".auth-wrapper .authorize"))).click()
    key_input = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux input")))
    key_input.send_keys(tenant["api_key"])
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper .authorize").click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper .btn-done"))).click()

    list_get = browser.find_element(By.XPATH, f'//div[contains(@class, "opblock-get")][.//*[@data-path="{LIST_PATH}"]]')
    list_get.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda _: list_get.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()
    team_input = wait.until(lambda _: list_get.find_elements(By.CSS_SELECTOR, 'input[placeholder="team_id"]'))[0]
    team_input.send_keys(str(tenant["team_id"]))
    list_get.find_element(By.CSS_SELECTOR, ".execute").click()
    status = wait.until(
        lambda _: list_get.find_elements(By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status")
    )
    assert status[0].text.strip() == "200"
    body = list_get.find_element(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_description pre"
    ).text
    assert json.loads(body)["count"] == 0
