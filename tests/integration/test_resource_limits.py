"""Resource limits and the read-only lake (issue 13): exports per user (429 + Retry-After), the
lake's periods, the query time budget (the gate interrupts the engine), and no write into the
lake through the engine, however the statement is spelled."""

from __future__ import annotations

import threading

import pytest

from selfcare import gate
from selfcare.web import exports
from tests.conftest import login


def _periods(raw):
    return sorted(set(raw.billing.bill_period))


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("copy (select 1) to '{lake}/x.csv'", id="copy-new-file"),
        pytest.param("copy (select 1 as i) to '{file}' (use_tmp_file false)", id="overwrite"),
        pytest.param("attach '{lake}/x.duckdb'", id="attach"),
        pytest.param("export database '{lake}/x'", id="export"),
        pytest.param("select 1; copy (select 1) to '{lake}/y.csv'", id="second-statement"),
    ],
)
def test_the_engine_cannot_write_into_the_lake(portal, lake, statement):
    from selfcare.etl import lake as lake_files

    before = sorted(p for p in lake.rglob("*"))
    published = sorted(lake_files.manifest_paths(lake, lake_files.read_manifest(lake)))
    sizes = {p: (lake / p).stat().st_size for p in published}
    with gate._engine().cursor(lake.resolve()) as cur:
        sql = statement.format(lake=lake.resolve(), file=published[0])
        with pytest.raises(Exception):  # noqa: B017, PT011 - whichever layer refuses it
            cur.frame(sql, {})
    assert sorted(p for p in lake.rglob("*")) == before
    assert {p: (lake / p).stat().st_size for p in published} == sizes


def test_raw_connection_cannot_create_files_under_the_lake(portal, lake):
    """Below the cursor's statement check: DuckDB's allowed_paths name files, not the folder."""
    _, con = gate._engine()._connection(lake.resolve())
    with pytest.raises(Exception):  # noqa: B017, PT011
        con.cursor().execute(f"copy (select 1) to '{lake.resolve()}/x.csv'")
    assert not (lake / "x.csv").exists()


def test_two_exports_per_user_the_third_refused(flask_app, people, raw):
    ps = _periods(raw)
    url = f"/export/lines.csv?from={ps[0]}&to={ps[-1]}"
    admin, other = flask_app.test_client(), flask_app.test_client()
    login(admin, people["admin"])
    login(other, people["finance"])
    # each open download in its own thread, as under a real server (Flask's contexts are per
    # thread); they hold their export until `done`
    done, opened, statuses = threading.Event(), threading.Barrier(3), []

    def hold() -> None:
        resp = admin.get(url, buffered=False)
        statuses.append(resp.status_code)
        opened.wait()
        done.wait(60)
        resp.close()

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        opened.wait(60)
        assert statuses == [200, 200]
        third = admin.get(url)
        assert third.status_code == 429
        assert int(third.headers["Retry-After"]) > 0
        assert "2 exports running" in third.get_json()["error"]
        assert other.get(url).status_code == 200  # another user is not affected
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert admin.get(url).status_code == 200  # the slots came back on close


def test_periods_outside_the_lake_are_refused(flask_app, people, raw):
    ps = _periods(raw)
    client = flask_app.test_client()
    login(client, people["admin"])
    resp = client.get("/export/lines.csv?from=1990-01&to=1990-12")
    assert resp.status_code == 400
    assert resp.get_json()["error"] == f"the lake holds bill periods {ps[0]} to {ps[-1]}"


def test_a_query_past_its_budget_is_interrupted(flask_app, people, raw, monkeypatch):
    ps = _periods(raw)
    client = flask_app.test_client()
    login(client, people["admin"])
    gate.clear_caches()
    monkeypatch.setattr(gate, "QUERY_BUDGET_S", 0.0005)
    resp = client.get(f"/export/itemised.csv?from={ps[0]}&to={ps[-1]}")
    assert resp.status_code == 503
    assert int(resp.headers["Retry-After"]) > 0
    assert "took longer than" in resp.get_json()["error"]
    assert exports.running_exports() == 0
