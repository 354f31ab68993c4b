"""`sendEmail` for Hog functions: the email input (`{to, from, cc, bcc, replyTo, subject, text, html}`) over SMTP."""

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import aiosmtplib

from app.engine.functions.calls import CallOutcome, no_response

TLS_MODES = ("none", "starttls", "tls")


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None = None
    port: int = 587
    username: str | None = None
    password: str | None = None
    tls: str = "starttls"  # none | starttls | tls (implicit TLS, usually port 465)
    default_from: str | None = None
    timeout_s: float = 10.0


class EmailError(Exception):
    """The email input cannot be sent as it is (no recipient, no sender...)."""


def _addresses(value: Any) -> list[tuple[str, str]]:
    """`{email, name}`, `"a@b.c"` or a list of those, as (name, address) pairs; empty addresses dropped."""
    if isinstance(value, list):
        return [pair for item in value for pair in _addresses(item)]
    if isinstance(value, dict):
        address = str(value.get("email") or "").strip()
        return [(str(value.get("name") or ""), address)] if address else []
    if isinstance(value, str) and value.strip():
        return [("", value.strip())]
    return []


def _format(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(formataddr(pair) for pair in pairs)


def build_message(email: Any, default_from: str | None) -> EmailMessage:
    """The MIME message for PostHog's email input value."""
    if not isinstance(email, dict):
        raise EmailError("The email input must be an object with to, from, subject and text or html")
    recipients = _addresses(email.get("to"))
    if not recipients:
        raise EmailError("The email has no recipient (to.email is empty)")
    sender = _addresses(email.get("from"))
    if not sender and default_from:
        sender = _addresses(default_from)
    if not sender:
        raise EmailError("The email has no sender: set from.email or HOGFLOWS_EMAIL_FROM")
    message = EmailMessage()
    message["From"] = _format(sender[:1])
    message["To"] = _format(recipients)
    if cc := _addresses(email.get("cc")):
        message["Cc"] = _format(cc)
    if bcc := _addresses(email.get("bcc")):
        message["Bcc"] = _format(bcc)  # aiosmtplib sends to Bcc addresses and strips the header
    if reply_to := _addresses(email.get("replyTo")):
        message["Reply-To"] = _format(reply_to)
    message["Subject"] = str(email.get("subject") or "")
    # Marks the message as automated, so auto-responders do not answer it (RFC 3834), as PostHog does.
    message["Auto-Submitted"] = "auto-generated"
    text, html = email.get("text"), email.get("html")
    if html and email.get("preheader"):
        # The preheader is the preview line mail clients show; it is hidden in the body itself.
        html = f'<div style="display:none;max-height:0;overflow:hidden">{email["preheader"]}</div>{html}'
    if text:
        message.set_content(str(text))
        if html:
            message.add_alternative(str(html), subtype="html")
    elif html:
        message.set_content(str(html), subtype="html")
    else:
        raise EmailError("The email has neither text nor html")
    return message


class SmtpEmailSender:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, email: Any) -> CallOutcome:
        settings = self.settings
        if not settings.host:
            detail = "Email is not configured: set HOGFLOWS_SMTP_HOST"
            return no_response("email", "EmailError", detail, retriable=False)
        try:
            message = build_message(email, settings.default_from)
        except EmailError as error:
            return no_response("email", "EmailError", str(error), retriable=False)
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.username or None,
                password=settings.password or None,
                use_tls=settings.tls == "tls",
                start_tls=settings.tls == "starttls",
                timeout=settings.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused = ", ".join(f"{r.recipient} ({r.code} {r.message})" for r in error.recipients)
            return no_response("email", "EmailError", f"Recipients refused: {refused}", retriable=False)
        except aiosmtplib.SMTPResponseException as error:
            # 4xx replies are transient by definition (RFC 5321); 5xx are permanent.
            detail = f"SMTP error {error.code}: {error.message}"
            return no_response("email", "EmailError", detail, retriable=400 <= error.code < 500)
        except (aiosmtplib.SMTPException, OSError) as error:
            return no_response("email", "EmailError", f"{type(error).__name__}: {error}", retriable=True)
        line = f"Email sent to {message['To']} from {message['From']}"
        return CallOutcome(value={"success": True}, logs=[("info", line)])
