"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd, in a thread of its own).

It speaks plain SMTP, STARTTLS or implicit TLS with certificates made at test time, can demand
AUTH, keeps every message it accepted, and can be told to answer the next messages with an
error, so the e-mail channel is tested against a server, not a mock of smtplib.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Security = Literal["none", "starttls", "tls"]
Stage = Literal["MAIL", "RCPT", "DATA"]


# --- certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpCertificates:
    """A private CA and a server certificate it signed, valid for 127.0.0.1 and localhost."""

    ca_cert: Path  # what a client trusts (its ca_file)
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_certificates(directory: Path, *, name: str = "Tollgate test") -> SmtpCertificates:
    """Write a fresh CA and server certificate into ``directory``.

    A separate CA (rather than one self-signed leaf) is what a private relay has, and it passes
    OpenSSL's strict chain checks (key identifiers, CA basic constraints) in every version.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    validity = (now - dt.timedelta(hours=1), now + dt.timedelta(days=2))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    paths = SmtpCertificates(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
    )
    paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


# --- what the server received ----------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes  # exactly the DATA the client sent, after dot-unstuffing
    login: str | None  # the AUTH user, None without AUTH
    tls: bool  # whether the session was encrypted when DATA arrived


@dataclass
class _Failure:
    stage: Stage
    code: int
    text: str
    remaining: int


class _Handler:
    """aiosmtpd hooks; they run on the server's event-loop thread."""

    def __init__(self, owner: SmtpTestServer) -> None:
        self._owner = owner

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's hook names)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._owner.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = self._owner._take_failure("MAIL")
        if failure is not None:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        failure = self._owner._take_failure("RCPT")
        if failure is not None:
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        failure = self._owner._take_failure("DATA")
        if failure is not None:
            return failure
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        login = session.login_data
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=parsed,
            raw=raw,
            login=login.decode() if isinstance(login, bytes) else login,
            tls=tls,
        )
        number = self._owner._add(received)
        return f"250 2.0.0 Ok: queued as TEST{number}"


class _Controller(Controller):
    """Serves on a socket bound beforehand: the port is surely free (no pick-then-bind race)."""

    def __init__(self, handler: _Handler, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._sock = sock

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


# --- the server ------------------------------------------------------------------------------


class SmtpTestServer:
    """A real SMTP server on 127.0.0.1 and a free port; use as a context manager.

    ``security``: "none" (plain), "starttls" (offers STARTTLS; AUTH only after it, as real
    submission servers do) or "tls" (TLS from the first byte). ``credentials``: demand AUTH with
    this user and password before MAIL.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        security: Security = "none",
        certificates: SmtpCertificates | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        if security != "none" and certificates is None:
            raise ValueError(f"security={security!r} needs certificates")
        self.security = security
        self.certificates = certificates
        self.credentials = credentials
        self._condition = threading.Condition()
        self._received: list[ReceivedMessage] = []
        self._failures: list[_Failure] = []
        self._controller: _Controller | None = None
        self.port = 0

    # -- control

    def start(self) -> SmtpTestServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        smtp_options: dict[str, Any] = {
            "authenticator": self._authenticate,
            # aiosmtpd counts only STARTTLS as TLS; with implicit TLS (or plain tests) AUTH
            # must be allowed on what it takes for a clear connection.
            "auth_require_tls": self.security == "starttls",
        }
        tls_context = self.certificates.server_context() if self.certificates else None
        if self.security == "starttls":
            smtp_options["tls_context"] = tls_context
        controller = _Controller(
            _Handler(self),
            sock,
            ssl_context=tls_context if self.security == "tls" else None,
            server_hostname="smtp.test",
            **smtp_options,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def fail_next(self, code: int, text: str, *, count: int = 1, stage: Stage = "DATA") -> None:
        """Answer the next ``count`` commands of ``stage`` with ``code text`` instead of 250.

        RCPT is where real servers refuse unknown mailboxes (550), DATA where they defer or
        reject content (451, 554), MAIL where they refuse the sender.
        """
        with self._condition:
            self._failures.append(_Failure(stage=stage, code=code, text=text, remaining=count))

    # -- what arrived

    @property
    def received(self) -> list[ReceivedMessage]:
        with self._condition:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """The first ``count`` messages, waiting at most ``timeout`` seconds for them."""
        with self._condition:
            arrived = self._condition.wait_for(lambda: len(self._received) >= count, timeout)
            if not arrived:
                raise AssertionError(
                    f"expected {count} message(s) within {timeout}s, got {len(self._received)}"
                )
            return self._received[:count]

    # -- called by the handler, on the server thread

    def _add(self, received: ReceivedMessage) -> int:
        with self._condition:
            self._received.append(received)
            self._condition.notify_all()
            return len(self._received)

    def _take_failure(self, stage: Stage) -> str | None:
        with self._condition:
            for failure in self._failures:
                if failure.stage == stage and failure.remaining > 0:
                    failure.remaining -= 1
                    return f"{failure.code} {failure.text}"
        return None

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if self.credentials is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.credentials
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def refusing_port() -> socket.socket:
    """A socket bound on 127.0.0.1 but not listening: connecting to its port is refused.

    Keeping it bound (instead of closing a probe socket) stops anyone else taking the port.
    Close it when done.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def silent_port() -> socket.socket:
    """A listening socket nobody accepts on: the kernel completes the connection, then nothing
    is ever said, which is what a hung server looks like to a client. Close it when done."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock
