"""Email over SMTP: STARTTLS (default), implicit TLS, or plain on a trusted relay."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from agent.model import EmailNotifier
from agent.notify import Message, TransportError


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
    context = ssl.create_default_context()
    if spec.security == "tls":
        return smtplib.SMTP_SSL(spec.host, spec.port, timeout=timeout, context=context)
    smtp = smtplib.SMTP(spec.host, spec.port, timeout=timeout)
    if spec.security == "starttls":
        smtp.starttls(context=context)
    return smtp
