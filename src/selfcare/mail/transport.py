"""Delivering one message: to an SMTP server (smtplib), or into a local maildir.

`deliver(msg, mail)` raises `DeliveryError` (with a short, password-free reason) when the message
was not handed over, so the caller can keep the row and retry it later. The maildir is created
owner-only (mails name people and their requests). Which channel a process uses is logged once
per destination, so the log says where the mails went.
"""

from __future__ import annotations

import logging
import mailbox
import os
import smtplib
import ssl
import threading
from email.message import EmailMessage
from pathlib import Path

from selfcare.config import MailSettings

log = logging.getLogger(__name__)

_announced: set[str] = set()
_announced_lock = threading.Lock()


class DeliveryError(RuntimeError):
    """The message was not delivered; str() is the reason to record (no credentials)."""


def _announce(mail: MailSettings) -> None:
    where = mail.where()
    with _announced_lock:
        if where in _announced:
            return
        _announced.add(where)
    if mail.channel == "maildir":
        log.warning(
            "no SELFCARE_SMTP_HOST set: notification mails are written to %s (read them with any "
            "maildir reader, e.g. `mutt -f %s`)",
            mail.maildir,
            mail.maildir,
        )
    else:
        log.info("notification mails go to %s", where)


def open_maildir(path: Path) -> mailbox.Maildir:
    """The maildir at `path`, created (owner-only) when missing."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o077)
        try:
            box = mailbox.Maildir(path, create=True)
        finally:
            os.umask(old)
        return box
    return mailbox.Maildir(path, create=True)


def _to_maildir(msg: EmailMessage, mail: MailSettings) -> None:
    try:
        open_maildir(mail.maildir).add(msg)
    except OSError as e:
        raise DeliveryError(f"maildir {mail.maildir}: {e.strerror or e}") from e


def _to_smtp(msg: EmailMessage, mail: MailSettings) -> None:
    assert mail.smtp_host
    try:
        with smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=mail.smtp_timeout) as smtp:
            smtp.ehlo()
            if mail.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if mail.smtp_user:
                smtp.login(mail.smtp_user, mail.smtp_password or "")
            refused = smtp.send_message(msg)
    except smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else ""
        raise DeliveryError(f"SMTP {e.smtp_code} {text}".strip()[:300]) from e
    except smtplib.SMTPRecipientsRefused as e:
        raise DeliveryError(f"SMTP refused the recipient(s) {sorted(e.recipients)}") from e
    except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
        raise DeliveryError(
            f"SMTP {mail.smtp_host}:{mail.smtp_port}: {type(e).__name__}: {e}"[:300]
        ) from e
    if refused:
        # One recipient per message: a partial refusal is a refusal.
        raise DeliveryError(f"SMTP refused the recipient(s) {sorted(refused)}")


def deliver(msg: EmailMessage, mail: MailSettings) -> None:
    """Hand the message to the SMTP server, or write it into the maildir when no host is set."""
    _announce(mail)
    if mail.channel == "smtp":
        _to_smtp(msg, mail)
    else:
        _to_maildir(msg, mail)
