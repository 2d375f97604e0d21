"""Portal users: accounts, passwords, sessions, and who may add or change which user.

Passwords are stored only as argon2id hashes above OWASP's minimum cost. Every user carries a
`session_version`: logging out, changing the password or deactivating bumps it, and a session
cookie carrying an older version is refused.

The rules of a profile hold for everyone who creates or changes a user (the Users page, the CLI,
the demo): a known profile; a tenant for every tenant profile and none for the analyst; an
employee of the HR feed for the profiles whose data is built from one (manager, end user).
An administrator additionally acts only on their own tenant's users, only with tenant profiles,
never on themselves (`add_by_admin`, `change_role_by_admin`, `set_active_by_admin`).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from selfcare import roles
from selfcare.appdb import ApiTokenRecord, Database, UserRecord, database
from selfcare.roles import EMPLOYEE_ROLES, OPERATOR_ROLES, ROLE_NAMES, ROLES, TENANT_ROLES
from selfcare.services.audit import audit, now, record
from selfcare.services.errors import Forbidden, NotFound, ServiceError

DbLike = Database | str | os.PathLike[str]

MIN_PASSWORD = 12
# argon2 hashes any length in one pass, but a megabyte "password" is a cheap way to burn CPU.
MAX_PASSWORD = 1024
# zxcvbn's estimate (0 = guessed at once ... 4 = very unlikely): 3 is "safely unguessable:
# moderate protection from an offline slow-hash scenario" (10^10 guesses), which with argon2id
# behind it is beyond an online or stolen-database attack on one account.
MIN_PASSWORD_SCORE = 3
# zxcvbn's matching grows faster than linearly with the length, so it refuses more than 72
# characters; we judge the first 72 (a longer password is judged by its beginning: a weak
# beginning with more after it is still refused, which errs on the safe side).
ZXCVBN_MAX_LENGTH = 72
# zxcvbn keeps the user inputs in a module-global dictionary while it runs: one at a time.
_zxcvbn_lock = threading.Lock()

# OWASP Password Storage Cheat Sheet: argon2id, m >= 19 MiB, t >= 2, p = 1. We sit above it
# (32 MiB, t = 3: about 55 ms on the 2-core target machine).
ARGON2_MEMORY_KIB = 32 * 1024
ARGON2_TIME_COST = 3
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    type=Type.ID,
)

# Profiles that see no data without an employee (their scope is built from the employee's lines).
NEEDS_EMPLOYEE: tuple[str, ...] = EMPLOYEE_ROLES
PASSWORD_BYTES = 12  # token_urlsafe(12): 16 characters, 96 bits, above MIN_PASSWORD


@dataclass(frozen=True)
class User:
    """A signed-in (or token-authenticated) user, freshly read from the database.

    Has the attributes flask-login needs, without importing it (the CLI uses this module too).
    `get_id()` carries the session version, so an older session cookie no longer loads a user.
    """

    id: int
    email: str
    role: str
    tenant_id: str | None
    employee_id: str | None
    active: bool
    session_version: int
    via_token: bool = False
    token_scope: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def role_name(self) -> str:
        return roles.role_name(self.role)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


# --- validation -------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise ServiceError(f"not an email address: {email!r}")
    return email


def check_role(role: str, tenant_id: str | None) -> None:
    """The analyst sees aggregates across tenants and has no tenant; everyone else needs one."""
    if role not in ROLES:
        raise ServiceError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role in OPERATOR_ROLES and tenant_id:
        raise ServiceError(f"the {ROLE_NAMES[role]} works across tenants and cannot belong to one")
    if role not in OPERATOR_ROLES and not tenant_id:
        raise ServiceError(f"a {role} user needs a tenant")


def check_profile(role: str, tenant_id: str | None, employee_id: str | None) -> None:
    """Every rule of a profile that holds whoever creates or changes the user."""
    check_role(role, tenant_id)
    if role in OPERATOR_ROLES and employee_id:
        raise ServiceError(f"the {ROLE_NAMES[role]} is not linked to a tenant's employee")
    if role in NEEDS_EMPLOYEE and not employee_id:
        raise ServiceError(
            f"the {ROLE_NAMES[role]} profile needs an employee: their lines define what they see"
        )


def personal_words(email: str | None) -> list[str]:
    """What a guesser knows about the user: the email, its local part and the words in it, the
    domain's name (zxcvbn's `user_inputs`)."""
    if not email:
        return []
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    words = [email, local, domain.split(".")[0], *re.split(r"[._+-]+", local)]
    return [w for w in dict.fromkeys(words) if len(w) >= 3]


def password_strength(password: str, user_inputs: Collection[str] = ()) -> dict[str, Any]:
    """zxcvbn's judgement of the password's first ZXCVBN_MAX_LENGTH characters."""
    with _zxcvbn_lock:
        return zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=list(user_inputs))


def check_password(password: str, user_inputs: Collection[str] = ()) -> None:
    """Length 12 to 1024 and a zxcvbn score of at least MIN_PASSWORD_SCORE, knowing the user's
    own words; the refusal says why and how to do better (zxcvbn's warning and suggestions)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ServiceError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ServiceError(f"a password may have at most {MAX_PASSWORD} characters")
    result = password_strength(password, user_inputs)
    if result["score"] < MIN_PASSWORD_SCORE:
        feedback = result.get("feedback") or {}
        hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
        advice = " ".join(h.strip().rstrip(".") + "." for h in hints if h and h.strip())
        raise ServiceError(
            "this password is too easy to guess"
            + (f": {advice}" if advice else ".")
            + " A few unrelated words, or a password manager's random password, will do."
        )


def hash_password(password: str, user_inputs: Collection[str] = ()) -> str:
    check_password(password, user_inputs)
    return _hasher.hash(password)


def new_password() -> str:
    """A generated initial password (shown once to the administrator who created the user)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verifying unknown emails against a real hash of the same cost makes "no such user" take as
    # long as "wrong password", so response times do not reveal which emails exist.
    return _hasher.hash(secrets.token_urlsafe(24))


# --- rows -------------------------------------------------------------------------------------


def to_user(
    row: UserRecord | None, via_token: bool = False, scope: str | None = None
) -> User | None:
    if row is None:
        return None
    return User(
        id=int(row.id),
        email=row.email,
        role=row.role,
        tenant_id=row.tenant_id,
        employee_id=row.employee_id,
        active=bool(row.active),
        session_version=int(row.session_version),
        via_token=via_token,
        token_scope=scope,
    )


def _by_email(session: Session, email: str) -> UserRecord | None:
    return session.scalars(select(UserRecord).where(UserRecord.email == email)).first()


def user_row(session: Session, who: str | int) -> UserRecord:
    """A user by id (int or digits) or email; NotFound if there is none."""
    if isinstance(who, int) or (isinstance(who, str) and who.isascii() and who.isdigit()):
        row = session.get(UserRecord, int(who))
    else:
        row = _by_email(session, normalise_email(str(who)))
    if row is None:
        raise NotFound(f"no such user: {who}")
    return row


def _bump_sessions(session: Session, user_id: int, **values: Any) -> None:
    session.execute(
        update(UserRecord)
        .where(UserRecord.id == user_id)
        .values(session_version=UserRecord.session_version + 1, **values)
    )


def _insert(
    session: Session,
    email: str,
    password_hash: str,
    role: str,
    tenant_id: str | None,
    employee_id: str | None,
) -> UserRecord:
    if session.scalar(select(exists().where(UserRecord.email == email))):
        raise ServiceError(f"a user with email {email} already exists")
    row = UserRecord(
        email=email,
        password_hash=password_hash,
        role=role,
        tenant_id=tenant_id,
        employee_id=employee_id,
        active=1,
        session_version=1,
        created_at=now(),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as e:  # added by someone else since the check
        raise ServiceError(f"a user with email {email} already exists") from e
    return row


def _revoke_tokens(session: Session, row: UserRecord, reason: str, ip: str | None = None) -> int:
    """Revoke every live token of the user, in the caller's transaction (so the change that
    calls for it and the revocation commit together), with an audit row; returns how many."""
    revoked = session.execute(
        update(ApiTokenRecord)
        .where(ApiTokenRecord.user_id == row.id, ApiTokenRecord.revoked_at.is_(None))
        .values(revoked_at=now())
    ).rowcount
    if revoked:
        record(session, "tokens_revoked", row.email, row.id, ip, f"{revoked} token(s): {reason}")
    return int(revoked or 0)


# --- users ------------------------------------------------------------------------------------


def add_user(
    db: DbLike,
    email: str,
    role: str,
    tenant_id: str | None = None,
    employee_id: str | None = None,
    password: str = "",
) -> int:
    """Create a user (the operator's way: CLI, tests); returns its id. The email must be new
    (case-insensitively) and the profile's rules hold (`check_profile`)."""
    email = normalise_email(email)
    tenant_id = tenant_id or None
    employee_id = employee_id or None
    check_profile(role, tenant_id, employee_id)
    password_hash = hash_password(password, personal_words(email))
    with database(db).transaction() as session:
        row = _insert(session, email, password_hash, role, tenant_id, employee_id)
        record(session, "user_added", email, row.id, None, f"role={role} tenant={tenant_id or '-'}")
        return int(row.id)


def upsert_user(
    db: DbLike,
    email: str,
    role: str,
    tenant_id: str | None,
    employee_id: str | None,
    password: str,
) -> int:
    """Create the user or reset an existing one (role, tenant, employee, password; re-activated).

    Used by the demo, which hands out fresh passwords on every run; old sessions end.
    """
    email = normalise_email(email)
    tenant_id = tenant_id or None
    employee_id = employee_id or None
    check_profile(role, tenant_id, employee_id)
    password_hash = hash_password(password, personal_words(email))
    with database(db).transaction() as session:
        row = _by_email(session, email)
        if row is None:
            row = _insert(session, email, password_hash, role, tenant_id, employee_id)
            record(session, "user_added", email, row.id, None, f"role={role}")
            return int(row.id)
        _bump_sessions(
            session,
            row.id,
            password_hash=password_hash,
            role=role,
            tenant_id=tenant_id,
            employee_id=employee_id,
            active=1,
        )
        _revoke_tokens(session, row, "account reset")
        record(session, "user_reset", email, row.id, None, f"role={role}")
        return int(row.id)


def get_user(db: DbLike, user_id: int) -> User | None:
    with database(db).transaction(readonly=True) as session:
        return to_user(session.get(UserRecord, int(user_id)))


def find_user(db: DbLike, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except ServiceError:
        return None
    with database(db).transaction(readonly=True) as session:
        return to_user(_by_email(session, email))


def _listed(row: UserRecord) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "email": row.email,
        "role": row.role,
        "tenant_id": row.tenant_id,
        "employee_id": row.employee_id,
        "active": bool(row.active),
        "created_at": row.created_at,
    }


def list_users(db: DbLike, tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Every user, or with `tenant_id` only that tenant's (an administrator's own users)."""
    query = select(UserRecord).order_by(UserRecord.id)
    if tenant_id is not None:
        query = query.where(UserRecord.tenant_id == tenant_id)
    with database(db).transaction(readonly=True) as session:
        return [_listed(r) for r in session.scalars(query)]


def _set_role(session: Session, row: UserRecord, role: str, tenant_id: str | None) -> str:
    """Change the row's profile (validated); returns the old role."""
    if role in OPERATOR_ROLES:
        if tenant_id:
            raise ServiceError(
                f"the {ROLE_NAMES[role]} works across tenants and cannot belong to one"
            )
        new_tenant, new_employee = None, None
    else:
        new_tenant = tenant_id or row.tenant_id
        new_employee = row.employee_id if new_tenant == row.tenant_id else None
    check_profile(role, new_tenant, new_employee)
    old = row.role
    row.role, row.tenant_id, row.employee_id = role, new_tenant, new_employee
    return old


def set_role(db: DbLike, email: str | int, role: str, tenant_id: str | None = None) -> None:
    """Change a user's profile; it applies on their next request (users are reloaded per request).

    `tenant_id` is needed only when the new role changes tenancy (analyst <-> tenant profile):
    becoming an analyst clears tenant and employee; leaving it needs a tenant.
    """
    with database(db).transaction() as session:
        row = user_row(session, email)
        old = _set_role(session, row, role, tenant_id)
        record(session, "role_changed", row.email, row.id, None, f"{old} -> {role}")
        if old != role:
            _revoke_tokens(session, row, "profile changed")


def deactivate(db: DbLike, email: str | int) -> None:
    """Deactivate: every session and token of the user stops working on the next request."""
    with database(db).transaction() as session:
        row = user_row(session, email)
        _bump_sessions(session, row.id, active=0)
        record(session, "deactivated", row.email, row.id, None, None)
        _revoke_tokens(session, row, "account deactivated")


def activate(db: DbLike, email: str | int) -> None:
    with database(db).transaction() as session:
        row = user_row(session, email)
        row.active = 1
        record(session, "activated", row.email, row.id, None, None)


def set_password(db: DbLike, email: str | int, password: str) -> None:
    """Set a new password, end every existing session of the user and revoke their tokens."""
    with database(db).transaction(readonly=True) as session:
        known = user_row(session, email).email  # the strength check knows the user's own words
    password_hash = hash_password(password, personal_words(known))
    with database(db).transaction() as session:
        row = user_row(session, email)
        _bump_sessions(session, row.id, password_hash=password_hash)
        record(session, "password_changed", row.email, row.id, None, None)
        _revoke_tokens(session, row, "password changed")


def end_sessions(db: DbLike, user_id: int) -> None:
    """Invalidate every session cookie the user holds (logout)."""
    with database(db).transaction() as session:
        _bump_sessions(session, int(user_id))


def sign_out(db: DbLike, user_id: int, ip: str | None = None) -> None:
    """Logout: end every session of the user and audit it, in one transaction."""
    with database(db).transaction() as session:
        row = session.get(UserRecord, int(user_id))
        if row is None:
            return
        _bump_sessions(session, row.id)
        record(session, "logout", row.email, row.id, ip, None)


def load_session_user(db: DbLike, session_id: str) -> User | None:
    """The user behind a session's id ("<user id>:<session version>"), if still valid."""
    user_id, sep, version = str(session_id).partition(":")
    if not (sep and (user_id + version).isascii() and user_id.isdigit() and version.isdigit()):
        return None
    user = get_user(db, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    if user.role not in ROLES:
        return None
    return user


def authenticate(db: DbLike, email: str, password: str) -> User | None:
    """The active user with this email and password, or None; same work whether or not the
    email exists. Upgrades the stored hash when the cost parameters have been raised (a second,
    short transaction: the hash is checked outside any write lock)."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        password = ""
    try:
        email = normalise_email(email)
    except ServiceError:
        email = ""
    handle = database(db)
    with handle.transaction(readonly=True) as session:
        row = _by_email(session, email) if email else None
    stored = row.password_hash if row is not None else _dummy_hash()
    try:
        _hasher.verify(stored, password)
        ok = row is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or not row.active:
        return None
    if _hasher.check_needs_rehash(stored):
        with handle.transaction() as session:
            session.execute(
                update(UserRecord)
                .where(UserRecord.id == row.id)
                .values(password_hash=_hasher.hash(password))
            )
    return to_user(row)


# --- the administrator's operations (the Users page) --------------------------------------------


def require_admin(actor: Any) -> str:
    """The acting administrator's tenant; Forbidden for anyone else."""
    if (
        actor is None
        or not getattr(actor, "is_authenticated", False)
        or getattr(actor, "via_token", False)
        or getattr(actor, "role", None) != roles.ADMIN
        or not getattr(actor, "tenant_id", None)
    ):
        raise Forbidden("only an administrator of an organisation manages its users")
    return str(actor.tenant_id)


# The one answer when an administrator's new user cannot have the email they typed, whatever the
# reason (not an address, a user of their own organisation, of another tenant, the operator's):
# an administrator must not learn which addresses exist elsewhere.
EMAIL_REFUSED = (
    "This email address cannot be used for a new user. Check it, or use another address."
)


def tenant_role(role: Any) -> str:
    """A profile an administrator may give: one of the tenant profiles."""
    if not isinstance(role, str) or role not in TENANT_ROLES:
        raise ServiceError(
            "Choose one of the profiles: " + ", ".join(ROLE_NAMES[r] for r in TENANT_ROLES) + "."
        )
    return role


def _own_row(session: Session, tenant_id: str, who: Any) -> UserRecord:
    """The user `who` (an id from the browser) if it belongs to the administrator's tenant."""
    try:
        user_id = int(str(who).strip())
    except (TypeError, ValueError):
        raise NotFound("Choose a user of your organisation.") from None
    row = session.get(UserRecord, user_id) if user_id > 0 else None
    if row is None or row.tenant_id != tenant_id or row.role not in TENANT_ROLES:
        # The same answer for "no such user" and "another tenant's user": ids are not probed.
        raise NotFound("No such user in your organisation.")
    return row


def tenant_users(db: DbLike, actor: Any) -> list[dict[str, Any]]:
    """The administrator's tenant's users, newest first (a user just added shows at the top);
    analysts never (they have no tenant, and are the operator's)."""
    tenant_id = require_admin(actor)
    users = [u for u in list_users(db, tenant_id=tenant_id) if u["role"] in TENANT_ROLES]
    return sorted(users, key=lambda u: int(u["id"]), reverse=True)


def add_by_admin(
    db: DbLike,
    actor: Any,
    email: Any,
    role: Any,
    employee_id: Any,
    tenant_employees: Callable[[], Collection[str]],
    ip: str | None = None,
) -> tuple[User, str]:
    """An administrator adds a user to their own tenant with a generated password.

    `tenant_employees()`: the employee ids of the administrator's tenant, asked only when an
    employee is given (the HR feed lives in the lake: the page reads it through the gate).
    Returns (the new user, its initial password).
    """
    tenant_id = require_admin(actor)
    role = tenant_role(role)
    employee = str(employee_id).strip() if employee_id else ""
    if employee and employee not in tenant_employees():
        raise NotFound("No such employee in your organisation.")
    if not employee and role in NEEDS_EMPLOYEE:
        raise ServiceError(
            f"The {ROLE_NAMES[role]} profile needs an employee: their lines define what they see."
        )
    check_profile(role, tenant_id, employee or None)
    password = new_password()
    password_hash = hash_password(password)
    try:
        email_n = normalise_email(str(email or ""))
    except ServiceError:
        raise ServiceError(EMAIL_REFUSED) from None
    try:
        with database(db).transaction() as session:
            # _insert refuses an email that exists anywhere (or appeared meanwhile)
            row = _insert(session, email_n, password_hash, role, tenant_id, employee or None)
            record(session, "user_added", email_n, row.id, None, f"role={role} tenant={tenant_id}")
            record(
                session,
                "admin_user_added",
                actor.email,
                actor.id,
                ip,
                f"target={row.email} (id {row.id}) role={role} employee={employee or '-'}",
            )
            return to_user(row), password
    except ServiceError:
        pass
    # For the operator, outside the refused transaction; the administrator only learns that the
    # address cannot be used, whether it is one of theirs, another tenant's or the operator's.
    audit(db, "admin_user_add_refused", actor.email, actor.id, ip, f"target={email_n}: in use")
    raise ServiceError(EMAIL_REFUSED)


def change_role_by_admin(db: DbLike, actor: Any, who: Any, role: Any, ip: str | None = None) -> str:
    """An administrator changes the profile of one of their tenant's users (not their own).
    Returns the message for the page."""
    tenant_id = require_admin(actor)
    with database(db).transaction() as session:
        row = _own_row(session, tenant_id, who)
        role = tenant_role(role)
        if row.id == actor.id:
            raise Forbidden("You cannot change your own profile: ask another administrator.")
        if role in NEEDS_EMPLOYEE and not row.employee_id:
            raise ServiceError(
                f"{row.email} has no employee, so cannot have the {ROLE_NAMES[role]} profile."
            )
        if role == row.role:
            return f"{row.email} already has the {ROLE_NAMES[role]} profile."
        # tenant_id pins the tenant: a tenant profile never moves tenant this way
        old = _set_role(session, row, role, tenant_id)
        record(session, "role_changed", row.email, row.id, None, f"{old} -> {role}")
        record(
            session,
            "admin_role_changed",
            actor.email,
            actor.id,
            ip,
            f"target={row.email} (id {row.id}) {old} -> {role}",
        )
        _revoke_tokens(session, row, "profile changed", ip)
        return f"{row.email} now has the {ROLE_NAMES[role]} profile."


def set_active_by_admin(
    db: DbLike, actor: Any, who: Any, active: bool, ip: str | None = None
) -> str:
    """An administrator deactivates or reactivates one of their tenant's users (not themselves).
    Returns the message for the page."""
    tenant_id = require_admin(actor)
    with database(db).transaction() as session:
        row = _own_row(session, tenant_id, who)
        if row.id == actor.id:
            raise Forbidden("You cannot deactivate or reactivate yourself.")
        if bool(row.active) == active:
            return f"{row.email} is already {'active' if active else 'deactivated'}."
        target = f"target={row.email} (id {row.id})"
        if active:
            row.active = 1
            record(session, "activated", row.email, row.id, None, None)
            record(session, "admin_user_activated", actor.email, actor.id, ip, target)
            return f"{row.email} is active again."
        _bump_sessions(session, row.id, active=0)
        record(session, "deactivated", row.email, row.id, None, None)
        record(session, "admin_user_deactivated", actor.email, actor.id, ip, target)
        _revoke_tokens(session, row, "account deactivated", ip)
        return f"{row.email} is deactivated and signed out."
