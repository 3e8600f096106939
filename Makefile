# agent_tracing: `make demo` and `make test` are each the only command a fresh clone needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps demo test lint typecheck pytest bench snapshots stress clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e ".[all]" --group dev
	touch $(STAMP)

install: $(STAMP)

# Chromium and lnav, which the viewer's tests use for real. Without root the tests that need them
# skip (or fail under AGENT_TRACING_REQUIRE_SERVICES=1), so a failure here does not stop the build.
system-deps:
	-@sh scripts/install-system-deps.sh

demo: $(STAMP)
	$(PY) -m app.demo

lint: $(STAMP)
	$(PY) -m ruff check agent_tracing app tests bench scripts
	$(PY) -m ruff format --check agent_tracing app tests bench scripts

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP) system-deps
	$(PY) -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) bench/run_all.py

snapshots: $(STAMP)
	$(PY) -m pytest --snapshot-update

stress: $(STAMP)
	$(PY) -m pytest -m stress tests/reliability -q -s --timeout 600

clean:
	rm -rf $(VENV) logs .pytest_cache .mypy_cache .ruff_cache
