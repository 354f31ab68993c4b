"""The web page over real HTTP (the app in-process, PostgreSQL): sign-in, permission checks, errors in the page."""

import re
from typing import Any

import httpx

from app.services.bootstrap import Tenant
from app.web.session import COOKIE_NAME
from tests.api.helpers import auth, flows_url
from tests.conftest import TenantFactory
from tests.polling import wait_for
from tests.web.flows import branch_and_delay_flow, run_body


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.post("/login", data={"api_key": key})


async def create_flow(client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any] | None = None) -> str:
    response = await client.post(flows_url(tenant), json=payload or branch_and_delay_flow(), headers=auth(tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def error_of(page: httpx.Response) -> str:
    match = re.search(r'<div class="error"[^>]*>\s*<strong>(\d+)</strong>\s*(.*?)\s*(?:<span|</div>)', page.text, re.S)
    assert match, page.text
    return f"{match.group(1)} {match.group(2)}"


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def test_sign_in_sets_a_signed_http_only_cookie_without_the_key(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and 'name="api_key"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    wrong = await sign_in(client, "phx_not_a_key")
    assert wrong.status_code == 401
    assert "Personal API key found in request body is invalid." in wrong.text
    empty = await sign_in(client, "")
    assert empty.status_code == 401 and "Authentication credentials were not provided." in empty.text

    response = await sign_in(client, tenant.api_key)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert tenant.api_key not in cookie
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"] == f"/teams/{tenant.team_id}/flows"

    # A tampered cookie is no session.
    value = client.cookies[COOKIE_NAME]
    client.cookies.set(COOKIE_NAME, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    tampered = await client.get(f"/teams/{tenant.team_id}/flows")
    assert tampered.status_code == 401 and 'name="api_key"' in tampered.text


async def test_flows_list_filters_and_counts_runs_of_the_week(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, branch_and_delay_flow("Welcome series"))
    await create_flow(client, tenant, {**branch_and_delay_flow("Winback"), "status": "draft"})
    run = await client.post(f"{flows_url(tenant)}{flow_id}/runs/", json=run_body("ada", "free"), headers=auth(tenant))
    assert run.status_code == 201
    await sign_in(client, tenant.api_key)

    page = await client.get(f"/teams/{tenant.team_id}/flows")
    assert page.status_code == 200
    assert "Welcome series" in page.text and "Winback" in page.text
    row = re.search(r"Welcome series</a></td>(.*?)</tr>", page.text, re.S)
    assert row and re.findall(r'<td class="num[^"]*">(\d+)</td>', row.group(1)) == ["1", "0"]

    drafts = await client.get(f"/teams/{tenant.team_id}/flows", params={"status": "draft"})
    assert "Winback" in drafts.text and "Welcome series" not in drafts.text
    searched = await client.get(f"/teams/{tenant.team_id}/flows", params={"search": "welcome"})
    assert "Welcome series" in searched.text and "Winback" not in searched.text

    bad = await client.get(f"/teams/{tenant.team_id}/flows", params={"status": "paused"})
    assert bad.status_code == 400
    assert error_of(bad) == "400 Select a valid choice. &#34;paused&#34; is not one of the available choices."


async def test_every_page_applies_the_apis_permission_checks(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    flow_id = await create_flow(client, tenant)
    run = await client.post(f"{flows_url(tenant)}{flow_id}/runs/", json=run_body("ada", "pro"), headers=auth(tenant))
    run_id = run.json()["id"]
    pages = [
        f"/teams/{tenant.team_id}/flows",
        f"/teams/{tenant.team_id}/flows/{flow_id}",
        f"/teams/{tenant.team_id}/flows/{flow_id}?fragment=1",
        f"/teams/{tenant.team_id}/flows/{flow_id}/runs",
        f"/teams/{tenant.team_id}/flows/{flow_id}/runs/{run_id}",
        f"/teams/{tenant.team_id}/flows/{flow_id}/logs",
        f"/teams/{tenant.team_id}/flows/{flow_id}/batch_jobs?fragment=1",
        f"/teams/{tenant.team_id}/flows/{flow_id}/status?to=archived",
    ]
    for path in pages:
        assert (await client.get(path)).status_code == 401, path

    stranger = await make_tenant(organization_name="Other org")
    await sign_in(client, stranger.api_key)
    assert (await client.get("/")).headers["location"] == f"/teams/{stranger.team_id}/flows"
    for path in pages:
        page = await client.get(path)
        assert page.status_code == 403, path
        assert error_of(page) == "403 You don&#39;t have access to the project.", path
        assert "Onboarding" not in page.text
    mine = await client.get(f"/teams/{stranger.team_id}/flows/{flow_id}")
    assert mine.status_code == 404 and error_of(mine) == "404 Not found."

    no_read = await make_tenant(scopes=["person:read"])
    client.cookies.clear()
    await sign_in(client, no_read.api_key)
    denied = await client.get(f"/teams/{no_read.team_id}/flows")
    assert error_of(denied) == "403 API key missing required scope &#39;hog_flow:read&#39;"

    other_team_only = await make_tenant(scoped_teams=[stranger.team_id])
    client.cookies.clear()
    await sign_in(client, other_team_only.api_key)
    assert (await client.get("/")).status_code == 200  # no project this key may open: an empty list
    scoped = await client.get(f"/teams/{other_team_only.team_id}/flows")
    assert (
        error_of(scoped) == f"403 API key does not have access to the requested project: ID {other_team_only.team_id}."
    )


async def test_bad_input_shows_the_apis_message(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant)
    await sign_in(client, tenant.api_key)
    base = f"/teams/{tenant.team_id}/flows"
    cases = {
        f"{base}/not-a-uuid": "404 Not found.",
        f"{base}/{flow_id}?period=yesterday": None,
        f"{base}/{flow_id}/runs?status=done": "400",
        f"{base}/{flow_id}/runs/00000000-0000-0000-0000-000000000000": "404 Not found.",
        f"{base}/{flow_id}/logs?level=LOUD": "400",
        f"{base}/{flow_id}/status?to=deleted": "400",
        "/teams/nope/flows": "404 Project not found.",
    }
    for path, expected in cases.items():
        page = await client.get(path)
        assert 400 <= page.status_code < 500, path
        message = error_of(page)
        assert message.startswith(expected or "400"), (path, message)
    period = await client.get(f"{base}/{flow_id}", params={"period": "yesterday", "fragment": "1"})
    assert period.status_code == 400 and 'class="attr">(period)' in period.text and "<html" not in period.text


async def test_activate_and_archive_need_confirmation_and_a_token(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant)
    await sign_in(client, tenant.api_key)
    flow_page = f"/teams/{tenant.team_id}/flows/{flow_id}"
    confirm = await client.get(f"{flow_page}/status", params={"to": "archived"})
    assert confirm.status_code == 200 and "Yes, archive" in confirm.text

    forged = await client.post(f"{flow_page}/status", data={"to": "archived", "csrf": "forged"})
    assert forged.status_code == 403
    done = await client.post(f"{flow_page}/status", data={"to": "archived", "csrf": csrf_of(confirm)})
    assert done.status_code == 303 and done.headers["location"] == flow_page
    stored = await client.get(f"{flows_url(tenant)}{flow_id}/", headers=auth(tenant))
    assert stored.json()["status"] == "archived"

    # Activation validates strictly, as the API does; the API's message shows in the page.
    broken = branch_and_delay_flow("Broken")
    broken["status"] = "draft"
    broken["actions"][2]["config"] = {"delay_duration": "soon"}
    broken_id = await create_flow(client, tenant, broken)
    refused = await client.post(
        f"/teams/{tenant.team_id}/flows/{broken_id}/status", data={"to": "active", "csrf": csrf_of(confirm)}
    )
    assert refused.status_code == 400 and "delay_duration must be a string" in error_of(refused)


async def test_runs_run_path_and_logs(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant)
    url = f"{flows_url(tenant)}{flow_id}/runs/"
    pro = (await client.post(url, json=run_body("ada", "pro"), headers=auth(tenant))).json()["id"]
    free = (await client.post(url, json=run_body("bob", "free"), headers=auth(tenant))).json()["id"]

    async def settled() -> bool:
        runs = (await client.get(url, headers=auth(tenant))).json()["results"]
        return sorted(r["status"] for r in runs) == ["completed", "waiting"]

    await wait_for(settled, within=30)
    await sign_in(client, tenant.api_key)
    base = f"/teams/{tenant.team_id}/flows/{flow_id}"

    graph = await client.get(base, params={"fragment": "1"})
    counts = dict(re.findall(r'data-action-id="(\w+)".*?class="c-entered">in (\d+)<', graph.text, re.S))
    assert counts == {"trigger": "2", "branch": "2", "wait": "1", "vip": "1", "done": "0"}

    runs = await client.get(f"{base}/runs", params={"person": "bob"})
    assert f"/runs/{free}" in runs.text and f"/runs/{pro}" not in runs.text
    waiting = await client.get(f"{base}/runs", params={"status": "waiting"})
    assert f"/runs/{free}" in waiting.text and f"/runs/{pro}" not in waiting.text

    run = await client.get(f"{base}/runs/{free}")
    taken = re.findall(r'<g class="node type-\w+ taken" data-action-id="(\w+)"', run.text)
    assert taken == ["trigger", "branch", "wait"]
    assert re.findall(r'<g class="edge edge-\w+ taken" data-from="(\w+)" data-to="(\w+)"', run.text) == [
        ("trigger", "branch"),
        ("branch", "wait"),
    ]
    assert "Workflow will pause until" in run.text

    logs = await client.get(f"{base}/logs", params={"search": "pause until"})
    assert logs.text.count('class="log level-') == 1
    debug = await client.get(f"{base}/logs", params={"level": "debug", "fragment": "1"})
    assert "<html" not in debug.text and 'class="log level-debug"' in debug.text
    assert 'class="log level-info"' not in debug.text
