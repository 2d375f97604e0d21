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

# The unit tests that need no browser, start no process or server and are not marked slow:
# about 40 s of CPU, under two minutes on two cores. Everything in-process (integration tests
# included) is `-m "not browser and not subprocess"`, about 13 min of CPU; make test runs all.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests/unit \
		-m "not browser and not subprocess and not slow"

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
