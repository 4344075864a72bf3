"""The e-mail channel: a notice becomes one MIME message, sent to an SMTP server with smtplib.

``send_email`` blocks (the dispatcher runs it in a worker thread) and either returns the
server's acceptance or raises ``EmailDeliveryError`` saying whether trying again can help.
"""

from __future__ import annotations

import html
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from tollgate.delivery.email_settings import SmtpSettings
from tollgate.delivery.notice import Notice

SUBJECT_PREFIX = "[Tollgate] "

# A msg-id's left part must be a dot-atom; anything else would make the header unparsable.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Control characters (CR and LF above all) in a header value could start a header of their own.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class SmtpOutcome:
    """The server's answer to the message's data: it has taken responsibility for it."""

    code: int
    reply: str


class EmailDeliveryError(Exception):
    """The message was not accepted. ``retryable``: the same message may succeed later."""

    def __init__(self, retryable: bool, code: int | None, detail: str) -> None:
        super().__init__(detail)
        self.retryable = retryable
        self.code = code
        self.detail = detail

    def __repr__(self) -> str:
        return (
            f"EmailDeliveryError(retryable={self.retryable!r}, code={self.code!r}, "
            f"detail={self.detail!r})"
        )


# --- the message -----------------------------------------------------------------------------


def build_message(
    notice: Notice,
    *,
    to: str,
    sender: str,
    delivery_id: str,
    customer_name: str | None,
    dashboard_url: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """One notice as a multipart/alternative message (plain text and HTML) to one recipient.

    ``Message-ID`` derives from ``delivery_id`` alone, so a resend after a crash carries the same
    id and mail systems can recognise the duplicate. ``Date`` is ``now`` (default: the current
    time), the moment the message is handed to SMTP, as RFC 5322 intends; when the notice
    happened is in the body.
    """
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise ValueError(f"delivery id {delivery_id!r} cannot form a Message-ID")
    message = EmailMessage()
    message["Subject"] = SUBJECT_PREFIX + _one_line(notice.title)
    message["From"] = _one_line(sender)
    if customer_name:
        message["To"] = Address(display_name=_one_line(customer_name), addr_spec=to)
    else:
        message["To"] = Address(addr_spec=to)
    message["Date"] = format_datetime(_utc(now or datetime.now(UTC)))
    message["Message-ID"] = f"<{delivery_id}@tollgate>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Tollgate-Notification-Id"] = _one_line(notice.notification_id)
    message["X-Tollgate-Delivery-Id"] = delivery_id

    facts = _facts(notice, customer_name)
    link = _safe_link(dashboard_url)
    # Quoted-printable keeps every line 7-bit, so a server without 8BITMIME takes UTF-8 text too.
    message.set_content(_text_body(notice, facts, link), cte="quoted-printable")
    message.add_alternative(_html_body(notice, facts, link), subtype="html", cte="quoted-printable")
    return message


def _facts(notice: Notice, customer_name: str | None) -> list[tuple[str, str]]:
    account = notice.customer_id
    if customer_name:
        account = f"{customer_name} ({notice.customer_id})"
    facts = [("Account", account)]
    if notice.feature is not None:
        facts.append(("Feature", notice.feature))
    if notice.threshold_percent is not None:
        facts.append(("Threshold", f"{notice.threshold_percent} %"))
    facts += [
        ("Period", f"{_when(notice.window_start)} to {_when(notice.window_end)}"),
        ("Happened at", _when(notice.created_at)),
        ("Severity", notice.severity),
        ("Notification id", notice.notification_id),
    ]
    return facts


def _text_body(notice: Notice, facts: list[tuple[str, str]], link: str | None) -> str:
    width = max(len(label) for label, _ in facts) + 1
    lines = [_one_line(notice.title), "", notice.message, ""]
    lines += [f"{label + ':':<{width}} {value}" for label, value in facts]
    if link:
        lines += ["", f"Details: {link}"]
    lines += ["", _FOOTER]
    return "\n".join(lines) + "\n"


