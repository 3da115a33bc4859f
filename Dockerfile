# syntax=docker/dockerfile:1
#
# The LEAP platform image, two targets from one environment:
#
#   platform (default)  the `leap` command: topic setup, the ingestion service, operator commands.
#   airflow             the same environment plus Airflow's production extras (PostgreSQL driver,
#                       FAB auth manager); runs the Airflow API server, scheduler, DAG processor and
#                       triggerer of docker-compose.yml, whose tasks call the same `leap` code.
#
# Python packages come from requirements.lock (the exact set CI tests with), installed with --no-deps
# and checked with `pip check`; the project itself is then installed --no-deps. The source tree keeps
# the repository layout under /opt/leap (an in-place install, as `make setup` does), because parts of
# the platform address data by their place in the checkout: the Great Expectations context
# (expectations/), the dbt project whose seeds are leap/instrument_data/, and the DAGs (dags/).
# /opt/leap belongs to root and is read-only for the runtime user; all state goes to $LEAP_DATA_DIR.
#
# Base image pinned by tag. To pin the digest as well, resolve it where a registry is reachable
#   docker buildx imagetools inspect python:3.11.15-slim-bookworm
# and build with --build-arg PYTHON_IMAGE=python:3.11.15-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

# --------------------------------------------------------------------------- shared base
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 leap \
 && useradd --system --uid 10001 --gid leap --home-dir /home/leap --create-home --shell /usr/sbin/nologin leap

# --------------------------------------------------------------------------- dependencies
FROM base AS venv
ARG SETUPTOOLS_VERSION=80.9.0
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \
 && pip install --no-deps -r /tmp/requirements.lock \
 && pip install --no-deps "setuptools==${SETUPTOOLS_VERSION}" \
 && pip check

FROM venv AS venv-airflow
COPY infra/airflow/requirements.lock /tmp/requirements-airflow.lock
RUN pip install --no-deps -r /tmp/requirements-airflow.lock \
 && pip check

# --------------------------------------------------------------------------- the source tree
FROM base AS source
WORKDIR /opt/leap
# .dockerignore is an allow-list: pyproject.toml, README.md, the packages (leap, ingestion,
# scoring_jobs), expectations/, dbt_project/, dags/ and infra/airflow/, without generated files.
COPY . ./
# Generated output the runtime user writes inside the tree (dbt target/logs, GE's uncommitted/), and
# the data root. Named volumes mounted on these paths start with this ownership.
RUN mkdir -p dags dbt_project/target dbt_project/logs expectations/uncommitted /data/published \
 && chown -R leap:leap dbt_project/target dbt_project/logs expectations/uncommitted /data
# The Great Expectations Data Docs' scripts and styles, served from the image instead of a CDN: the npm
# tarballs pinned by SHA-256 in infra/gx-assets/ (stdlib only; the build reaches the npm registry, the
# containers need no network), into .deps/gx-assets/ where expectations/docs_assets.py looks.
RUN python infra/gx-assets/fetch.py

# --------------------------------------------------------------------------- airflow target
FROM source AS airflow
COPY --from=venv-airflow /opt/venv /opt/venv
# The report DAG prints the school reports to PDF with the system Chromium (reports/browser.py).
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        chromium fonts-liberation \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-deps --no-build-isolation -e /opt/leap \
 && pip check \
 && mkdir -p /opt/airflow/logs \
 && chown -R leap:leap /opt/airflow
ENV LEAP_DATA_DIR=/data \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/leap/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DBT_PROFILES_DIR=/opt/leap/dbt_project
USER leap
WORKDIR /opt/leap
VOLUME ["/data"]
EXPOSE 8080
# Each Airflow component checks itself differently: docker-compose.yml sets one per service.
HEALTHCHECK NONE
ENTRYPOINT ["airflow"]
CMD ["version"]

# --------------------------------------------------------------------------- platform target (default)
FROM source AS platform
COPY --from=venv /opt/venv /opt/venv
# `leap report build` prints the school reports to PDF with the system Chromium (reports/browser.py).
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        chromium fonts-liberation \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-deps --no-build-isolation -e /opt/leap \
 && pip check
ENV LEAP_DATA_DIR=/data
USER leap
WORKDIR /opt/leap
VOLUME ["/data"]
# Healthy = the configured Kafka answers (`leap broker status` exits 3 when it does not). The
# ingestion service itself exits non-zero on fatal errors, and its restart policy brings it back.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["leap", "broker", "status"]
ENTRYPOINT ["leap"]
CMD ["--help"]
