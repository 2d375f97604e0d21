"""Mail: the texts of the portal's notification mails and the two ways they leave the machine.

- `render`: a notification kind plus its facts -> subject and plain-text body, from the Jinja
  templates in `templates/` (one file per kind, the subject on its first line)
- `transport`: deliver one `email.message.EmailMessage` through SMTP (smtplib, optional
  STARTTLS and login) or into a local maildir (`mailbox.Maildir`, the embedded default)

Nothing here touches the database: `selfcare.services.mail` takes due `mail_outbox` rows, claims
them, renders and delivers them with these, and records the outcome.
"""

from selfcare.mail.render import KINDS, Rendered, UnknownKind, build_message, render
from selfcare.mail.transport import DeliveryError, deliver

__all__ = [
    "KINDS",
    "DeliveryError",
    "Rendered",
    "UnknownKind",
    "build_message",
    "deliver",
    "render",
]