def _html_body(notice: Notice, facts: list[tuple[str, str]], link: str | None) -> str:
    def e(text: str) -> str:
        return html.escape(text, quote=True)

    rows = "\n".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0">{e(label)}</th>'
        f'<td style="padding:2px 0">{e(value)}</td></tr>'
        for label, value in facts
    )
    title = _one_line(notice.title)
    details = f'<p><a href="{e(link)}">View in the dashboard</a></p>\n' if link else ""
    return (
        "<!DOCTYPE html>\n"
        '<html><head><meta charset="utf-8"><title>'
        f"{e(title)}</title></head>\n"
        '<body style="font-family:sans-serif;color:#222">\n'
        f"<h2>{e(title)}</h2>\n"
        f'<p style="white-space:pre-line">{e(notice.message)}</p>\n'
        f'<table style="border-collapse:collapse">\n{rows}\n</table>\n'
        f"{details}"
        f'<p style="color:#777;font-size:small">{e(_FOOTER)}</p>\n'
        "</body></html>\n"
    )


_FOOTER = (
    "An automated message from Tollgate; replies are not read. "
    "Which notifications you receive by e-mail is set in your notification preferences."
)


def _one_line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def _utc(moment: datetime) -> datetime:
    # The control plane stores UTC; a naive time from it is UTC, not the host's local time.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _when(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def _safe_link(url: str | None) -> str | None:
    # Only web links: a javascript: or data: URL in a mail is an attack, not a dashboard.
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or _CONTROL.search(url):
        raise ValueError(f"dashboard url {url!r} is not an http(s) URL")
    return url


# --- sending ---------------------------------------------------------------------------------


class _DataReplyMixin:
    """Keeps the reply to DATA, which ``sendmail`` checks and then drops."""

    data_reply: tuple[int, bytes] | None = None

    def data(self, msg: Any) -> tuple[int, bytes]:
        reply: tuple[int, bytes] = super().data(msg)  # type: ignore[misc]
        self.data_reply = reply
        return reply


class _SMTP(_DataReplyMixin, smtplib.SMTP):
    pass


class _SMTPS(_DataReplyMixin, smtplib.SMTP_SSL):
    pass


def send_email(settings: SmtpSettings, message: EmailMessage) -> SmtpOutcome:
    """Send ``message`` through the server ``settings`` name; blocking.

    Recipients and envelope sender come from the message's headers (``send_message``).
    Raises ``EmailDeliveryError`` unless the server accepted the message for every recipient.
    """
    if settings.host is None:
        raise EmailDeliveryError(False, None, "e-mail delivery is off (TOLLGATE_SMTP_HOST unset)")
    try:
        client = _connect(settings, settings.host)
    except EmailDeliveryError:
        raise
    except Exception as error:
        raise _classify(error, settings) from error
    session_usable = True
    try:
        try:
            if settings.username is not None and settings.password is not None:
                client.login(settings.username, settings.password.get_secret_value())
            refused = client.send_message(message)
        except Exception as error:
            # After a timeout or a broken connection a QUIT would only wait out another timeout.
            session_usable = not isinstance(error, OSError | smtplib.SMTPServerDisconnected)
            raise _classify(error, settings) from error
        if refused:
            raise _refused(refused)
        code, reply = client.data_reply or (250, b"")
        return SmtpOutcome(code=code, reply=reply.decode("utf-8", "replace"))
    finally:
        # The outcome is settled by now: whatever QUIT answers changes nothing.
        try:
            if session_usable:
                client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            client.close()


def _connect(settings: SmtpSettings, host: str) -> _SMTP | _SMTPS:
    timeout = settings.timeout_seconds
    if settings.security == "tls":
        return _SMTPS(host, settings.port, timeout=timeout, context=_tls_context(settings))
    client = _SMTP(host, settings.port, timeout=timeout)
    if settings.security == "starttls":
        try:
            client.ehlo()
            if not client.has_extn("starttls"):
                # Never fall back to plain text: the password and the mail would travel in clear.
                raise EmailDeliveryError(
                    False,
                    None,
                    f"{host}:{settings.port} does not offer STARTTLS "
                    "(TOLLGATE_SMTP_SECURITY=starttls); refusing to send in clear text",
                )
            client.starttls(context=_tls_context(settings))
            client.ehlo()
        except BaseException:
            client.close()
            raise
    return client


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    if not settings.validate_certificates:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    # With a ca_file only that file is trusted: a private relay's CA, not the public ones.
    return ssl.create_default_context(cafile=settings.ca_file)


