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

# setup also installs the Debian packages the platform and the tests need, only when missing
# (scripts/system_packages.sh: Chromium for the reports, Java 17 + Maven for the embedded Apache
# Kafka, kcat for the interoperability test), then fetches and verifies the pinned Kafka jars
# (infra/kafka/fetch.sh, into .deps/kafka/, reused by later setups) and the Data Docs' offline
# scripts and styles (infra/gx-assets/fetch.py, npm tarballs pinned by SHA-256, into .deps/gx-assets/).
setup: $(STAMP)
	@scripts/system_packages.sh
	@infra/kafka/fetch.sh
	@$(BIN)/python infra/gx-assets/fetch.py

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
