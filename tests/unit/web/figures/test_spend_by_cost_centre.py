"""figures/spend_by_cost_centre: the treemap, its table and total from a hand-made tree.

The tree: HQ (root) with Sales below it, Ops a second root, and the special ACCOUNT_LEVEL row;
Sales has a credit (negative direct spend) that the treemap floors at zero.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from selfcare.web.figures import spend_by_cost_centre as fig

D = Decimal


@pytest.fixture
def tree() -> pd.DataFrame:
    return pd.DataFrame({
        "cost_centre_id": ["HQ", "SALES", "OPS", "ACCOUNT_LEVEL"],
        "cost_centre_name": ["Head office", "Sales", "Operations", "Account level"],
        "parent_cost_centre_id": [None, "HQ", "", None],
        "lines": [5, 3, 2, 0],
        "direct_amount_excl_vat": [D("300"), D("-20"), D("200"), D("10")],
        "direct_amount_incl_vat": [D("345"), D("-23"), D("230"), D("11.5")],
        "amount_excl_vat": [D("280"), D("-20"), D("200"), D("10")],
        "amount_incl_vat": [D("322"), D("-23"), D("230"), D("11.5")],
        "previous_amount_excl_vat": [D("200"), D("0"), D("250"), D("10")],
        "previous_amount_incl_vat": [D("230"), D("0"), D("287.5"), D("11.5")],
    })  # fmt: skip


def test_treemap_hangs_roots_under_all_spend_and_floors_credits(tree):
    (tm,) = fig.tree_figure(tree).data
    assert list(tm.ids) == ["__all__", "HQ", "SALES", "OPS", "ACCOUNT_LEVEL"]
    assert list(tm.labels) == ["All spend", "Head office", "Sales", "Operations", "Account level"]
    assert list(tm.parents) == ["", "__all__", "HQ", "__all__", "__all__"]
    assert list(tm.values) == [0.0, 300.0, 0.0, 200.0, 10.0]  # Sales' -20 floored
    assert tm.branchvalues == "remainder"
    # hover: rolled-up spend (the roots add up to 280 + 200 + 10) and lines (roots only: 5+2+0)
    assert [list(c) for c in tm.customdata] == [
        [490.0, 7], [280.0, 5], [-20.0, 3], [200.0, 2], [10.0, 0]]


def test_treemap_incl_vat(tree):
    (tm,) = fig.tree_figure(tree, incl_vat=True).data
    assert list(tm.values) == [0.0, 345.0, 0.0, 230.0, 11.5]
    assert tm.customdata[0][0] == 563.5  # 322 + 230 + 11.5


def test_a_parent_outside_the_tree_makes_a_root(tree):
    orphan = tree.assign(parent_cost_centre_id=[None, "GONE", "", None])
    (tm,) = fig.tree_figure(orphan).data
    assert list(tm.parents) == ["", "__all__", "__all__", "__all__", "__all__"]
    assert tm.customdata[0][0] == 470.0  # 280 - 20 + 200 + 10: Sales now counts as a root


def test_rows_by_spend_with_the_special_rows_last(tree):
    rows = fig.tree_rows(tree)
    assert [r["cost_centre_id"] for r in rows] == ["HQ", "OPS", "SALES", "ACCOUNT_LEVEL"]
    hq, ops, sales, account = rows
    assert hq == {"cost_centre_id": "HQ", "cost_centre_name": "Head office", "parent_name": "",
                  "lines": 5, "spend": 280.0, "spend_per_line": 56.0, "previous": 200.0,
                  "change": 80.0, "change_pct": 40.0, "direct_spend": 300.0}  # fmt: skip
    assert sales["parent_name"] == "Head office"
    assert sales["change_pct"] is None  # nothing before: no percentage
    assert ops["change"] == -50.0 and ops["change_pct"] == -20.0
    assert account["spend_per_line"] is None  # no lines: no per-line figure


def test_rows_incl_vat(tree):
    hq = fig.tree_rows(tree, incl_vat=True)[0]
    assert (hq["spend"], hq["previous"], hq["direct_spend"]) == (322.0, 230.0, 345.0)


def test_the_total_is_the_direct_spend_of_every_row(tree):
    assert fig.tree_total(tree) == D("490")
    assert fig.tree_total(tree, incl_vat=True) == D("563.5")


def test_employee_rows():
    df = pd.DataFrame({"employee_id": ["E1", None], "employee_name": ["Ada", None],
                       "cost_centre_name": ["Sales", None], "lines": [2, 1],
                       "amount_excl_vat": [D("10.006"), D("1")],
                       "amount_incl_vat": [D("11.5069"), D("1.15")]})  # fmt: skip
    assert fig.employee_rows(df) == [
        {"employee_id": "E1", "employee_name": "Ada", "cost_centre_name": "Sales", "lines": 2,
         "spend": 10.01},
        {"employee_id": "", "employee_name": "(no employee)", "cost_centre_name": "", "lines": 1,
         "spend": 1.0},
    ]  # fmt: skip
    assert [r["spend"] for r in fig.employee_rows(df, incl_vat=True)] == [11.51, 1.15]
