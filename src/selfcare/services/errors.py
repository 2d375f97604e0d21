"""What the services refuse. Messages are about the request itself (an email, a profile, a
password rule), never about other tenants' data, so pages may show them as they are."""

from __future__ import annotations


class ServiceError(ValueError):
    """A request the services refuse: bad role/tenant combination, unknown user, weak password."""

    def sentence(self) -> str:
        """The message as a sentence for a page: capital first letter, final full stop."""
        text = str(self)
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


class NotFound(ServiceError):
    """No such user or token (for the acting user: one of another tenant is also 'no such')."""


class Forbidden(ServiceError):
    """The acting user may not do this (not an administrator, acting on themselves, ...)."""
