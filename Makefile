# arbridge: `make run` starts everything, `make test` runs the suite. Both install what they need.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
SYNCED := $(VENV)/.synced

.PHONY: install run test lint bench specs clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q "uv==$(UV_VERSION)"

# Dependencies come from the committed lock file (uv.lock), exactly.
$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON) -q
	@touch $@

install: $(SYNCED)

run: $(SYNCED)
	$(PY) -m sandbox.devrun

test: $(SYNCED)
	$(PY) -m pytest

lint: $(SYNCED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(SYNCED)
	$(PY) -m benchmarks.run_all

# Regenerate the committed API specs (openapi/openapi.json, api/graphql/schema.graphql).
specs: $(SYNCED)
	$(PY) -m api.specs

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache
