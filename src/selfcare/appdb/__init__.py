"""The portal's own database: tables (models), the handle (Database) and migrations (Alembic).

Only `selfcare.services` uses this package; pages, the JSON API and the CLI call services.
"""

from selfcare.appdb.database import Database, database, forget, resolve_url, sqlite_url
from selfcare.appdb.migrate import HEAD, SchemaError, current, status, upgrade
from selfcare.appdb.models import (
    ApiTokenRecord,
    AuditRecord,
    Base,
    LoginAttemptRecord,
    MailOutboxRecord,
    NotificationRecord,
    OrderApprovalRecord,
    OrderEventRecord,
    OrderLineRecord,
    OrderRecord,
    TenantSettingsRecord,
    TicketCommentRecord,
    TicketEventRecord,
    TicketLineRecord,
    TicketRecord,
    UserRecord,
)

__all__ = [
    "HEAD",
    "ApiTokenRecord",
    "AuditRecord",
    "Base",
    "Database",
    "LoginAttemptRecord",
    "MailOutboxRecord",
    "NotificationRecord",
    "OrderApprovalRecord",
    "OrderEventRecord",
    "OrderLineRecord",
    "OrderRecord",
    "SchemaError",
    "TenantSettingsRecord",
    "TicketCommentRecord",
    "TicketEventRecord",
    "TicketLineRecord",
    "TicketRecord",
    "UserRecord",
    "current",
    "database",
    "forget",
    "resolve_url",
    "sqlite_url",
    "status",
    "upgrade",
]
