"""Approval settings: the finance threshold (default R 200.00; only the tenant's Administrator
sets it; per tenant; audited). Both backends."""

from __future__ import annotations

from decimal import Decimal

import pytest

from selfcare.services import users
from selfcare.services.orders import InvalidParams, NotAllowed, get_threshold, set_threshold

PASSWORD = "correct horse battery staple"  # noqa: S105 (a test password)


def _user(db, email, role, tenant):
    return users.get_user(db, users.add_user(db, email, role, tenant, "E1", PASSWORD))


def test_threshold_default_set_and_per_tenant(db):
    admin = _user(db, "a@t1.test", "admin", "T1")
    other = _user(db, "a@t2.test", "admin", "T2")
    assert get_threshold(db, admin) == Decimal("200.00")
    set_threshold(db, admin, Decimal("350.5"))
    assert get_threshold(db, admin) == Decimal("350.50")
    assert get_threshold(db, other) == Decimal("200.00")
    set_threshold(db, admin, Decimal("0"))
    assert get_threshold(db, admin) == Decimal("0.00")
    events = [row["event"] for row in users_audit(db)]
    assert events.count("finance_threshold_set") == 2


def users_audit(db):
    from selfcare.services.audit import list_audit

    return list_audit(db)


def test_only_admin_sets_and_amount_checked(db):
    admin = _user(db, "a@t1.test", "admin", "T1")
    finance = _user(db, "f@t1.test", "finance", "T1")
    with pytest.raises(NotAllowed):
        set_threshold(db, finance, Decimal("10"))
    with pytest.raises(InvalidParams):
        set_threshold(db, admin, Decimal("-1"))
    assert get_threshold(db, finance) == Decimal("200.00")
