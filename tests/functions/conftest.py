"""Local HTTP and SMTP servers for function-step tests."""

from collections.abc import Iterator

import pytest

from tests.functions.servers import LocalHttpServer, LocalSmtpServer


@pytest.fixture
def http_server() -> Iterator[LocalHttpServer]:
    server = LocalHttpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[LocalSmtpServer]:
    server = LocalSmtpServer()
    server.start()
    yield server
    server.stop()
