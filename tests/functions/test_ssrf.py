"""Outbound requests to non-public addresses are refused unless HOGFLOWS_ALLOW_PRIVATE_FETCH is on."""

import ipaddress

import pytest

from app.engine.executor import execute_pickup
from app.engine.functions.network_guard import refusal_reason
from tests.engine.flows import Options, action, chain, flow, invocation
from tests.functions.helpers import action_logs, function_action, real_runner
from tests.functions.servers import LocalHttpServer


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("192.168.0.10", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("[::1]", "a loopback address"),
        ("localhost", "a loopback address"),  # a host name that resolves to loopback
    ],
)
async def test_private_destinations_are_refused_without_a_request(
    http_server: LocalHttpServer, host: str, reason: str
) -> None:
    port = http_server.base_url.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/hook"
    snapshot = flow(
        [function_action("hook", "template-webhook", {"url": url}), action("done", "exit")],
        chain("trigger", "hook", "done"),
    )
    outcome = await execute_pickup(invocation(snapshot), Options().build(run_function=real_runner(allow_private=False)))

    assert outcome.status == "failed"
    assert http_server.requests == []
    [failure] = [line for line in action_logs(outcome, "hook") if line.startswith("HTTP fetch failed")]
    assert failure.startswith("HTTP fetch failed on attempt 1 with status code (none). Error: Refusing to connect to ")
    assert f"it is {reason}" in failure
    assert "Retrying" not in failure  # a refusal is final
    assert outcome.error is not None and outcome.error.startswith("Webhook failed with status 500: FetchBlockedError:")


async def test_the_setting_allows_private_destinations(http_server: LocalHttpServer) -> None:
    snapshot = flow(
        [function_action("hook", "template-webhook", {"url": http_server.url("/hook")}), action("done", "exit")],
        chain("trigger", "hook", "done"),
    )
    outcome = await execute_pickup(invocation(snapshot), Options().build(run_function=real_runner(allow_private=True)))
    assert outcome.status == "completed"
    assert len(http_server.requests) == 1


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("fd00::1", True),
        ("fe80::1", True),
        ("2002:7f00:1::1", True),  # 6to4 of 127.0.0.1
        ("2002:808:808::1", True),  # 6to4, even of a public IPv4 address
        ("fec0::1", True),  # site-local
        ("feff::1", True),
    ],
)
def test_address_classification(address: str, refused: bool) -> None:
    assert (refusal_reason(ipaddress.ip_address(address)) is not None) is refused


async def test_non_http_schemes_are_refused() -> None:
    snapshot = flow(
        [function_action("hook", "template-webhook", {"url": "file:///etc/passwd"}), action("done", "exit")],
        chain("trigger", "hook", "done"),
    )
    outcome = await execute_pickup(invocation(snapshot), Options().build(run_function=real_runner(allow_private=False)))
    assert outcome.status == "failed"
    assert any("Invalid URL: 'file:///etc/passwd'" in line for line in action_logs(outcome, "hook"))