def _classify(error: BaseException, settings: SmtpSettings) -> EmailDeliveryError:
    where = f"{settings.host}:{settings.port}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _refused(error.recipients)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _reply_error(error.smtp_code, error.smtp_error, "rejected the SMTP credentials")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _reply_error(error.smtp_code, error.smtp_error, f"refused sender {error.sender}")
    if isinstance(error, smtplib.SMTPDataError):
        return _reply_error(error.smtp_code, error.smtp_error, "refused the message")
    if isinstance(error, smtplib.SMTPConnectError):
        return _reply_error(error.smtp_code, error.smtp_error, f"{where} refused the session")
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply_error(error.smtp_code, error.smtp_error, "answered with an error")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        if isinstance(error.__context__, TimeoutError):
            # smtplib reports a read that timed out as a disconnect; say what really happened.
            return _timeout(settings)
        return EmailDeliveryError(True, None, f"{where} closed the connection: {error}")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        # e.g. credentials configured but the server offers no AUTH: a configuration problem.
        return EmailDeliveryError(False, None, f"{where}: {error}")
    if isinstance(error, smtplib.SMTPException):
        return EmailDeliveryError(False, None, f"{where}: {type(error).__name__}: {error}")
    if isinstance(error, ssl.SSLCertVerificationError):
        # Waiting does not make a certificate trusted: fix ca_file or the server's certificate.
        return EmailDeliveryError(
            False, None, f"{where}: TLS certificate not trusted: {error.verify_message}"
        )
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return EmailDeliveryError(True, None, f"{where}: connection closed during TLS: {error}")
    if isinstance(error, ssl.SSLError):
        # Mostly a mismatch (tls against a plain-text port, no common protocol): configuration.
        return EmailDeliveryError(False, None, f"{where}: TLS failed: {error.reason or error}")
    if isinstance(error, TimeoutError):
        return _timeout(settings)
    if isinstance(error, socket.gaierror):
        return EmailDeliveryError(True, None, f"{where}: cannot resolve host: {error.strerror}")
    if isinstance(error, ConnectionRefusedError):
        return EmailDeliveryError(True, None, f"{where}: connection refused")
    if isinstance(error, OSError):
        # DNS failures, resets, unreachable networks: usually passing, so worth another try.
        return EmailDeliveryError(True, None, f"{where}: {error.strerror or error}")
    return EmailDeliveryError(False, None, f"{where}: {type(error).__name__}: {error}")


def _timeout(settings: SmtpSettings) -> EmailDeliveryError:
    return EmailDeliveryError(
        True,
        None,
        f"{settings.host}:{settings.port}: no answer within {settings.timeout_seconds:g} s",
    )


def _reply_error(code: int, text: bytes | str, what: str) -> EmailDeliveryError:
    reply = _reply_text(text)
    # 4xx: the server asks to come back later; 5xx: it will say the same next time.
    retryable = 400 <= code < 500
    return EmailDeliveryError(retryable, code, f"SMTP server {what}: {code} {reply}".rstrip())


def _refused(recipients: dict[str, tuple[int, bytes]]) -> EmailDeliveryError:
    codes = [code for code, _ in recipients.values()]
    retryable = all(400 <= code < 500 for code in codes)
    first_code = codes[0] if codes else None
    listed = "; ".join(
        f"{address}: {code} {_reply_text(text)}" for address, (code, text) in recipients.items()
    )
    return EmailDeliveryError(retryable, first_code, f"SMTP server refused recipient {listed}")


def _reply_text(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(text.split())
