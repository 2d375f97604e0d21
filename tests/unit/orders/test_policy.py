"""Who may request and who may approve, on a small hand-made org chart.

The expected answers are written out case by case from the issue's rules, not derived from the
module:

    tenant T1                                   accounts (profile)
    E0  chief executive                         u_ceo  manager
    ├── E1  head of sales                       u_m1   manager
    │   ├── E2  team lead                       (no portal account)
    │   │   └── E3  sales rep                   u_e3   end user
    │   └── E4  sales rep                       u_e4   end user
    ├── E5  head of operations (E1's peer)      u_m5   manager
    │   └── E6  technician                      u_e6   end user
    ├── E7  financial manager                   u_f7   finance
    ├── E10 financial controller                u_f10  finance
    └── E8  administrator                       u_a8   admin
    E9  contractor, no manager                  u_e9   end user

    tenant T2: u_x2 (manager, employee id E1: the same id, another company), u_xa (admin)
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from selfcare import roles
from selfcare.orders import policy as P

MANAGERS = {"E1": "E0", "E2": "E1", "E3": "E2", "E4": "E1", "E5": "E0", "E6": "E5",
            "E7": "E0", "E10": "E0", "E8": "E0", "E0": None}
ACCOUNTS = {"E0": roles.MANAGER, "E1": roles.MANAGER, "E3": roles.END_USER,
            "E4": roles.END_USER, "E5": roles.MANAGER, "E6": roles.END_USER,
            "E7": roles.FINANCE, "E10": roles.FINANCE, "E8": roles.ADMIN, "E9": roles.END_USER}
ORG = P.Org("T1", MANAGERS, ACCOUNTS)

PEOPLE = {
    "u_ceo": P.Person("u_ceo", "T1", roles.MANAGER, "E0"),
    "u_m1": P.Person("u_m1", "T1", roles.MANAGER, "E1"),
    "u_e3": P.Person("u_e3", "T1", roles.END_USER, "E3"),
    "u_e4": P.Person("u_e4", "T1", roles.END_USER, "E4"),
    "u_m5": P.Person("u_m5", "T1", roles.MANAGER, "E5"),
    "u_e6": P.Person("u_e6", "T1", roles.END_USER, "E6"),
    "u_f7": P.Person("u_f7", "T1", roles.FINANCE, "E7"),
    "u_f10": P.Person("u_f10", "T1", roles.FINANCE, "E10"),
    "u_a8": P.Person("u_a8", "T1", roles.ADMIN, "E8"),
    "u_e9": P.Person("u_e9", "T1", roles.END_USER, "E9"),
    "u_an": P.Person("u_an", "T1", roles.ANALYST, None),
    "u_x2": P.Person("u_x2", "T2", roles.MANAGER, "E1"),
    "u_xa": P.Person("u_xa", "T2", roles.ADMIN, None),
}


def order(requester: str, owners=("E3",), increase="0.00") -> P.OrderFacts:
    return P.OrderFacts("T1", PEOPLE[requester], tuple(owners), Decimal(increase))


# (requester, line owners) -> may request
REQUESTS = [
    ("u_e3", ["E3"], True),
    ("u_e3", ["E4"], False),
    ("u_e3", ["E3", "E4"], False),
    ("u_e3", [None], False),
    ("u_e3", [], False),
    ("u_m1", ["E3"], True),  # below E1 through E2, who has no account
    ("u_m1", ["E4", "E3"], True),
    ("u_m1", ["E1"], True),  # their own line
    ("u_m1", ["E6"], False),  # a peer's report
    ("u_m1", ["E0"], False),  # their own manager
    ("u_m1", [None], False),
    ("u_m5", ["E6"], True),
    ("u_m5", ["E3"], False),
    ("u_ceo", ["E3", "E6", "E7"], True),
    ("u_ceo", ["E9"], False),  # not in the CEO's chain
    ("u_f7", ["E7"], True),
    ("u_f7", ["E3"], False),
    ("u_a8", ["E3", "E6", "E9"], True),
    ("u_a8", [None], True),
    ("u_an", ["E3"], False),
    ("u_x2", ["E3"], False),  # another tenant, though the employee id matches
    ("u_xa", ["E3"], False),
]


@pytest.mark.parametrize(("who", "owners", "allowed"),
                         [pytest.param(w, o, a, id=f"{w}-{'+'.join(map(str, o)) or 'none'}")
                          for w, o, a in REQUESTS])
def test_who_may_request(who, owners, allowed):
    assert P.may_request(PEOPLE[who], ORG, owners) is allowed
    if allowed:
        P.check_request(PEOPLE[who], ORG, owners)
    else:
        with pytest.raises(P.NotAllowed):
            P.check_request(PEOPLE[who], ORG, owners)


def test_an_account_without_an_employee_orders_nothing_but_as_admin():
    lost = P.Person("u_lost", "T1", roles.MANAGER, None)
    assert P.request_refusal(lost, ORG, ["E3"]) == "your account is not linked to an employee"


@pytest.mark.parametrize(
    ("requester", "increase", "steps"),
    [
        pytest.param("u_e3", "50.00", ("manager",), id="small"),
        pytest.param("u_e3", "200.00", ("manager",), id="at-threshold"),
        pytest.param("u_e3", "200.01", ("manager", "finance"), id="above-threshold"),
        pytest.param("u_m1", "999.00", ("manager", "finance"), id="manager-above"),
        pytest.param("u_a8", "999.00", (), id="admin-direct"),
    ],
)
def test_required_approvals(requester, increase, steps):
    assert P.required_approvals(order(requester, increase=increase), ORG) == steps


def test_a_tenant_sets_its_own_threshold():
    strict = P.Org("T1", MANAGERS, ACCOUNTS, finance_threshold=Decimal("50.00"))
    assert P.required_approvals(order("u_e3", increase="50.01"), strict) == ("manager", "finance")
    assert P.DEFAULT_FINANCE_THRESHOLD == Decimal("200.00")


@pytest.mark.parametrize(
    ("requester", "waits_for"),
    [
        pytest.param("u_e3", "E1", id="skips-manager-without-account"),
        pytest.param("u_e4", "E1", id="direct-manager"),
        pytest.param("u_e6", "E5", id="other-branch"),
        pytest.param("u_m1", "E0", id="manager-to-ceo"),
        pytest.param("u_f7", "E0", id="finance-to-ceo"),
        pytest.param("u_ceo", None, id="top-goes-to-admins"),
        pytest.param("u_e9", None, id="no-manager-goes-to-admins"),
    ],
)
def test_the_request_waits_for_the_nearest_manager_with_an_account(requester, waits_for):
    assert P.notify_approver(order(requester), ORG) == waits_for


def test_a_manager_account_is_needed_to_be_notified():
    # E1's account is an End User one: E3's request skips E1 and goes to E0.
    org = P.Org("T1", MANAGERS, {**ACCOUNTS, "E1": roles.END_USER})
    assert P.notify_approver(order("u_e3"), org) == "E0"


# Order by u_e3 for E3's line, below the threshold: who may approve (and reject) it.
SMALL_ORDER_APPROVERS = {
    "u_m1": True,  # the nearest manager above with an account
    "u_ceo": True,  # any manager above
    "u_a8": True,  # admin approves anything in the tenant
    "u_m5": False,  # peer manager
    "u_e4": False,
    "u_e6": False,
    "u_e9": False,
    "u_e3": False,  # own order
    "u_f7": False,  # finance gives only the finance step
    "u_an": False,
    "u_x2": False,  # another tenant's manager with the same employee id
    "u_xa": False,  # another tenant's admin
}


@pytest.mark.parametrize(("who", "allowed"), list(SMALL_ORDER_APPROVERS.items()))
def test_who_may_approve_a_small_order(who, allowed):
    o = order("u_e3", increase="50.00")
    assert P.may_approve(PEOPLE[who], o, ORG) is allowed
    if allowed:
        given, done = P.approve(PEOPLE[who], o, ORG)
        assert done and given == (P.Approval(P.Step.MANAGER, who),)
    else:
        with pytest.raises(P.NotAllowed):
            P.approve(PEOPLE[who], o, ORG)


def test_nobody_approves_their_own_order():
    o = order("u_m1", owners=["E3"])
    assert P.approval_refusal(PEOPLE["u_m1"], o, ORG) == "nobody approves their own order"
    assert P.may_approve(PEOPLE["u_ceo"], o, ORG)
    assert not P.may_approve(PEOPLE["u_m5"], o, ORG)
    f = order("u_f7", owners=["E7"], increase="300.00")
    given, done = P.approve(PEOPLE["u_ceo"], f, ORG)
    assert not done
    assert not P.may_approve(PEOPLE["u_f7"], f, ORG, given)  # own order, though finance
    given, done = P.approve(PEOPLE["u_f10"], f, ORG, given)
    assert done


def test_finance_is_a_second_approval_above_the_threshold():
    o = order("u_e3", increase="250.00")
    assert P.approval_refusal(PEOPLE["u_f7"], o, ORG) == (
        "the Financial Manager approves after the requester's manager")
    given, done = P.approve(PEOPLE["u_m1"], o, ORG)
    assert not done and P.open_steps(o, ORG, given) == ("finance",)
    assert not P.may_approve(PEOPLE["u_m1"], o, ORG, given)  # already approved
    assert not P.may_approve(PEOPLE["u_ceo"], o, ORG, given)  # a manager is not finance
    assert not P.may_approve(PEOPLE["u_e4"], o, ORG, given)
    # Finance approves for the whole tenant, not only their own chain.
    assert P.may_approve(PEOPLE["u_f10"], o, ORG, given)
    given, done = P.approve(PEOPLE["u_f7"], o, ORG, given)
    assert done
    assert P.approval_refusal(PEOPLE["u_a8"], o, ORG, given) == (
        "the order needs no further approval")


def test_an_administrator_fills_every_open_step():
    o = order("u_e3", increase="250.00")
    given, done = P.approve(PEOPLE["u_a8"], o, ORG)
    assert done and {a.step for a in given} == {"manager", "finance"}


def test_editing_restarts_approvals():
    o = order("u_e3", increase="250.00")
    given, _ = P.approve(PEOPLE["u_m1"], o, ORG)
    edited = order("u_e3", increase="20.00")
    given = P.restart(given)
    assert given == ()
    assert P.open_steps(edited, ORG, given) == ("manager",)
    assert P.may_approve(PEOPLE["u_m1"], edited, ORG, given)


def test_an_admin_order_needs_no_approval_and_has_nothing_to_approve():
    o = order("u_a8", owners=["E3"], increase="900.00")
    assert P.required_approvals(o, ORG) == ()
    assert P.approval_refusal(PEOPLE["u_ceo"], o, ORG) == "the order needs no further approval"


# Order by u_e3 for E3's line: who sees it (the others get 404).
SEES_E3_ORDER = {"u_e3": True, "u_m1": True, "u_ceo": True, "u_f7": True, "u_f10": True,
                 "u_a8": True, "u_m5": False, "u_e4": False, "u_e6": False, "u_e9": False,
                 "u_an": False, "u_x2": False, "u_xa": False}


@pytest.mark.parametrize(("who", "sees"), list(SEES_E3_ORDER.items()))
def test_who_sees_an_order(who, sees):
    assert P.may_see(PEOPLE[who], order("u_e3"), ORG) is sees


def test_the_line_owner_sees_an_order_their_manager_placed():
    o = order("u_m1", owners=["E3", "E4"])
    assert P.may_see(PEOPLE["u_e3"], o, ORG) and P.may_see(PEOPLE["u_e4"], o, ORG)
    assert not P.may_see(PEOPLE["u_e6"], o, ORG)
    assert not P.may_see(PEOPLE["u_m5"], o, ORG)


def test_only_the_requester_cancels_or_edits():
    o = order("u_e3")
    assert P.may_cancel(PEOPLE["u_e3"], o) and P.may_edit(PEOPLE["u_e3"], o)
    for other in ("u_m1", "u_a8", "u_e4", "u_x2"):
        assert not P.may_cancel(PEOPLE[other], o) and not P.may_edit(PEOPLE[other], o)


def test_a_loop_in_the_hr_feed_does_not_hang():
    org = P.Org("T1", {"A": "B", "B": "A"}, {"B": roles.MANAGER})
    assert org.chain_above("A") == ["B"]
    assert P.notify_approver(P.OrderFacts("T1", P.Person("u", "T1", roles.END_USER, "A"),
                                          ("A",)), org) == "B"
