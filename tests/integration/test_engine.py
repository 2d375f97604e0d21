"""The engine seam (selfcare.engine) with its DuckDB implementation, used directly: what the gate
relies on. Expected values come from the raw CSVs (pandas), not from the engine."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from selfcare import engine
from selfcare.etl import lake as lake_files
from selfcare.gate import MODEL_VIEWS


@pytest.fixture(scope="module")
def duck():
    return engine.create("duckdb", memory_limit="256MB", model_views=MODEL_VIEWS)


def test_a_cursor_reads_the_published_version(duck, lake, raw):
    with duck.cursor(lake) as cur:
        assert cur.version == lake_files.read_manifest(lake)["version"]
        assert cur.has_tables()
        got = cur.frame("select tenant_id from dim_tenant order by tenant_id", {})
    assert list(got.tenant_id) == sorted(raw.tenants.tenant_id)


def test_parameters_are_bound_by_name(duck, lake, raw):
    tenant = sorted(raw.tenants.tenant_id)[-1]
    with duck.cursor(lake) as cur:
        got = cur.frame("select name from dim_tenant where tenant_id = $t", {"t": tenant})
    assert list(got.name) == list(raw.tenants[raw.tenants.tenant_id == tenant].name)


def test_batches_stream_the_whole_result_in_bounded_pieces(duck, lake, raw):
    with duck.cursor(lake) as cur:
        batches = list(cur.batches("select msisdn from dim_line order by msisdn", {}, 7))
    assert all(isinstance(b, pa.RecordBatch) and b.num_rows <= 7 for b in batches)
    got = [m for b in batches for m in b.column("msisdn").to_pylist()]
    assert got == sorted(raw.lines.msisdn)


def test_columns_without_reading_rows(duck, lake):
    with duck.cursor(lake) as cur:
        assert cur.columns("select tenant_id, name as tenant_name from dim_tenant", {}) == [
            "tenant_id",
            "tenant_name",
        ]


def test_model_views_exist_on_every_connection(duck, lake):
    with duck.cursor(lake) as cur:
        for name in MODEL_VIEWS:
            view = name.split(".", 1)[1]
            assert cur.columns(f"select * from {view}", {}), view


def test_engine_failures_are_one_error_type(duck, lake):
    with duck.cursor(lake) as cur:
        with pytest.raises(engine.EngineError, match="no_such_table"):
            cur.frame("select * from no_such_table", {})
        with pytest.raises(engine.EngineError):
            list(cur.batches("select * from no_such_table", {}, 10))
        with pytest.raises(engine.EngineError):
            cur.columns("select * from no_such_table", {})
        # the cursor is still usable after an error
        assert isinstance(cur.frame("select 1 as one", {}), pd.DataFrame)


def test_an_empty_lake_has_no_tables(duck, tmp_path):
    with duck.cursor(tmp_path) as cur:
        assert cur.version == 0
        assert not cur.has_tables()


def test_only_known_engines(duck):
    with pytest.raises(ValueError, match="unknown query engine"):
        engine.create("spark", memory_limit="1GB")
