"""The fetch client is shared by every request of a process: nothing of one request may reach another."""

from app.engine.functions.fetch import FetchRequest, FetchSettings, HttpFetcher
from tests.functions.servers import LocalHttpServer, Reply


async def test_a_cookie_set_by_one_destination_is_not_sent_with_later_requests(http_server: LocalHttpServer) -> None:
    http_server.script("/login", Reply(headers={"Set-Cookie": "session=secret-of-flow-a; Path=/"}))
    fetcher = HttpFetcher(FetchSettings(allow_private=True))
    other = HttpFetcher(FetchSettings(allow_private=True))  # another flow's step: the same shared client
    first = await fetcher.fetch(FetchRequest(http_server.url("/login"), "POST", {}, "{}"))
    second = await other.fetch(FetchRequest(http_server.url("/hook"), "POST", {}, "{}"))
    assert first.status == 200 and second.status == 200
    assert first.value["headers"]["set-cookie"].startswith("session=")  # the response still shows it
    assert "cookie" not in http_server.requests_to("/hook")[0].headers
