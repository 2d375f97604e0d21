"""Pure figure and table builders for the Spend by cost centre page.

Input frames come from `reports.spend_by_cost_centre_tree` (one row per cost centre with direct and
rolled-up spend), `reports.spend_by_employee` and `reports.lines_spend`; nothing here queries or
knows the viewer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from selfcare.web.figures.overview import cents, dec, text

ROOT = "__all__"
SPECIAL = ("ACCOUNT_LEVEL", "UNASSIGNED", "UNKNOWN")


def _parent(value: Any) -> str:
    return value if isinstance(value, str) and value else ROOT


def tree_figure(tree: pd.DataFrame, incl_vat: bool = False) -> go.Figure:
    """A treemap of the cost-centre tree, each box sized by its own (direct) spend.

    Plotly adds children to parents ("remainder"), so a box's area is its rolled-up spend; the
    hover shows the rolled-up figure from the query. Credits can make a cost centre's direct spend
    negative, which a treemap cannot draw, so areas are floored at zero (the hover and the table
    keep the true amounts).
    """
    amount = "amount_incl_vat" if incl_vat else "amount_excl_vat"
    direct = "direct_amount_incl_vat" if incl_vat else "direct_amount_excl_vat"
    ids = list(tree.cost_centre_id)
    known = set(ids)
    total = sum((dec(v) for v, p in zip(tree[amount], tree.parent_cost_centre_id, strict=True)
                 if _parent(p) == ROOT or _parent(p) not in known), Decimal(0))
    labels = ["All spend"] + [str(n) for n in tree.cost_centre_name]
    parents = [""] + [
        _parent(p) if _parent(p) in known else ROOT for p in tree.parent_cost_centre_id
    ]
    values = [0.0] + [max(0.0, float(dec(v))) for v in tree[direct]]
    rolled = [float(total)] + [float(dec(v)) for v in tree[amount]]
    lines = [int(tree.lines.sum()) if len(tree) else 0] + [int(v) for v in tree.lines]
    # the root's lines: only the roots' lines add up (a line sits in exactly one subtree)
    lines[0] = sum(
        int(n) for n, p in zip(tree.lines, tree.parent_cost_centre_id, strict=True)
        if _parent(p) == ROOT or _parent(p) not in known
    )
    figure = go.Figure(
        go.Treemap(
            ids=[ROOT, *ids],
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="remainder",
            customdata=list(zip(rolled, lines, strict=True)),
            hovertemplate="<b>%{label}</b><br>R %{customdata[0]:,.2f}<br>"
            "%{customdata[1]} lines<extra></extra>",
            texttemplate="%{label}<br>R %{customdata[0]:,.0f}",
        )
    )
    figure.update_layout(
        height=460, margin={"l": 10, "r": 10, "t": 30, "b": 10}, separators=". "
    )
    return figure


def tree_rows(tree: pd.DataFrame, incl_vat: bool = False) -> list[dict[str, Any]]:
    """Grid rows: one per cost centre, rolled-up spend, lines, spend per line and the change."""
    names = dict(zip(tree.cost_centre_id, tree.cost_centre_name, strict=True))
    rows = []
    for _, r in tree.iterrows():
        spend = dec(r.amount_incl_vat if incl_vat else r.amount_excl_vat)
        previous = dec(r.previous_amount_incl_vat if incl_vat else r.previous_amount_excl_vat)
        lines = int(r.lines)
        parent = r.parent_cost_centre_id if isinstance(r.parent_cost_centre_id, str) else ""
        rows.append(
            {
                "cost_centre_id": str(r.cost_centre_id),
                "cost_centre_name": str(r.cost_centre_name),
                "parent_name": str(names.get(parent, "")) if parent else "",
                "lines": lines,
                "spend": cents(spend),
                "spend_per_line": cents(spend / lines) if lines else None,
                "previous": cents(previous),
                "change": cents(spend - previous),
                "change_pct": round(float((spend - previous) / abs(previous) * 100), 1)
                if previous else None,
                "direct_spend": cents(
                    r.direct_amount_incl_vat if incl_vat else r.direct_amount_excl_vat
                ),
            }
        )
    # the special rows last, the tree's cost centres by spend
    rows.sort(key=lambda x: (x["cost_centre_id"] in SPECIAL, -x["spend"]))
    return rows


def tree_total(tree: pd.DataFrame, incl_vat: bool = False) -> Decimal:
    """The page's total: the sum of the direct spend of every cost centre (= the invoices)."""
    direct = "direct_amount_incl_vat" if incl_vat else "direct_amount_excl_vat"
    return sum((dec(v) for v in tree[direct]), Decimal(0))


def employee_rows(df: pd.DataFrame, incl_vat: bool = False) -> list[dict[str, Any]]:
    """Grid rows of the employees in a cost centre's subtree."""
    return [
        {
            "employee_id": text(r["employee_id"]),
            "employee_name": text(r["employee_name"]) or "(no employee)",
            "cost_centre_name": text(r["cost_centre_name"]),
            "lines": int(r["lines"]),
            "spend": cents(r["amount_incl_vat"] if incl_vat else r["amount_excl_vat"]),
        }
        for _, r in df.iterrows()
    ]
