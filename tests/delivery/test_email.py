"""The e-mail channel against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from tests.support.smtp_server import (
    SmtpCertificates,
    SmtpTestServer,
    refusing_port,
    silent_port,
)
from tollgate.delivery.email import (
    EmailDeliveryError,
    SmtpOutcome,
    build_message,
    send_email,
)
from tollgate.delivery.email_settings import SmtpSettings
from tollgate.delivery.notice import Notice

ServerFactory = Callable[..., SmtpTestServer]

TO = "ops@customer.example"
NOTICE = Notice(
    notification_id="ntf_7f3a9c",
    customer_id="cus_acme",
    type="limit_warning",
    severity="warning",
    title="API calls at 90 % of the monthly limit",
    message="Acme has used 90,000 of its 100,000 API calls this period.",
    feature="api_calls",
    threshold_percent=90,
    window_start=datetime(2025, 3, 1, tzinfo=UTC),
    window_end=datetime(2025, 4, 1, tzinfo=UTC),
    created_at=datetime(2025, 3, 20, 14, 5, 9, tzinfo=UTC),
)
PERIOD = "2025-03-01 00:00:00 UTC to 2025-04-01 00:00:00 UTC"


@pytest.fixture(autouse=True)
def _no_smtp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings read the environment for every field a test leaves out.
    for name in list(os.environ):
        if name.startswith("TOLLGATE_SMTP_"):
            monkeypatch.delenv(name)


def settings_for(server: SmtpTestServer, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "timeout_seconds": 10,
    }
    values.update(overrides)
    return SmtpSettings(**values)


def message_for(notice: Notice = NOTICE, **overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "to": TO,
        "sender": "Tollgate <notifications@tollgate.invalid>",
        "delivery_id": "dlv_0001",
        "customer_name": "Acme Corp",
        "dashboard_url": "https://billing.example/notifications",
    }
    values.update(overrides)
    return build_message(notice, **values)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


# --- delivery ----------------------------------------------------------------------------------


def test_plain_delivery_arrives_with_text_and_html(smtp_server: SmtpTestServer) -> None:
    outcome = send_email(settings_for(smtp_server), message_for())

    assert outcome == SmtpOutcome(code=250, reply="2.0.0 Ok: queued as TEST1")
    [received] = smtp_server.wait_for(1)
    assert received.mail_from == "notifications@tollgate.invalid"
    assert received.rcpt_tos == (TO,)
    assert not received.tls
    mail = received.message
    assert mail["Subject"] == "[Tollgate] API calls at 90 % of the monthly limit"
    assert mail["To"] == f"Acme Corp <{TO}>"
    assert mail["Message-ID"] == "<dlv_0001@tollgate>"
    assert mail["X-Tollgate-Delivery-Id"] == "dlv_0001"
    assert mail["X-Tollgate-Notification-Id"] == "ntf_7f3a9c"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = parts(mail)
    for body in (text, html):
        assert NOTICE.title in body
        assert NOTICE.message in body
        assert PERIOD in body
        assert "2025-03-20 14:05:09 UTC" in body
        assert "ntf_7f3a9c" in body
        assert "api_calls" in body
        assert "90 %" in body
        assert "Acme Corp (cus_acme)" in body
    assert "https://billing.example/notifications" in text
    assert 'href="https://billing.example/notifications"' in html
    # No external assets: the HTML loads nothing from anywhere.
    assert "<img" not in html
    assert "src=" not in html


def test_starttls_with_auth_is_encrypted_and_logged_in(
    smtp_server_factory: ServerFactory, smtp_certificates: SmtpCertificates
) -> None:
    server = smtp_server_factory(security="starttls", credentials=("tollgate", "s3cret"))
    settings = settings_for(
        server,
        username="tollgate",
        password=SecretStr("s3cret"),
        ca_file=smtp_certificates.ca_cert,
    )

    outcome = send_email(settings, message_for())

    assert outcome.code == 250
    [received] = server.wait_for(1)
    assert received.tls
    assert received.login == "tollgate"
    assert received.message["Message-ID"] == "<dlv_0001@tollgate>"


def test_implicit_tls_with_auth(
    smtp_server_factory: ServerFactory, smtp_certificates: SmtpCertificates
) -> None:
    server = smtp_server_factory(security="tls", credentials=("tollgate", "s3cret"))
    settings = settings_for(
        server,
        username="tollgate",
        password=SecretStr("s3cret"),
        ca_file=smtp_certificates.ca_cert,
    )

    send_email(settings, message_for())

    [received] = server.wait_for(1)
    assert received.tls
    assert received.login == "tollgate"


def test_unauthenticated_client_is_refused_by_a_server_demanding_auth(
    smtp_server_factory: ServerFactory, smtp_certificates: SmtpCertificates
) -> None:
    # Proves the AUTH tests above test something: without login the server says no.
    server = smtp_server_factory(security="starttls", credentials=("tollgate", "s3cret"))

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(server, ca_file=smtp_certificates.ca_cert), message_for())

    assert caught.value.code == 530
    assert not caught.value.retryable
    assert server.received == []


# --- failures ----------------------------------------------------------------------------------


def test_wrong_password_is_permanent_and_not_echoed(
    smtp_server_factory: ServerFactory, smtp_certificates: SmtpCertificates
) -> None:
    server = smtp_server_factory(security="starttls", credentials=("tollgate", "s3cret"))
    settings = settings_for(
        server,
        username="tollgate",
        password=SecretStr("wrong-horse"),
        ca_file=smtp_certificates.ca_cert,
    )

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings, message_for())

    assert caught.value.code == 535
    assert not caught.value.retryable
    assert "credentials" in caught.value.detail
    assert "wrong-horse" not in caught.value.detail
    assert "wrong-horse" not in repr(caught.value)
    assert server.received == []


def test_temporary_refusal_is_retryable_and_the_retry_arrives(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.fail_next(451, "4.3.0 Try again later", count=2)
    message = message_for()

    for _ in range(2):
        with pytest.raises(EmailDeliveryError) as caught:
            send_email(settings_for(smtp_server), message)
        assert caught.value.retryable
        assert caught.value.code == 451
        assert "451 4.3.0 Try again later" in caught.value.detail
    send_email(settings_for(smtp_server), message)

    [received] = smtp_server.wait_for(1)
    assert received.message["Message-ID"] == "<dlv_0001@tollgate>"


def test_unknown_mailbox_is_permanent(smtp_server: SmtpTestServer) -> None:
    smtp_server.fail_next(550, "5.1.1 No such mailbox", stage="RCPT")

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(smtp_server), message_for())

    assert not caught.value.retryable
    assert caught.value.code == 550
    assert TO in caught.value.detail
    assert "5.1.1 No such mailbox" in caught.value.detail
    assert smtp_server.received == []


def test_rejected_content_is_permanent(smtp_server: SmtpTestServer) -> None:
    smtp_server.fail_next(554, "5.6.0 Message rejected")

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(smtp_server), message_for())

    assert (caught.value.retryable, caught.value.code) == (False, 554)


def test_connection_refused_is_retryable() -> None:
    with refusing_port() as sock:
        port = sock.getsockname()[1]
        settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
        with pytest.raises(EmailDeliveryError) as caught:
            send_email(settings, message_for())

    assert caught.value.retryable
    assert caught.value.code is None
    assert "connection refused" in caught.value.detail


def test_silent_server_times_out_retryably() -> None:
    with silent_port() as sock:
        port = sock.getsockname()[1]
        settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=0.3)
        with pytest.raises(EmailDeliveryError) as caught:
            send_email(settings, message_for())

    assert caught.value.retryable
    assert "no answer within 0.3 s" in caught.value.detail


def test_certificate_from_an_untrusted_ca_is_a_permanent_error(
    smtp_server_factory: ServerFactory, other_ca: SmtpCertificates
) -> None:
    # Retrying cannot make a certificate trusted: someone must fix ca_file or the server.
    for security in ("starttls", "tls"):
        server = smtp_server_factory(security=security)
        for ca_file in (None, other_ca.ca_cert):  # the system's CAs, then an unrelated CA
            with pytest.raises(EmailDeliveryError) as caught:
                send_email(settings_for(server, ca_file=ca_file), message_for())
            assert not caught.value.retryable, (security, ca_file)
            assert "certificate not trusted" in caught.value.detail
        assert server.received == []


def test_unvalidated_tls_accepts_any_certificate(smtp_server_factory: ServerFactory) -> None:
    server = smtp_server_factory(security="tls")

    send_email(settings_for(server, validate_certificates=False), message_for())

    assert server.wait_for(1)[0].tls


def test_implicit_tls_against_a_plain_server_is_a_permanent_error(
    smtp_server: SmtpTestServer,
) -> None:
    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(smtp_server, security="tls"), message_for())

    assert not caught.value.retryable
    assert "TLS failed" in caught.value.detail


def test_starttls_missing_is_refused_not_downgraded(smtp_server: SmtpTestServer) -> None:
    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(smtp_server, security="starttls"), message_for())

    assert not caught.value.retryable
    assert "does not offer STARTTLS" in caught.value.detail
    assert smtp_server.received == []


# --- the message -------------------------------------------------------------------------------


def test_newlines_in_the_title_cannot_inject_headers(smtp_server: SmtpTestServer) -> None:
    notice = _notice(title="Limit reached\r\nBcc: attacker@evil.example\nX-Evil: 1")

    send_email(settings_for(smtp_server), message_for(notice))

    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == (TO,)
    assert received.message["Bcc"] is None
    assert received.message["X-Evil"] is None
    headers = received.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in headers
    assert b"\nX-Evil:" not in headers
    subject = received.message["Subject"]
    assert subject == "[Tollgate] Limit reached Bcc: attacker@evil.example X-Evil: 1"


def test_non_ascii_names_and_titles_survive(smtp_server: SmtpTestServer) -> None:
    notice = _notice(
        title="Über 90 % — Grenzwert für „api_calls“ bald erreicht",
        message="Verbrauch: 90 000 von 100 000 — bitte prüfen. 请检查。",
    )

    send_email(
        settings_for(smtp_server), message_for(notice, customer_name="Zürcher Ünïcode 株式会社")
    )

    [received] = smtp_server.wait_for(1)
    assert received.raw.isascii()  # encoded for any server, 8BITMIME or not
    mail = received.message
    assert mail["Subject"] == f"[Tollgate] {notice.title}"
    assert mail["To"].addresses[0].display_name == "Zürcher Ünïcode 株式会社"
    text, html = parts(mail)
    for body in (text, html):
        assert notice.title in body
        assert notice.message in body
        assert "Zürcher Ünïcode 株式会社 (cus_acme)" in body


def test_html_is_escaped() -> None:
    notice = _notice(title='<script>alert("t")</script>', message="Tom & Jerry's <b>usage</b>")

    _, html = parts(message_for(notice))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in html
    assert "Tom &amp; Jerry&#x27;s &lt;b&gt;usage&lt;/b&gt;" in html


def test_message_id_follows_the_delivery_and_date_is_sending_time() -> None:
    sent_at = datetime(2025, 3, 20, 15, 0, tzinfo=UTC)
    first = message_for(delivery_id="dlv_42", now=sent_at)
    again = message_for(delivery_id="dlv_42")
    other = message_for(delivery_id="dlv_43")

    assert first["Message-ID"] == again["Message-ID"] == "<dlv_42@tollgate>"
    assert other["Message-ID"] == "<dlv_43@tollgate>"
    assert first["Date"] == "Thu, 20 Mar 2025 15:00:00 +0000"


def test_optional_facts_are_left_out() -> None:
    notice = _notice(feature=None, threshold_percent=None)

    text, html = parts(message_for(notice, customer_name=None, dashboard_url=None))

    for body in (text, html):
        assert "Feature" not in body
        assert "Threshold" not in body
        assert "cus_acme" in body
    assert "href" not in html


def test_message_refuses_unsafe_ids_and_links() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        message_for(delivery_id="dlv 1>\r\nBcc: x@y")
    with pytest.raises(ValueError, match="http"):
        message_for(dashboard_url="javascript:alert(1)")


# --- settings ----------------------------------------------------------------------------------


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    monkeypatch.setenv("TOLLGATE_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("TOLLGATE_SMTP_PORT", "465")
    monkeypatch.setenv("TOLLGATE_SMTP_SECURITY", "tls")
    monkeypatch.setenv("TOLLGATE_SMTP_USERNAME", "tollgate")
    monkeypatch.setenv("TOLLGATE_SMTP_PASSWORD", "pw")
    monkeypatch.setenv("TOLLGATE_SMTP_CA_FILE", str(ca))

    settings = SmtpSettings()

    assert settings.enabled
    assert (settings.host, settings.port, settings.security) == ("smtp.example.com", 465, "tls")
    assert settings.password is not None
    assert settings.password.get_secret_value() == "pw"
    assert "pw" not in repr(settings)
    assert settings.ca_file == ca


def test_settings_default_to_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not SmtpSettings().enabled
    monkeypatch.setenv("TOLLGATE_SMTP_HOST", "  ")
    assert not SmtpSettings().enabled
    assert SmtpSettings().port == 587
    assert SmtpSettings().security == "starttls"


def test_sending_while_off_is_a_permanent_error() -> None:
    with pytest.raises(EmailDeliveryError) as caught:
        send_email(SmtpSettings(), message_for())
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"username": "u"}, "PASSWORD is not"),
        ({"password": "p"}, "USERNAME is not"),
        ({"username": "u", "password": "p", "security": "none"}, "clear text"),
        ({"ca_file": "/nonexistent/ca.pem"}, "not a readable file"),
        ({"ca_file": __file__, "validate_certificates": False}, "no effect"),
        ({"sender": "Tollgate"}, "no e-mail address"),
        ({"sender": "a@b.example\r\nBcc: x@y"}, "one line"),
        ({"port": 0}, "port"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"security": "ssl"}, "security"),
    ],
)
def test_settings_are_checked(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        SmtpSettings(host="smtp.example.com", **values)


def _notice(**changes: Any) -> Notice:
    return replace(NOTICE, **changes)
