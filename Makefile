# agent_tracing: `make demo` and `make test` are each the only command a fresh clone needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The core (no framework) is also tested on the newest supported Python, in its own venv with only
# the core dependencies and the test tools: the record is built inline and must match each version.
PYTHON313 ?= $(shell for py in $$(ls -d $$HOME/.pyenv/versions/3.13*/bin/python3 2>/dev/null) \
	$$(command -v python3.13); do "$$py" -c "import sys; assert sys.version_info[:2] == (3, 13)" \
	2>/dev/null && echo "$$py" && break; done)
VENV313 ?= .venv-py313
STAMP313 := $(VENV313)/.installed
CORE_TESTS := tests/test_config.py tests/test_context.py tests/test_formatters.py \
	tests/test_imports.py tests/test_logger.py tests/test_record_parity.py tests/test_records.py \
	tests/test_spans.py tests/test_testing.py tests/test_handlers.py \
	tests/reliability/test_trust_lines.py tests/reliability/test_trust_lost.py \
	tests/reliability/test_trust_secrets.py tests/reliability/test_trust_encoding.py

.PHONY: install system-deps demo test lint typecheck pytest test-py313 test-py313-run bench bench-instructions snapshots stress clean

# Every integration's extra for the library, and the `dev` group: the test tools and the reference
# app's own dependencies (app/ is not in the wheel; the editable install's path entry, the checkout's
# root, makes it importable).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e ".[all,freqtrade]" --group dev
	touch $(STAMP)

install: $(STAMP)

# Chromium and lnav, which the viewer's tests use for real. apt runs only when it cannot prompt
# (root, or CI with a passwordless sudo); otherwise one line says what to install and the tests
# that need them skip. Under AGENT_TRACING_REQUIRE_SERVICES=1 (CI) a missing tool stops here.
system-deps:
	@sh scripts/install-system-deps.sh

demo: $(STAMP)
	$(PY) -m app.demo

lint: $(STAMP)
	$(PY) -m ruff check agent_tracing app tests bench scripts
	$(PY) -m ruff format --check agent_tracing app tests bench scripts

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP) system-deps
	$(PY) -m pytest

$(STAMP313): pyproject.toml
	test -x $(VENV313)/bin/python || $(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(VENV313)/bin/python -m pip install --quiet -e . "pytest>=8.3,<10" "pytest-timeout>=2.3,<3" \
		"syrupy>=4.8,<8" "hypothesis>=6.100,<7"
	touch $(STAMP313)

# Without a Python 3.13 the run is skipped with a word, except under
# AGENT_TRACING_REQUIRE_SERVICES=1 (CI), where it fails.
test-py313:
	@if [ -n "$(PYTHON313)" ]; then $(MAKE) --no-print-directory test-py313-run; \
	else echo "Python 3.13 not found: the core tests on 3.13 are skipped" \
		"(set PYTHON313=/path/to/python3.13)"; test "$$AGENT_TRACING_REQUIRE_SERVICES" != 1; fi

test-py313-run: $(STAMP313)
	$(VENV313)/bin/python -m pytest -p no:cacheprovider $(CORE_TESTS)

test: lint typecheck pytest test-py313

bench: $(STAMP)
	$(PY) bench/run_all.py

# Instructions per core call beside the anchors (valgrind's callgrind; Debian package valgrind).
bench-instructions: $(STAMP)
	$(PY) bench/instructions.py

snapshots: $(STAMP)
	$(PY) -m pytest --snapshot-update

stress: $(STAMP)
	$(PY) -m pytest -m stress tests/reliability -q -s --timeout 600

clean:
	rm -rf $(VENV) $(VENV313) logs .pytest_cache .mypy_cache .ruff_cache
