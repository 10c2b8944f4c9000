# Two commands: `make run` serves the service, `make test` runs the whole suite.
# Both bootstrap .venv from pyproject.toml when it is missing or out of date.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/serr migrate
	$(BIN)/serr demo --if-empty
	$(BIN)/serr serve --host $(HOST) --port $(PORT)

# The suite runs on every core (pytest-xdist); the browser tests share one worker, one Chromium and one
# live server. PYTEST_XDIST="-n 0" runs it in one process.
PYTEST_XDIST ?= -n auto --dist loadgroup
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

check: $(STAMP)
	$(BIN)/alembic upgrade head
	$(BIN)/alembic check

# The service over HTTP at 2,000 proposals beside its floors (and the growth to 4,000, and PostgreSQL when
# it answers); a quicker run: make bench BENCH_ARGS="--no-growth --no-postgres" (see --help).
bench: $(STAMP)
	$(BIN)/python bench/bench_scoring.py
	$(BIN)/python bench/bench_rank_intervals.py
	$(BIN)/python bench/bench_pages.py
	$(BIN)/python bench/bench_pack.py
	$(BIN)/python bench/bench_service.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
