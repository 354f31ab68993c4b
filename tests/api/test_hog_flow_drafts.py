"""Drafts on live flows, publish (preview/confirm), discard, revisions and restore, and safe concurrent
edits, as PostHog's current API answers them (its test_hog_flow_draft_publish.py and test_hog_flow_revisions.py)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlow
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from app.services.hog_flow_publishing import mint_confirm_token
from tests.api.draft_helpers import (
    create_active,
    flow_url,
    get,
    graph,
    urls,
    versioned_flow,
    webhook_action,
)
from tests.api.helpers import auth, flows_url, trigger_action
from tests.polling import wait_for

STALE_DETAIL = (
    "This workflow was updated elsewhere since you loaded it. Reload to get the latest version before saving."
)
SECRET = "insecure-dev-secret"  # the test app's Settings default


async def stage(
    client: httpx.AsyncClient, tenant: Tenant, flow_id: str, url: str = "https://changed.example.com", **extra: Any
) -> httpx.Response:
    body = {**graph(trigger_action(), webhook_action(url=url)), "stage_draft": True, **extra}
    return await client.patch(flow_url(tenant, flow_id), json=body, headers=auth(tenant))


async def preview(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> dict[str, Any]:
    response = await client.post(flow_url(tenant, flow_id, "publish"), json={}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def publish(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> dict[str, Any]:
    token = (await preview(client, tenant, flow_id))["confirm_token"]
    response = await client.post(
        flow_url(tenant, flow_id, "publish"), json={"confirm": True, "confirm_token": token}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def revisions(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> list[dict[str, Any]]:
    response = await client.get(flow_url(tenant, flow_id, "revisions"), headers=auth(tenant))
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


class TestStagingDrafts:
    async def test_stage_draft_on_active_flow_leaves_live_alone(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow = await create_active(client, tenant)
        response = await stage(client, tenant, flow["id"], name="Renamed live")
        assert response.status_code == 200, response.text
        body = response.json()
        assert urls(body["actions"]) == ["https://example.com"]
        assert urls(body["draft"]["actions"]) == ["https://changed.example.com"]
        assert body["draft_updated_at"] is not None
        assert body["name"] == "Renamed live"
        assert body["version"] == 1
        stored = await get(client, tenant, flow["id"])
        assert stored["draft"] == body["draft"]
        assert set(stored["draft"]) == {
            "actions",
            "edges",
            "trigger",
            "trigger_masking",
            "conversion",
            "exit_condition",
            "abort_action",
            "variables",
        }

    async def test_mcp_header_stages_too(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        body = {**graph(trigger_action(), webhook_action(url="https://mcp.example.com"))}
        headers = {**auth(tenant), "x-posthog-client": "mcp"}
        response = await client.patch(flow_url(tenant, flow["id"]), json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert urls(response.json()["actions"]) == ["https://example.com"]
        assert urls(response.json()["draft"]["actions"]) == ["https://mcp.example.com"]

    async def test_stage_draft_on_inactive_flow_applies_live(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        created = await client.post(
            flows_url(tenant), json={**graph(trigger_action(), webhook_action())}, headers=auth(tenant)
        )
        response = await stage(client, tenant, created.json()["id"])
        assert response.status_code == 200, response.text
        assert response.json()["draft"] is None
        assert urls(response.json()["actions"]) == ["https://changed.example.com"]

    async def test_invalid_draft_is_rejected_and_nothing_is_staged(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow = await create_active(client, tenant)
        bad = {"id": "action_1", "name": "action_1", "type": "function", "config": {"template_id": "nope"}}
        response = await client.patch(
            flow_url(tenant, flow["id"]),
            json={**graph(trigger_action(), bad), "stage_draft": True},
            headers=auth(tenant),
        )
        assert response.status_code == 400, response.text
        assert response.json()["type"] == "validation_error"
        assert (await get(client, tenant, flow["id"]))["draft"] is None

    async def test_second_stage_composes_on_the_draft(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        assert (await stage(client, tenant, flow["id"])).status_code == 200
        response = await client.patch(
            flow_url(tenant, flow["id"]),
            json={"variables": [{"key": "plan", "default": "free"}], "stage_draft": True},
            headers=auth(tenant),
        )
        assert response.status_code == 200, response.text
        draft = response.json()["draft"]
        assert urls(draft["actions"]) == ["https://changed.example.com"]
        assert draft["variables"] == [{"key": "plan", "default": "free"}]
        assert response.json()["variables"] == []


class TestPublish:
    async def test_preview_changes_nothing_and_reports_impact(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        await stage(client, tenant, flow["id"])
        body = await preview(client, tenant, flow["id"])
        assert body["in_flight_runs"] == 0
        assert body["draft_updated_at"] is not None
        assert body["confirm_token"]
        assert body["impact"] == {
            "deleted_steps": [],
            "position_unknown": 0,
            "empty_variables": [],
            "schedule_conflicts": [],
        }
        stored = await get(client, tenant, flow["id"])
        assert urls(stored["actions"]) == ["https://example.com"]
        assert stored["draft"] is not None

    async def test_preview_lists_deleted_steps(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        response = await client.patch(
            flow_url(tenant, flow["id"]),
            json={**graph(trigger_action()), "stage_draft": True},
            headers=auth(tenant),
        )
        assert response.status_code == 200, response.text
        impact = (await preview(client, tenant, flow["id"]))["impact"]
        assert impact["deleted_steps"] == [
            {"action_id": "action_1", "name": "action_1", "runs": 0, "moves_to": None, "exits": False}
        ]

    async def test_confirm_promotes_the_draft(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        await stage(client, tenant, flow["id"])
        body = await publish(client, tenant, flow["id"])
        workflow = body["workflow"]
        assert urls(workflow["actions"]) == ["https://changed.example.com"]
        assert workflow["draft"] is None
        assert workflow["draft_updated_at"] is None
        assert workflow["version"] == 2
        trigger = next(a for a in workflow["actions"] if a["type"] == "trigger")
        assert trigger["config"]["filters"]["bytecode"], "publish compiles the trigger filters"
        assert [r["version"] for r in await revisions(client, tenant, flow["id"])] == [2, 1]

    async def test_token_for_an_edited_draft_is_stale(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        await stage(client, tenant, flow["id"])
        token = (await preview(client, tenant, flow["id"]))["confirm_token"]
        await stage(client, tenant, flow["id"], url="https://reedited.example.com")
        response = await client.post(
            flow_url(tenant, flow["id"], "publish"),
            json={"confirm": True, "confirm_token": token},
            headers=auth(tenant),
        )
        assert response.status_code == 409, response.text
        assert response.json()["type"] == "invalid_request"
        assert urls((await get(client, tenant, flow["id"]))["actions"]) == ["https://example.com"]

    @pytest.mark.parametrize(
        ("staged", "token", "attr"),
        [
            (False, "garbage", "draft"),
            (True, None, "confirm_token"),
            (True, "not-a-signed-value:1a2b3c:forged", "confirm_token"),
        ],
    )
    async def test_confirm_rejected(
        self, client: httpx.AsyncClient, tenant: Tenant, staged: bool, token: str | None, attr: str
    ) -> None:
        flow = await create_active(client, tenant)
        if staged:
            await stage(client, tenant, flow["id"])
        body: dict[str, Any] = {"confirm": True}
        if token is not None:
            body["confirm_token"] = token
        response = await client.post(flow_url(tenant, flow["id"], "publish"), json=body, headers=auth(tenant))
        assert response.status_code == 400, response.text
        assert response.json()["attr"] == attr
        assert (await get(client, tenant, flow["id"]))["version"] == 1

    async def test_expired_token_is_rejected(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        staged = (await stage(client, tenant, flow["id"])).json()
        draft_stamp = datetime.fromisoformat(staged["draft_updated_at"].replace("Z", "+00:00"))
        token = mint_confirm_token(SECRET, flow["id"], draft_stamp, now=time.time() - 3600)
        response = await client.post(
            flow_url(tenant, flow["id"], "publish"),
            json={"confirm": True, "confirm_token": token},
            headers=auth(tenant),
        )
        assert response.status_code == 400, response.text
        assert response.json()["attr"] == "confirm_token"
        assert "expired" in response.json()["detail"]

    async def test_token_of_another_flow_is_rejected(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        first = await create_active(client, tenant)
        second = await create_active(client, tenant)
        await stage(client, tenant, first["id"])
        await stage(client, tenant, second["id"])
        token = (await preview(client, tenant, first["id"]))["confirm_token"]
        response = await client.post(
            flow_url(tenant, second["id"], "publish"),
            json={"confirm": True, "confirm_token": token},
            headers=auth(tenant),
        )
        assert response.status_code == 400, response.text


class TestDiscard:
    async def test_discard_clears_the_draft_and_moves_the_stamp(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow = await create_active(client, tenant)
        draft_stamp = (await stage(client, tenant, flow["id"])).json()["draft_updated_at"]
        live_before = (await get(client, tenant, flow["id"]))["updated_at"]
        response = await client.post(flow_url(tenant, flow["id"], "discard_draft"), headers=auth(tenant))
        assert response.status_code == 200, response.text
        assert response.json()["draft"] is None
        assert response.json()["draft_updated_at"] is None
        assert response.json()["updated_at"] > live_before
        # An editor still holding the discarded draft's stamp must not resurrect it.
        resave = await stage(
            client, tenant, flow["id"], url="https://resurrect.example.com", base_updated_at=draft_stamp
        )
        assert resave.status_code == 409, resave.text
        assert (await get(client, tenant, flow["id"]))["draft"] is None


class TestRevisions:
    async def test_live_edit_bumps_version_and_snapshots(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        response = await client.patch(
            flow_url(tenant, flow["id"]),
            json={**graph(trigger_action(), webhook_action(url="https://v2.example.com"))},
            headers=auth(tenant),
        )
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 2
        listed = await revisions(client, tenant, flow["id"])
        assert [r["version"] for r in listed] == [2, 1]
        assert listed[0]["created_by"]["id"] == tenant.user_id
        assert listed[1]["created_by"] is None
        assert "content" not in listed[0]
        detail = await client.get(flow_url(tenant, flow["id"], "revisions/1"), headers=auth(tenant))
        assert detail.status_code == 200, detail.text
        assert urls(detail.json()["content"]["actions"]) == ["https://example.com"]
        assert detail.json()["version"] == 1

    @pytest.mark.parametrize(
        "body",
        [{"name": "Renamed"}, {"status": "draft"}, {"description": "more words"}],
    )
    async def test_non_content_writes_add_no_revision(
        self, client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
    ) -> None:
        flow = await create_active(client, tenant)
        response = await client.patch(flow_url(tenant, flow["id"]), json=body, headers=auth(tenant))
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 1
        assert await revisions(client, tenant, flow["id"]) == []

    async def test_staging_adds_no_revision(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        await stage(client, tenant, flow["id"])
        assert await revisions(client, tenant, flow["id"]) == []
        assert (await get(client, tenant, flow["id"]))["version"] == 1

    async def test_repeating_a_save_adds_no_revision(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        body = {**graph(trigger_action(), webhook_action(url="https://same.example.com"))}
        first = await client.patch(flow_url(tenant, flow["id"]), json=body, headers=auth(tenant))
        second = await client.patch(flow_url(tenant, flow["id"]), json=body, headers=auth(tenant))
        assert first.json()["version"] == second.json()["version"] == 2
        assert [r["version"] for r in await revisions(client, tenant, flow["id"])] == [2, 1]

    @pytest.mark.parametrize("version", ["99", "0", "-1", "10000000000000000001"])
    async def test_missing_revision_is_404(self, client: httpx.AsyncClient, tenant: Tenant, version: str) -> None:
        flow = await create_active(client, tenant)
        response = await client.get(flow_url(tenant, flow["id"], f"revisions/{version}"), headers=auth(tenant))
        assert response.status_code == 404, response.text
        restore = await client.post(flow_url(tenant, flow["id"], f"revisions/{version}/restore"), headers=auth(tenant))
        assert restore.status_code == 404, restore.text

    async def test_other_teams_revisions_are_404(
        self, client: httpx.AsyncClient, tenant: Tenant, make_tenant: Any
    ) -> None:
        flow = await create_active(client, tenant)
        await client.patch(
            flow_url(tenant, flow["id"]),
            json={**graph(trigger_action(), webhook_action(url="https://v2.example.com"))},
            headers=auth(tenant),
        )
        other = await make_tenant()
        url = f"{flows_url(other)}{flow['id']}/revisions/"
        assert (await client.get(url, headers=auth(other))).status_code == 404
        assert (await client.get(f"{url}1/", headers=auth(other))).status_code == 404

    async def test_restore_into_draft_then_publish_rolls_back(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        await client.patch(
            flow_url(tenant, flow["id"]),
            json={**graph(trigger_action(), webhook_action(url="https://v2.example.com"))},
            headers=auth(tenant),
        )
        restored = await client.post(flow_url(tenant, flow["id"], "revisions/1/restore"), json={}, headers=auth(tenant))
        assert restored.status_code == 200, restored.text
        assert urls(restored.json()["actions"]) == ["https://v2.example.com"]
        assert urls(restored.json()["draft"]["actions"]) == ["https://example.com"]
        workflow = (await publish(client, tenant, flow["id"]))["workflow"]
        assert urls(workflow["actions"]) == ["https://example.com"]
        assert workflow["version"] == 3
        assert [r["version"] for r in await revisions(client, tenant, flow["id"])] == [3, 2, 1]

    async def test_restore_over_an_open_draft_needs_overwrite(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        await client.patch(
            flow_url(tenant, flow["id"]),
            json={**graph(trigger_action(), webhook_action(url="https://v2.example.com"))},
            headers=auth(tenant),
        )
        await stage(client, tenant, flow["id"], url="https://staged.example.com")
        conflict = await client.post(flow_url(tenant, flow["id"], "revisions/1/restore"), json={}, headers=auth(tenant))
        assert conflict.status_code == 409, conflict.text
        assert urls((await get(client, tenant, flow["id"]))["draft"]["actions"]) == ["https://staged.example.com"]
        response = await client.post(
            flow_url(tenant, flow["id"], "revisions/1/restore"), json={"overwrite": True}, headers=auth(tenant)
        )
        assert response.status_code == 200, response.text
        assert urls(response.json()["draft"]["actions"]) == ["https://example.com"]

    async def test_restore_with_stale_expected_draft_stamp(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        await client.patch(
            flow_url(tenant, flow["id"]),
            json={**graph(trigger_action(), webhook_action(url="https://v2.example.com"))},
            headers=auth(tenant),
        )
        seen = (await stage(client, tenant, flow["id"], url="https://first.example.com")).json()["draft_updated_at"]
        await stage(client, tenant, flow["id"], url="https://second.example.com")
        response = await client.post(
            flow_url(tenant, flow["id"], "revisions/1/restore"),
            json={"overwrite": True, "expected_draft_updated_at": seen},
            headers=auth(tenant),
        )
        assert response.status_code == 409, response.text
        assert urls((await get(client, tenant, flow["id"]))["draft"]["actions"]) == ["https://second.example.com"]


class TestStaleUpdates:
    async def test_stale_base_updated_at_is_409_and_writes_nothing(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow = await create_active(client, tenant)
        response = await client.patch(
            flow_url(tenant, flow["id"]),
            json={"name": "Mine", "base_updated_at": "2020-01-01T00:00:00Z"},
            headers=auth(tenant),
        )
        assert response.status_code == 409, response.text
        assert response.json() == {
            "type": "invalid_request",
            "code": "stale_update",
            "detail": STALE_DETAIL,
            "attr": None,
        }
        assert (await get(client, tenant, flow["id"]))["name"] == "Test Flow"

    async def test_current_or_naive_stamp_is_accepted(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        current = await client.patch(
            flow_url(tenant, flow["id"]),
            json={"name": "A", "base_updated_at": flow["updated_at"]},
            headers=auth(tenant),
        )
        assert current.status_code == 200, current.text
        future = (datetime.now(UTC) + timedelta(minutes=5)).replace(tzinfo=None).isoformat()
        naive = await client.patch(
            flow_url(tenant, flow["id"]), json={"name": "B", "base_updated_at": future}, headers=auth(tenant)
        )
        assert naive.status_code == 200, naive.text

    async def test_bad_base_updated_at_is_400(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        response = await client.patch(
            flow_url(tenant, flow["id"]), json={"name": "A", "base_updated_at": "yesterday"}, headers=auth(tenant)
        )
        assert response.status_code == 400, response.text
        assert response.json()["attr"] == "base_updated_at"

    async def test_stale_draft_edit_is_409(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create_active(client, tenant)
        await stage(client, tenant, flow["id"])
        response = await stage(
            client, tenant, flow["id"], url="https://other.example.com", base_updated_at=flow["updated_at"]
        )
        assert response.status_code == 409, response.text
        assert urls((await get(client, tenant, flow["id"]))["draft"]["actions"]) == ["https://changed.example.com"]

    @pytest.mark.postgres_only
    async def test_two_clients_racing_one_update(
        self, client: httpx.AsyncClient, tenant: Tenant, database_url: str
    ) -> None:
        if not database_url.startswith("postgresql"):
            pytest.skip("row locks (SELECT ... FOR UPDATE) need PostgreSQL")
        flow = await create_active(client, tenant)
        base = flow["updated_at"]

        async def edit(url: str) -> httpx.Response:
            body = {**graph(trigger_action(), webhook_action(url=url)), "base_updated_at": base}
            return await client.patch(flow_url(tenant, flow["id"]), json=body, headers=auth(tenant))

        first, second = await asyncio.gather(edit("https://alice.example.com"), edit("https://bob.example.com"))
        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 409], (first.text, second.text)
        winner = first if first.status_code == 200 else second
        stored = await get(client, tenant, flow["id"])
        assert urls(stored["actions"]) == urls(winner.json()["actions"])
        assert stored["version"] == 2
        # The loser reloads and retries with the fresh stamp: both edits end up recorded, nothing lost.
        loser_url = "https://bob.example.com" if winner is first else "https://alice.example.com"
        retry = await client.patch(
            flow_url(tenant, flow["id"]),
            json={
                **graph(trigger_action(), webhook_action(url=loser_url)),
                "base_updated_at": stored["updated_at"],
            },
            headers=auth(tenant),
        )
        assert retry.status_code == 200, retry.text
        history = [
            urls(
                (await client.get(flow_url(tenant, flow["id"], f"revisions/{v}"), headers=auth(tenant))).json()[
                    "content"
                ]["actions"]
            )
            for v in (1, 2, 3)
        ]
        assert history == [["https://example.com"], urls(winner.json()["actions"]), [loser_url]]


async def test_run_keeps_its_version_while_the_flow_is_republished(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post(flows_url(tenant), json=versioned_flow("old_end"), headers=auth(tenant))
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    runs_url = flow_url(tenant, flow_id, "runs/")
    started = await client.post(runs_url, json={"distinct_id": "ada"}, headers=auth(tenant))
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    assert started.json()["version"] == 1

    async def run_in(status: str) -> dict[str, Any] | None:
        run = (await client.get(f"{runs_url}{run_id}/", headers=auth(tenant))).json()
        assert run["status"] != "failed", run
        return dict(run) if run["status"] == status else None

    await wait_for(lambda: run_in("waiting"), within=20)
    new = versioned_flow("new_end")
    staged = await client.patch(
        flow_url(tenant, flow_id),
        json={"actions": new["actions"], "edges": new["edges"], "stage_draft": True},
        headers=auth(tenant),
    )
    assert staged.status_code == 200, staged.text
    impact = await preview(client, tenant, flow_id)
    assert impact["in_flight_runs"] == 1
    assert impact["impact"]["deleted_steps"] == [
        {"action_id": "old_end", "name": "old_end", "runs": 0, "moves_to": None, "exits": False}
    ]
    assert (await publish(client, tenant, flow_id))["workflow"]["version"] == 2

    later = await client.post(runs_url, json={"distinct_id": "bob"}, headers=auth(tenant))
    assert later.json()["version"] == 2
    done = await wait_for(lambda: run_in("completed"), within=60)
    assert [s["action_id"] for s in done["steps"]][-1] == "old_end"
    assert done["version"] == 1

    # The later run takes the new graph; waiting for it also leaves no run behind for other tests.
    async def later_done() -> dict[str, Any] | None:
        run = (await client.get(f"{runs_url}{later.json()['id']}/", headers=auth(tenant))).json()
        return dict(run) if run["status"] == "completed" else None

    finished = await wait_for(later_done, within=60)
    assert [s["action_id"] for s in finished["steps"]][-1] == "new_end"


async def test_publish_revalidates_a_tampered_draft(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow = await create_active(client, tenant)
    await stage(client, tenant, flow["id"])
    token = (await preview(client, tenant, flow["id"]))["confirm_token"]
    # Written behind the API's back (draft_updated_at unchanged, so the token still matches).
    async with session_scope(sessionmaker) as session:
        stored = await session.get(HogFlow, UUID(flow["id"]))
        assert stored is not None and stored.draft is not None
        stored.draft = {**stored.draft, "actions": [{"id": "bad", "type": "function", "config": {}}]}
        stored.updated_at = HogFlow.updated_at
    response = await client.post(
        flow_url(tenant, flow["id"], "publish"), json={"confirm": True, "confirm_token": token}, headers=auth(tenant)
    )
    assert response.status_code == 400, response.text
    assert response.json()["attr"] == "actions__0__name"
    after = await get(client, tenant, flow["id"])
    assert urls(after["actions"]) == ["https://example.com"]
    assert after["version"] == 1


async def test_bulk_delete_counts_revisions(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create_active(client, tenant)
    edit = {**graph(trigger_action(), webhook_action(url="https://v2.example.com"))}
    assert (await client.patch(flow_url(tenant, flow["id"]), json=edit, headers=auth(tenant))).status_code == 200
    archived = await client.patch(flow_url(tenant, flow["id"]), json={"status": "archived"}, headers=auth(tenant))
    assert archived.status_code == 200, archived.text
    response = await client.post(f"{flows_url(tenant)}bulk_delete/", json={"ids": [flow["id"]]}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 3}  # the flow and its two revisions
    assert (await client.get(flow_url(tenant, flow["id"], "revisions/1"), headers=auth(tenant))).status_code == 404


async def test_invocation_can_test_the_draft(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create_active(client, tenant)
    url = flow_url(tenant, flow["id"], "invocations")
    body = {"use_draft": True, "globals": {"event": {"event": "$pageview", "properties": {}}}}
    missing = await client.post(url, json=body, headers=auth(tenant))
    assert missing.status_code == 400, missing.text
    assert missing.json() == {"use_draft": ["This workflow has no draft to test."]}
    await stage(client, tenant, flow["id"], url="https://draft.example.com")
    response = await client.post(url, json={**body, "current_action_id": "action_1"}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    # The mocked fetch went to the draft's URL (the step has no next action in this small flow).
    assert "https://draft.example.com" in " ".join(log["message"] for log in response.json()["logs"])
