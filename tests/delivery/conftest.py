from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.smtp_server import SmtpCertificates, SmtpTestServer, make_certificates


@pytest.fixture(scope="session")
def smtp_certificates(tmp_path_factory: pytest.TempPathFactory) -> SmtpCertificates:
    """A private CA and a server certificate for 127.0.0.1, made once per test session."""
    return make_certificates(tmp_path_factory.mktemp("smtp-certs"))


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """A real plain-text SMTP server on 127.0.0.1 that accepts everything (no AUTH, no TLS)."""
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def smtp_server_factory(
    smtp_certificates: SmtpCertificates,
) -> Iterator[Callable[..., SmtpTestServer]]:
    """Starts servers with other options (TLS, AUTH); all are stopped after the test."""
    started: list[SmtpTestServer] = []

    def start(**options: Any) -> SmtpTestServer:
        options.setdefault("certificates", smtp_certificates)
        server = SmtpTestServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def other_ca(tmp_path: Path) -> SmtpCertificates:
    """Certificates from a CA the servers' certificate does not chain to."""
    return make_certificates(tmp_path / "other-ca", name="Unrelated")
