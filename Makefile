# The two commands the README opens with:
#   make demo   set everything up, run the main job end to end on the embedded default
#   make test   set everything up, run ruff, the layer contracts and the whole test suite (= .ci/run)
# and for quick loops:
#   make test-fast   the same checks, without the tests that need a broker, Airflow runs or dbt builds
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean-data

# setup also installs the Debian packages the tests need (Chromium renders the reports), only when missing.
setup: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { test -n "$$LEAP_CHROMIUM" && command -v "$$LEAP_CHROMIUM" >/dev/null 2>&1; } || \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-liberation; \
	  else \
	    echo "make setup: the Debian package chromium is missing (the report tests print PDFs with it); run: sudo apt-get update && sudo apt-get install -y chromium fonts-liberation" >&2; exit 1; \
	  fi

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: setup
	$(BIN)/leap demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 -m "not broker and not e2e and not slow"

clean-data:
	rm -rf data
