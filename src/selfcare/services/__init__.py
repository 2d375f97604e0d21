"""The domain layer: the portal's rules, each operation one transaction over `selfcare.appdb`
with its audit row.

Pages, the JSON API and the CLI call these modules and nothing below them, so a rule the page
enforces (who may add which user, with which profile) holds for the CLI too.

- `users`: accounts, passwords, sessions, and the administrator's and operator's operations
- `tokens`: personal API tokens
- `audit`: the audit log
- `errors`: what the services refuse (messages safe to show to the person acting)

Every operation takes `db`: an `appdb.Database`, a database URL or a SQLite path.
"""

from selfcare.services.errors import Forbidden, NotFound, ServiceError

__all__ = ["Forbidden", "NotFound", "ServiceError"]
