# The two set-up commands: `make run` (app on the seeded local workspace) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run seed test bench

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	# An editable install has no bytecode, and PYTHONDONTWRITEBYTECODE may forbid caching it:
	# compile once, or every start recompiles tui/ (30 ms for the CLI, more for the app).
	$(PY) -m compileall -q tui trainer >/dev/null
	touch $@

install: $(VENV)/.installed

seed: install
	$(VENV)/bin/aml-tui seed

run: seed
	$(VENV)/bin/aml-tui

test: install
	$(PY) -m pytest -q

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
