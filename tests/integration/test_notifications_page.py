"""The Notifications page and the top bar's count, over the test portal: each user sees and
marks only their own notifications, newest first, each linking to its order; the analyst has
neither the link nor the callback. Rows are written straight into the database here."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from selfcare.appdb import database
from selfcare.appdb.models import NotificationRecord, OrderRecord
from selfcare.services import users
from tests.conftest import login
from tests.pg_support import raw_rows


def _call(client, clicks=None):
    """The page's callback, as the browser posts it (the output names read from the app's own
    /_dash-dependencies: Dash suffixes duplicate outputs with a hash)."""
    deps = client.get("/_dash-dependencies").json
    [dep] = [d for d in deps if d["output"].startswith("..notifications-list.children")]
    outputs = [
        {"id": o.split(".", 1)[0], "property": o.split(".", 1)[1]}
        for o in dep["output"].strip(".").split("...")
    ]
    return client.post("/_dash-update-component", json={
        "output": dep["output"],
        "outputs": outputs,
        "inputs": [{"id": "notifications-mark-all", "property": "n_clicks", "value": clicks}],
        "changedPropIds": ["notifications-mark-all.n_clicks"] if clicks else [],
    })  # fmt: skip


@pytest.fixture(scope="module")
def seeded(portal, people):
    db = os.environ["SELFCARE_DB"]
    admin = users.find_user(db, people["admin"].email)
    finance = users.find_user(db, people["finance"].email)
    with database(db).transaction() as session:
        order = OrderRecord(
            reference="ORD-T-0001", tenant_id=admin.tenant_id, requester_id=finance.id,
            requester_email=finance.email, requester_role="finance", action="add_service",
            params={"service_code": "ROAM"}, reason="trip", monthly_change=Decimal("10.00"),
            once_off_change=Decimal("0.00"), state="pending_approval",
            created_at="2026-12-07T10:00:00+00:00", updated_at="2026-12-07T10:00:00+00:00",
            restarted_at="2026-12-07T10:00:00+00:00",
        )  # fmt: skip
        session.add(order)
        session.flush()
        rows = [
            (admin, "approval_requested", "ORD-T-0001 is waiting for your approval", "10:00"),
            (admin, "completed", "Your request ORD-T-0000 was completed", "09:00"),
            (admin, "failed", "Your request ORD-T-0002 failed", "11:00"),
            (finance, "approved", "Your request ORD-T-0001 was approved (finance only)", "12:00"),
        ]
        for who, kind, text, hhmm in rows:
            session.add(NotificationRecord(
                user_id=who.id, tenant_id=who.tenant_id, kind=kind, order_id=order.id,
                text=text, created_at=f"2026-12-07T{hhmm}:00+00:00",
            ))  # fmt: skip
    return {"db": db, "order_id": order.id, "admin": admin, "finance": finance}


def _texts(children) -> list[str]:
    """The notifications' texts, in the order the list shows them."""
    out = []
    for li in children["props"]["children"]:
        link = li["props"]["children"][2]
        out.append(link["props"]["children"])
    return out


@pytest.mark.slow
def test_the_list_shows_only_mine_newest_first_and_mark_all_read(flask_app, people, seeded):
    c = flask_app.test_client()
    login(c, people["admin"])
    layout = c.get("/_dash-layout").get_data(as_text=True)
    assert "Notifications (3)" in layout
    assert "Notifications: 3 unread" in layout

    resp = _call(c)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    got = resp.json["response"]
    assert _texts(got["notifications-list"]["children"]) == [
        "Your request ORD-T-0002 failed",
        "ORD-T-0001 is waiting for your approval",
        "Your request ORD-T-0000 was completed",
    ]
    first = got["notifications-list"]["children"]["props"]["children"][0]
    assert first["props"]["children"][2]["props"]["href"] == f"/requests/{seeded['order_id']}"
    assert "finance only" not in resp.get_data(as_text=True)

    resp = _call(c, clicks=1)
    got = resp.json["response"]
    assert got["notifications-message"]["children"] == "Marked 3 as read."
    assert sorted(got["app-notifications"].values()) == [
        "Notifications (0)",
        "Notifications: none unread",
    ]
    read = raw_rows(Path(seeded["db"]), "select user_id, read_at from notifications")
    by_user = {(r["user_id"], r["read_at"] is not None) for r in read}
    assert (seeded["finance"].id, False) in by_user  # someone else's row is untouched
    assert (seeded["admin"].id, False) not in by_user


@pytest.mark.slow
def test_the_analyst_has_no_notifications(flask_app, people, seeded):
    c = flask_app.test_client()
    login(c, people["analyst"])
    assert "app-notifications" not in c.get("/_dash-layout").get_data(as_text=True)
    assert _call(c).status_code == 403
    assert c.get("/notifications").status_code == 403
