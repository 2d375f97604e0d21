"""The portal's profiles: one registry, used by the gate, the services, the web pages and the CLI.

A profile's code (`admin`, ...) is what the database stores and what pages register with; its
name ("Administrator") is what people read. Tenant profiles belong to one company; operator
profiles (the analyst) work across companies and never see a single line, number or person;
the support agent works tickets across companies and sees only what a ticket names.
"""

from __future__ import annotations

ADMIN = "admin"
FINANCE = "finance"
MANAGER = "manager"
END_USER = "end_user"
ANALYST = "analyst"
SUPPORT = "support"

# In order of reach, widest first: the order of menus and pickers.
TENANT_ROLES: tuple[str, ...] = (ADMIN, FINANCE, MANAGER, END_USER)
OPERATOR_ROLES: tuple[str, ...] = (ANALYST, SUPPORT)
ROLES: tuple[str, ...] = (*TENANT_ROLES, *OPERATOR_ROLES)

# Profiles that see every line of their tenant (unknown lines and account-level charges included).
ALL_LINE_ROLES: tuple[str, ...] = (ADMIN, FINANCE)
# Profiles whose visible lines come from an employee of the HR feed (their own, or their chain's).
EMPLOYEE_ROLES: tuple[str, ...] = (MANAGER, END_USER)

ROLE_NAMES: dict[str, str] = {
    ADMIN: "Administrator",
    FINANCE: "Financial Manager",
    MANAGER: "Manager",
    END_USER: "End User",
    ANALYST: "Operator Analyst",
    SUPPORT: "Support agent",
}


def role_name(role: str) -> str:
    """The name people read for a profile code (the code itself if unknown)."""
    return ROLE_NAMES.get(role, role)


def check_known(roles: tuple[str, ...] | frozenset[str]) -> None:
    """Refuse a role list naming a profile that does not exist (a typo would lock a page)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
