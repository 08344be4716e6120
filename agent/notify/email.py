"""Email over SMTP: STARTTLS (default), implicit TLS, or plain on a trusted relay."""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING

from agent.config.addresses import host_error
from agent.config.probes import one_or_more
from agent.config.values import (
    choice,
    existing_file,
    integer,
    non_empty,
    string,
    validated,
)
from agent.notify.base import Message, NotifierType, TransportError

if TYPE_CHECKING:
    from agent.config.tree import Context, Node

SECURITY = ("starttls", "tls", "none")
PORTS = {"tls": 465, "starttls": 587, "none": 25}


@dataclass(frozen=True)
class EmailNotifier:
    host: str
    to: tuple[str, ...]
    sender: str  # the From address (config key `from`)
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # trust only this CA (an internal one), not the system's store
    type: str = "email"


def _address_error(text: str) -> str | None:
    return None if re.fullmatch(r"[^@\s]+@[^@\s]+", text) else "not an email address"


_address = validated(string, _address_error)
_host = validated(non_empty, host_error)


def read(ctx: Context, fields: dict[str, Node]) -> EmailNotifier | None:
    host = _host(ctx, fields["host"])
    sender = _address(ctx, fields["from"])
    to = one_or_more(ctx, fields["to"], _address)
    security = choice(ctx, fields["security"], SECURITY) if "security" in fields else None
    port = integer(ctx, fields["port"], 1, 65535) if "port" in fields else None
    username = non_empty(ctx, fields["username"]) if "username" in fields else None
    password = string(ctx, fields["password"]) if "password" in fields else None
    ca_file = existing_file(ctx, fields["ca_file"]) if "ca_file" in fields else None
    if "password" in fields and "username" not in fields:
        ctx.bad(fields["password"], "a password needs a username")
    if "ca_file" in fields and security == "none":
        ctx.bad(fields["ca_file"], "only used with security: starttls or tls")
    if not host or not sender or not to:
        return None
    security = security or "starttls"
    return EmailNotifier(host=host, to=to, sender=sender, port=port or PORTS[security],
                         security=security, username=username, password=password,
                         ca_file=ca_file)


def build(spec: EmailNotifier, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"[{message.status}] {message.title}"
    mail["From"] = spec.sender
    mail["To"] = ", ".join(spec.to)
    mail.set_content("\n".join([message.title, "", *message.lines(), "",
                                f"Alert: {message.alert} ({message.status})"]) + "\n")
    return mail


def send(spec: EmailNotifier, message: Message, timeout: float) -> None:
    mail = build(spec, message)
    try:
        with _connect(spec, timeout) as smtp:
            if spec.username:
                smtp.login(spec.username, spec.password or "")
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise TransportError(f"SMTP authentication failed ({exc.smtp_code})",
                             permanent=True) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise TransportError("SMTP: every recipient refused", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransportError(f"SMTP: {type(exc).__name__}: {exc}") from exc


def _connect(spec: EmailNotifier, timeout: float) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=spec.ca_file)  # as probes: agent.probes.http_client
    if spec.security == "tls":
        return smtplib.SMTP_SSL(spec.host, spec.port, timeout=timeout, context=context)
    smtp = smtplib.SMTP(spec.host, spec.port, timeout=timeout)
    if spec.security == "starttls":
        smtp.starttls(context=context)
    return smtp


TYPE = NotifierType("email", ("host", "from", "to"),
                    ("port", "security", "username", "password", "ca_file"), read, send)
