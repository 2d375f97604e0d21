"""The session signing key: SELFCARE_SECRET_KEY, or one generated once beside the database."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from selfcare.config import Settings

log = logging.getLogger("selfcare.web.auth")

MIN_SECRET = 32
SECRET_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
# Values people paste from examples; refused in production whatever their length.
WEAK_SECRETS = {
    "changeme",
    "change-me",
    "secret",
    "secret-key",
    "secretkey",
    "dev",
    "development",
    "default",
    "selfcare",
    "password",
    "test",
    "insecure",
}


class ConfigError(RuntimeError):
    """The app must not start with this configuration (one line says why)."""


def _weak(key: str) -> bool:
    return (
        len(key) < MIN_SECRET
        or key.strip().lower() in WEAK_SECRETS
        or len(set(key)) < 4  # "xxxxxxxx..." is long but guessable
    )


def resolve_secret_key(settings: Settings) -> str:
    """SELFCARE_SECRET_KEY if set (and strong in production), else a key generated once and kept
    in a 0600 file beside the database. Never a key from the code."""
    key = settings.secret_key
    if key is not None:
        if _weak(key):
            if settings.production:
                raise ConfigError(
                    f"SELFCARE_SECRET_KEY is too weak: use at least {MIN_SECRET} random "
                    "characters (or unset it to use the generated key stored beside the database)"
                )
            log.warning("SELFCARE_SECRET_KEY is weak; acceptable only in development")
        return key
    path = Path(settings.db).parent / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        log.info("generated a session key in %s", path)
    if settings.production and path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by other users; run: chmod 600 {path}")
    stored = path.read_text().strip()
    if _weak(stored):
        raise ConfigError(f"{path} holds a weak key; delete it to generate a new one")
    return stored
