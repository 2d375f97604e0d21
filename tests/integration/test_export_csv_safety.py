"""Exports open cleanly in Excel and never run data as a formula (OWASP CSV injection).

Unit checks of the encoder, then an export of a lake whose HR feed holds hostile names.
"""

from __future__ import annotations

import csv
import io
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from selfcare.config import Settings
from selfcare.etl.load import load
from selfcare.web.exports import csv_rows, neutralise

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "drop"
SECRET = "csv-safety-test-secret-" + "k" * 40
PASSWORD = "a long enough password"  # noqa: S105 - a throw-away test user


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\n"])
def test_a_formula_start_is_neutralised(start):
    assert neutralise(start + "1+1") == "'" + start + "1+1"


@pytest.mark.parametrize("text", ["Thandi Nkosi", "27821234567", "", "a=b", "R 5"])
def test_plain_text_is_left_alone(text):
    assert neutralise(text) == text


def test_excel_dialect_bom_crlf_and_numbers_stay_numbers():
    batch = pa.RecordBatch.from_pydict(
        {
            "name": pa.array(["=HYPERLINK(\"http://x\")", "Sales, Gauteng", "-5", None]),
            "amount": pa.array(
                [Decimal("-12.5000"), Decimal("0.0001"), Decimal("3"), None],
                type=pa.decimal128(18, 4),
            ),
            "calls": pa.array([-1, 2, 3, 4], type=pa.int64()),
            "apns": pa.array([["internet", "corp.apn"], [], ["=x"], None]),
        }
    )
    text = "".join(csv_rows(["name", "amount", "calls", "apns"], iter([batch])))
    assert text.startswith("\ufeffname,amount,calls,apns\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "-12.5000", "-1", "internet;corp.apn"]
    assert rows[2] == ["Sales, Gauteng", "0.0001", "2", ""]
    assert rows[3] == ["'-5", "3.0000", "3", "'=x"]  # text "-5" is text; numbers stay numbers
    assert rows[4] == ["", "", "4", ""]


def test_hostile_names_in_the_hr_feed_are_neutralised_in_an_export(tmp_path):
    from selfcare.services import users
    from selfcare.web.app import create_app

    drop = tmp_path / "drop"
    shutil.copytree(FIXTURES, drop)
    employees = drop / "employees_2026-01-01.csv"
    employees.write_text(
        employees.read_text().replace("Thandi Nkosi", '"=HYPERLINK(""http://evil/"",""x"")"')
    )
    lake = tmp_path / "lake"
    assert not load(drop, lake, progress=False).refused
    db = tmp_path / "app.db"
    users.add_user(db, email="fin@t1.test", role="finance", tenant_id="T1", employee_id="E1",
                   password=PASSWORD)  # fmt: skip
    app = create_app(Settings(lake=lake, db=db, secret_key=SECRET, https=False, production=True))
    client = app.test_client()
    resp = client.post("/login", data={"email": "fin@t1.test", "password": PASSWORD})
    assert resp.status_code in (302, 303)
    resp = client.get("/export/lines.csv?from=2026-01&to=2026-01")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    body = resp.data.decode("utf-8")
    assert body.startswith("\ufeff") and "\r\n" in body
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    names = {r["employee_name"] for r in rows}
    assert "'=HYPERLINK(\"http://evil/\",\"x\")" in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
    for r in rows:  # amounts stay plain numbers a spreadsheet can sum
        Decimal(r["amount_excl_vat"])
