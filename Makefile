# The README's commands. Only Python 3.11+ and make are needed; everything else goes into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench lint install clean

install: $(STAMP)

# Reinstall when the dependencies change; constraints.txt pins what was tested.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/selfcare demo

# In parallel, one worker per core. --dist loadfile keeps each test file on one worker, so a
# module's fixtures are built once; session fixtures (the small estate, its lake, the e2e server)
# are built once per worker, each in its own temporary folder and on its own port.
PYTEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# What needs no browser and starts no process or server: the unit and in-process integration
# tests, in under two minutes (make test runs everything).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not browser and not subprocess"

# The full-scale benchmark (docs/performance.md): ETL at 1 M and 10 M rows, every question at
# ≈ 100 M CDRs, the server under load, the browser; rewrites the results in docs/performance.md.
# bench/ is not part of the product (nothing in src/ imports it): it runs from the checkout.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) data/demo data/lake data/app.db test-artifacts
