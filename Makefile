# Two commands matter: `make up` (the whole system with demo data) and `make test` (everything CI runs).
# Both install what they need into .venv first; a fresh machine needs only Python 3.11+ and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: up test pytest lint typecheck contracts bench install browser tools clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(INSTALLED)

up: $(INSTALLED)
	$(BIN)/tandem up

test: lint typecheck pytest

# The dashboard is tested in a real headless Chromium (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: the browser test will fail and say so"

# checkov (tests/deploy/test_checkov.py) in its own environment: its pinned dependencies conflict with ours.
TOOLS := .venv-tools
$(TOOLS)/.installed:
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check 'checkov>=3.2,<4'
	@touch $@

tools: $(TOOLS)/.installed

pytest: $(INSTALLED) browser tools
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy --strict shared services/pairing/domain services/sessions/domain services/notifications/domain services/notifications/webhooks tests/faults

contracts: $(INSTALLED)
	$(BIN)/tandem contracts write

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
