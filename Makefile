# Two commands matter: `make up` (the whole system with demo data) and `make test` (everything CI runs).
# Both install what they need into .venv first; a fresh machine needs only Python 3.11+ and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: up test pytest lint typecheck contracts bench install lock browser bubblewrap tools clean

# Installs exactly the locked versions (requirements/*.lock, hashed: pip refuses anything else), then the project
# itself without dependencies. The locks target CPython 3.11 on linux x86_64 (the CI machine and the image).
LOCKS := requirements/build.lock requirements/runtime.lock requirements/dev.lock
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

$(INSTALLED): pyproject.toml $(LOCKS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements/build.lock
	$(PIP) install --require-hashes -r requirements/dev.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

install: $(INSTALLED)

# Regenerates every lock from pyproject.toml (and requirements/build.in) with uv, against PyPI, for the target
# above; the dev lock is held to the runtime lock's versions. Run it after changing a dependency and commit the
# locks (tests/unit/test_locks.py fails until then).
LOCK := $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --index-url https://pypi.org/simple --custom-compile-command 'make lock'

lock: $(INSTALLED)
	$(LOCK) requirements/build.in -o requirements/build.lock
	$(LOCK) pyproject.toml -o requirements/runtime.lock
	$(LOCK) pyproject.toml --extra dev --constraint requirements/runtime.lock -o requirements/dev.lock
	$(LOCK) requirements/tools.in -o requirements/tools.lock

up: $(INSTALLED)
	$(BIN)/tandem up

test: lint typecheck pytest

# The dashboard is tested in a real headless Chromium (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null 2>&1 || (echo "installing Debian's chromium with apt-get: the browser tests drive it" \
	  && apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: the browser test will fail and say so"

# checkov (tests/deploy/test_checkov.py) in its own environment: its pinned dependencies conflict with ours.
# Locked and hashed like the rest (requirements/tools.lock, from requirements/tools.in by `make lock`).
TOOLS := .venv-tools
$(TOOLS)/.installed: requirements/tools.lock
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip --quiet --disable-pip-version-check install --require-hashes -r requirements/tools.lock
	@touch $@

tools: $(TOOLS)/.installed

# The container-entrypoint test (tests/integration/test_container_entrypoint.py) runs the installed image's
# `tandem` as uid 65532 on a read-only root filesystem: bubblewrap makes that sandbox (Debian's package).
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || (echo "installing Debian's bubblewrap with apt-get: the container-entrypoint test needs it" \
	  && apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null) \
	  || echo "could not install bubblewrap: the container-entrypoint test will be skipped and say so"

pytest: $(INSTALLED) browser bubblewrap tools
	$(BIN)/python -m pytest --durations=25

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy --strict shared services/pairing/domain services/sessions/domain services/notifications/domain services/notifications/webhooks tests/faults

contracts: $(INSTALLED)
	$(BIN)/tandem contracts write

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
