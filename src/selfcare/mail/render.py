"""The notification mails' texts: plain text from Jinja templates, names rather than codes.

A template is `templates/<kind>.txt`; its first line is the subject, a blank line follows, the
rest is the body. The facts a template sees are the outbox row's payload (what the notification
service recorded when the state changed: the order's reference, its action's name, the lines,
who acted, the reason) plus `recipient_name`, `link` (the order page) and `order_id`.
Autoescaping is off on purpose: these are text/plain mails, not HTML, and an escaped `&` would
show as `&amp;`. Undefined facts render as empty (a payload written by an older version still
renders), never as the word "None".
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"

# The kinds of notification that have a mail, and what each says (for docs and the page).
KINDS: dict[str, str] = {
    "approval_requested": "a request is waiting for your approval",
    "approved": "your request was approved",
    "rejected": "your request was rejected",
    "completed": "your request was completed",
    "failed": "your request failed",
    "expired": "your request expired without a decision",
}


class UnknownKind(ValueError):
    """No template for this notification kind."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _finalize(value: Any) -> Any:
    return "" if value is None else value


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=False,  # noqa: S701 (plain-text mail, see the module docstring)
    undefined=jinja2.ChainableUndefined,
    finalize=_finalize,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def order_link(base_url: str, order_id: int | str | None) -> str:
    """The order page's address: `<base_url>/requests/<id>` (just the path without a base)."""
    if order_id in (None, ""):
        return base_url or "/"
    return f"{base_url.rstrip('/')}/requests/{order_id}"


def render(kind: str, facts: Mapping[str, Any], *, base_url: str = "") -> Rendered:
    """Subject and body of a notification mail of `kind` with these facts."""
    if kind not in KINDS:
        raise UnknownKind(f"no mail template for notification kind {kind!r}")
    context = dict(facts)
    context.setdefault("link", order_link(base_url, context.get("order_id")))
    text = _env.get_template(f"{kind}.txt").render(context)
    subject, _, body = text.partition("\n")
    # A subject is one line (a header); a newline smuggled in through a fact must not add one.
    subject = " ".join(subject.split())
    body = body.lstrip("\n").rstrip() + "\n"
    return Rendered(subject=subject, body=body)


def build_message(
    rendered: Rendered,
    *,
    to: str,
    sender: str,
    message_id: str,
    date: float | None = None,
) -> EmailMessage:
    """The mail as an `EmailMessage`: text/plain UTF-8, a stable Message-ID (so a receiver can
    drop the duplicate of a mail re-sent after a crash), Auto-Submitted (no auto-replies)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = email.utils.formatdate(date, localtime=False)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.body)
    return msg
