# Two commands on a fresh machine: `make run` (demo on the embedded SQLite default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# PostgreSQL used by the storage tests; override to point at another server.
MEDEVAC_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export MEDEVAC_TEST_POSTGRES_URL

.PHONY: run test lint typecheck contracts unit clean install docs

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@# compile the planning kernels now (46 s on an idle 2-core machine) rather than in the first solve
	$(BIN)/python -m medevac.planning.warmup
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/medevac db upgrade
	$(BIN)/medevac demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src
	$(BIN)/mypy benchmarks

contracts: $(STAMP)
	$(BIN)/lint-imports

# the tests in two processes (pytest-xdist; 8 min against 17-19 min in one on the 2-core test
# machine); TEST_WORKERS=0 runs them in this process, as a debugger needs
TEST_WORKERS ?= 2
unit: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS)

test: lint typecheck contracts unit

# Regenerate the command reference from the code (a test checks it is current).
docs: $(STAMP)
	COLUMNS=100 $(BIN)/typer medevac.cli.main utils docs --name medevac --title "medevac command reference" --output docs/cli.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
