"""Static checks of the production stack: docker-compose.yml, the Dockerfile and infra/.

No Docker engine runs in CI, so the stack is checked as files: the services exist and are wired
(depends_on conditions, healthchecks, volumes, ports), every image is pinned, every ``${VAR}`` is
documented in infra/.env.example with no secret committed, the environment handed to the platform
containers is what the code actually reads (and what it requires is there), and the commands the
containers run are real ``leap`` subcommands. When the ``docker compose`` CLI is installed, the
compose file is also resolved by it (offline: ``docker compose config`` needs no engine).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
import yaml

from leap.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / "infra" / ".env.example"
SUPERSET_DIR = ROOT / "infra" / "superset"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

EXPECTED_SERVICES = {
    "kafka", "kafka-init", "ingestion", "intake", "postgres",
    "airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
    "superset-init", "superset",
}
ONE_SHOT = {"kafka-init", "airflow-init", "superset-init"}
AIRFLOW_COMPONENTS = {"airflow-api-server": "api-server", "airflow-scheduler": "scheduler",
                      "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}
# container port -> what it serves; docs/deploy.md documents each.
PUBLISHED = {8000: "intake", 8080: "airflow-api-server", 8088: "superset", 9092: "kafka"}
REQUIRED_BY_CODE = ("KAFKA_BOOTSTRAP_SERVERS", "LEAP_DATA_DIR", "LEAP_PSEUDONYM_KEY")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|PSEUDONYM_KEY|TOKEN")
VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


# --------------------------------------------------------------------------- loading


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


@cache
def env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
    return out


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose interpolation with the defaults written in the file (and ``env`` when given)."""
    env = env or {}

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if env.get(name):
            return env[name]
        return arg if op in (":-", "-") else ""

    return VAR_REF.sub(sub, str(value)).replace("$$", "$")


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: str(v) for k, v in env.items()}


def builds_from_repo(service: str) -> bool:
    build = services()[service].get("build")
    if build is None:
        return False
    context = build if isinstance(build, str) else build.get("context", ".")
    return (ROOT / context).resolve() == ROOT


def platform_services() -> list[str]:
    return [name for name in services() if builds_from_repo(name)]


def build_target(service: str) -> str:
    return services()[service]["build"]["target"]


def named_mounts(service: str) -> dict[str, str]:
    """target -> source for the named volumes a service mounts (short syntax)."""
    out = {}
    for spec in services()[service].get("volumes") or []:
        source, target = str(spec).split(":")[:2]
        if not source.startswith((".", "/")):
            out[target] = source
    return out


# --------------------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def _dockerfile_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


@cache
def dockerfile_stages(path: Path = DOCKERFILE) -> tuple[dict[str, str], dict[str, Stage]]:
    """Global ARG defaults and the stages (by name) of a Dockerfile."""
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    stage = None
    for line in _dockerfile_lines(path.read_text()):
        op, _, rest = line.partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else f"stage{len(stages)}"
            stage = stages[name] = Stage(name, image)
        elif stage is None and op == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        elif stage is not None:
            stage.instructions.append((op, rest))
    return args, stages


def stage_chain(name: str, path: Path = DOCKERFILE) -> list[Stage]:
    """The stage and its ancestors inside the file, base first."""
    stages = dockerfile_stages(path)[1]
    chain = [stages[name]]
    while chain[0].base in stages:
        chain.insert(0, stages[chain[0].base])
    return chain


def effective(name: str, op: str, path: Path = DOCKERFILE) -> str | None:
    """The last value of an instruction in a stage's chain (ENTRYPOINT, USER, HEALTHCHECK...)."""
    value = None
    for stage in stage_chain(name, path):
        for instr_op, rest in stage.instructions:
            if instr_op == op:
                value = rest
    return value


def stage_env(name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for stage in stage_chain(name):
        for op, rest in stage.instructions:
            if op == "ENV":
                env.update(dict(tok.split("=", 1) for tok in shlex.split(rest)))
    return env


def stages_needed(name: str, path: Path = DOCKERFILE) -> list[Stage]:
    """Every stage a target is built from (its FROM chain and COPY --from sources), dependencies first."""
    stages = dockerfile_stages(path)[1]
    order: list[Stage] = []

    def visit(stage_name: str) -> None:
        stage = stages[stage_name]
        if stage in order:
            return
        deps = [stage.base] + [rest.split()[0].removeprefix("--from=") for op, rest in stage.instructions
                               if op == "COPY" and rest.startswith("--from=")]
        for dep in deps:
            if dep in stages:
                visit(dep)
        order.append(stage)

    visit(name)
    return order


def runs(name: str) -> list[str]:
    return [rest for stage in stages_needed(name) for op, rest in stage.instructions if op == "RUN"]


def copies() -> list[str]:
    return [rest for stage in dockerfile_stages()[1].values() for op, rest in stage.instructions if op == "COPY"]


def final_base_image(path: Path) -> str:
    stages = dockerfile_stages(path)[1]
    external = [s.base for s in stages.values() if s.base not in stages]
    assert external, f"{path}: no external base image"
    return external[0]


# --------------------------------------------------------------------------- what the code reads

CODE_DIRS = ("leap", "ingestion", "scoring_jobs", "dags", "intake")


@cache
def names_read_by_code() -> frozenset[str]:
    """Environment names that appear as literals in the platform code, dbt project or infra scripts."""
    names: set[str] = set()
    for d in CODE_DIRS:
        for path in (ROOT / d).rglob("*.py"):
            names.update(re.findall(r"""["']([A-Z][A-Z0-9_]{2,})["']""", path.read_text()))
    for path in (ROOT / "dbt_project").glob("**/*.yml"):
        if "target" not in path.parts:
            names.update(re.findall(r"""env_var\(\s*["']([A-Z0-9_]+)["']""", path.read_text()))
    for path in (ROOT / "infra").rglob("*"):
        if path.is_file() and path.suffix in (".sh", ".py"):
            text = path.read_text()
            names.update(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text))
            names.update(re.findall(r"""["']([A-Z][A-Z0-9_]{2,})["']""", text))
    return frozenset(names)


@cache
def airflow_options() -> frozenset[tuple[str, str]]:
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations, "apache-airflow is not installed"
    config = Path(next(iter(spec.submodule_search_locations))) / "config_templates" / "config.yml"
    sections = yaml.safe_load(config.read_text())
    return frozenset((s, o) for s, body in sections.items() for o in (body.get("options") or {}))


def read_by_platform(name: str) -> bool:
    if name.startswith("AIRFLOW__"):
        section, _, option = name[len("AIRFLOW__"):].lower().partition("__")
        return (section, option) in airflow_options()
    return name in names_read_by_code()


# --------------------------------------------------------------------------- services and wiring


def test_expected_services_exist():
    assert EXPECTED_SERVICES <= set(services())
    assert services()["kafka"]["image"].startswith("apache/kafka:")
    assert services()["postgres"]["image"].startswith("postgres:")


def test_the_embedded_kafka_is_the_version_production_runs():
    """infra/kafka/pom.xml pins the jars `make setup` fetches; docker-compose.yml runs the same Kafka."""
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
    assert services()["kafka"]["image"] == f"apache/kafka:{version}"
    jars = (ROOT / "infra" / "kafka" / "jars.sha256").read_text().split("\n")
    assert f"kafka_2.13-{version}.jar" in {line.split("  ")[-1] for line in jars if line}


def test_depends_on_targets_and_conditions():
    allowed = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services().items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services(), f"{name} depends on unknown service {dep}"
            condition = spec["condition"]
            assert condition in allowed, f"{name} -> {dep}: {condition}"
            if condition == "service_healthy":
                assert has_healthcheck(dep), f"{name} waits for {dep} to be healthy, but it has no healthcheck"
            if condition == "service_completed_successfully":
                assert dep in ONE_SHOT, f"{name} waits for {dep} to exit, but it is long-running"


def has_healthcheck(name: str) -> bool:
    check = services()[name].get("healthcheck")
    if check is not None:
        return not check.get("disable", False)
    return builds_from_repo(name) and effective(build_target(name), "HEALTHCHECK") not in (None, "NONE")


def test_long_running_services_restart_and_report_health():
    for name, svc in services().items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", name
            continue
        assert svc.get("restart") == "unless-stopped", f"{name}: no restart policy"
        assert has_healthcheck(name), f"{name}: no healthcheck"


def test_stack_order():
    deps = {n: set(s.get("depends_on") or {}) for n, s in services().items()}
    assert {"kafka"} <= deps["kafka-init"]
    assert {"kafka", "kafka-init"} <= deps["ingestion"]
    assert {"kafka", "kafka-init"} <= deps["intake"]
    assert deps["airflow-init"] == {"postgres"}
    for component in AIRFLOW_COMPONENTS:
        assert {"postgres", "airflow-init"} <= deps[component], component
    assert "superset-init" in deps["superset"]


# --------------------------------------------------------------------------- images


PINNED_TAG = re.compile(r"^[\w./-]+:(\d+(\.\d+)+)([\w.-]*)(@sha256:[0-9a-f]{64})?$")


def assert_pinned(image: str, where: str) -> None:
    assert ":latest" not in image, f"{where}: {image} uses latest"
    assert PINNED_TAG.match(image), f"{where}: {image} is not pinned to a version"


def test_third_party_images_pinned():
    for name, svc in services().items():
        if "build" not in svc:
            assert_pinned(svc["image"], name)


def test_built_images_tagged_with_project_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, svc in services().items():
        if "build" in svc:
            image = interpolate(svc["image"])
            assert image.split(":")[1].startswith(version), f"{name}: {image} is not tagged {version}"
            assert_pinned(image, name)


def test_dockerfile_base_images_pinned():
    assert_pinned(final_base_image(DOCKERFILE), "Dockerfile")
    assert final_base_image(DOCKERFILE).startswith("python:3.11.")
    assert "-slim" in final_base_image(DOCKERFILE)
    assert_pinned(final_base_image(SUPERSET_DIR / "Dockerfile"), "infra/superset/Dockerfile")
    assert final_base_image(SUPERSET_DIR / "Dockerfile").startswith("apache/superset:")


def test_compose_targets_exist_in_dockerfile():
    stages = dockerfile_stages()[1]
    for name in platform_services():
        assert build_target(name) in stages, name
    assert {build_target(n) for n in platform_services()} == {"platform", "airflow"}
    assert list(stages)[-1] == "platform", "plain `docker build .` should give the platform image"


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_installs_the_lock_then_the_project_without_deps():
    for target in ("platform", "airflow"):
        steps = runs(target)
        lock = next(i for i, r in enumerate(steps) if "-r /tmp/requirements.lock" in r)
        project = next(i for i, r in enumerate(steps) if re.search(r"pip install --no-deps .*-e /opt/leap", r))
        assert lock < project, target
        assert "--no-deps" in steps[lock] and "pip check" in steps[lock], target
    assert any(c.startswith("requirements.lock ") for c in copies())
    assert any(c.startswith("infra/airflow/requirements.lock ") for c in copies())
    assert any("--no-deps -r /tmp/requirements-airflow.lock" in r for r in runs("airflow"))
    assert not any("requirements-airflow" in r for r in runs("platform")), "the platform image stays lean"


def test_the_images_carry_the_data_docs_assets():
    """Data Docs without a CDN in the containers too: both targets inherit the fetch of the pinned assets."""
    for target in ("platform", "airflow"):
        assert any(r.startswith("python infra/gx-assets/fetch.py") for r in runs(target)), target


def test_dockerfile_runs_as_non_root():
    for target in ("platform", "airflow"):
        user = effective(target, "USER")
        assert user and user.split(":")[0] not in ("root", "0"), f"{target} runs as {user}"
    assert any("useradd" in r and "--uid 10001" in r for r in runs("platform"))


def test_entrypoint_is_the_leap_script():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.get("leap") == "leap.cli:main"
    assert json.loads(effective("platform", "ENTRYPOINT")) == ["leap"]
    assert json.loads(effective("airflow", "ENTRYPOINT")) == ["airflow"]


def test_healthcheck_is_a_real_command():
    check = effective("platform", "HEALTHCHECK")
    assert check and "CMD" in check
    argv = json.loads(check.split("CMD", 1)[1])
    assert argv[0] == "leap"
    build_parser().parse_args(argv[1:])


def test_data_dir_is_a_volume():
    for target in ("platform", "airflow"):
        assert stage_env(target)["LEAP_DATA_DIR"] == "/data", target
        assert json.loads(effective(target, "VOLUME")) == ["/data"], target
    assert stage_env("airflow")["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/leap/dags"


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


# dags/ fills in with issue 7's DAG files; until then the image gets an empty dags/ (the Dockerfile
# creates it) and compose creates the bind-mount source.
MAY_BE_ABSENT = {"dags"}


def test_build_context_is_an_allow_list_of_what_the_image_needs():
    patterns = dockerignore()
    assert patterns[0] == "*", ".dockerignore must start by excluding everything"
    admitted = {p[1:] for p in patterns if p.startswith("!")}
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    needed = {"pyproject.toml", "README.md", "requirements.lock", "infra/airflow", "infra/gx-assets", "expectations",
              "dbt_project", "dags"} | {p.rstrip("*") for p in packages["include"]}
    assert admitted == needed, f"admitted {sorted(admitted)}, needed {sorted(needed)}"
    for path in admitted - MAY_BE_ABSENT:
        assert (ROOT / path).exists(), f"{path} admitted to the build context but missing"
    for generated in ("dbt_project/target", "**/*.key", "**/.env", "**/__pycache__"):
        assert generated in patterns, generated
    for stage in dockerfile_stages()[1].values():
        for op, rest in stage.instructions:
            if op == "COPY" and not rest.startswith("--from"):
                for source in rest.split()[:-1]:
                    inside = source == "." or any(source == a or source.startswith(a + "/") for a in admitted)
                    assert inside, f"COPY {source}: not in the build context"


def test_airflow_extras_lock_is_exact_and_disjoint_from_the_main_lock():
    def pins(path: Path) -> dict[str, str]:
        out = {}
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, sep, version = line.partition("==")
                assert sep and version, f"{path.name}: {line!r} is not an exact pin"
                out[name.lower().replace("_", "-")] = version
        return out

    main = pins(ROOT / "requirements.lock")
    extras = pins(ROOT / "infra" / "airflow" / "requirements.lock")
    assert main["apache-airflow"].startswith("3.")
    assert {"apache-airflow-providers-postgres", "apache-airflow-providers-fab", "psycopg2-binary"} <= set(extras)
    assert not set(main) & set(extras), "a package pinned in both locks"
    superset = pins(SUPERSET_DIR / "requirements.txt")
    assert superset["duckdb"] == main["duckdb"], "Superset must read the DuckDB format the platform writes"


# --------------------------------------------------------------------------- ports and volumes


def published_ports() -> list[tuple[str, str, int, int]]:
    out = []
    for name, svc in services().items():
        for spec in svc.get("ports") or []:
            ip, host, container = interpolate(spec).rsplit(":", 2)
            out.append((name, ip, int(host), int(container)))
    return out


def test_only_documented_ports_published_once():
    ports = published_ports()
    hosts = [p[2] for p in ports]
    assert len(hosts) == len(set(hosts)), f"host port published twice: {ports}"
    doc = DEPLOY_DOC.read_text()
    for name, ip, host, container in ports:
        assert host == container, f"{name}: default host port {host} differs from the documented {container}"
        assert PUBLISHED.get(container) == name, f"{name} publishes {container}, not an expected port"
        assert ip == "127.0.0.1", f"{name}: ports bind to LEAP_BIND_ADDRESS (default 127.0.0.1)"
        assert str(container) in doc, f"port {container} not documented in docs/deploy.md"
    assert {p[0] for p in ports} == set(PUBLISHED.values())


def test_named_volumes_declared_and_used():
    declared = set(compose().get("volumes") or {})
    used = {src for name in services() for src in named_mounts(name).values()}
    assert used == declared, f"declared {declared}, used {used}"


def test_bind_mounts_exist_in_repo():
    for name, svc in services().items():
        for spec in svc.get("volumes") or []:
            source = str(spec).split(":")[0]
            if source.startswith(".") and source.removeprefix("./") not in MAY_BE_ABSENT:
                assert (ROOT / source).exists(), f"{name}: {source} missing"


def test_data_volume_layout():
    for name in platform_services():
        mounts = named_mounts(name)
        env = environment(name)
        if "LEAP_DATA_DIR" in env:
            assert mounts.get(env["LEAP_DATA_DIR"]) == "leap-data", f"{name}: LEAP_DATA_DIR is not the data volume"
    for name in ("airflow-scheduler", "airflow-init"):
        assert named_mounts(name)["/data/published"] == "leap-published"
    for name in ("superset", "superset-init"):
        assert named_mounts(name) == {"/data/published": "leap-published"}, "BI sees the published marts only"
        assert all(str(v).endswith(":ro") for v in services()[name]["volumes"]), f"{name}: mount read-only"
    assert services()["kafka"]["volumes"] == ["kafka-data:/var/lib/kafka/data"]
    assert environment("kafka")["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"


# --------------------------------------------------------------------------- environment


def compose_variables() -> dict[str, set[str]]:
    """Every ${VAR} of the compose file -> its operators (':?' means required)."""
    found: dict[str, set[str]] = {}
    for m in VAR_REF.finditer(COMPOSE.read_text()):
        found.setdefault(m.group(1), set()).add(m.group(2) or "")
    return found


def test_every_variable_documented_in_env_example():
    variables = compose_variables()
    documented = env_example()
    missing = sorted(set(variables) - set(documented))
    assert not missing, f"not in infra/.env.example: {missing}"
    stale = sorted(set(documented) - set(variables))
    assert not stale, f"in infra/.env.example but unused by docker-compose.yml: {stale}"


def test_secrets_come_from_the_environment_and_none_is_committed():
    variables = compose_variables()
    for name, ops in variables.items():
        if SECRET_NAME.search(name):
            assert ":?" in ops, f"{name} must be required (${{{name}:?...}})"
            assert env_example()[name] == "", f"infra/.env.example commits a value for {name}"
    for svc in services():
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key) or "SQL_ALCHEMY_CONN" in key:
                assert "${" in value, f"{svc}: {key} is a literal, not from the environment"


def test_platform_environment_is_read_by_the_code():
    for name in platform_services():
        unknown = sorted(k for k in environment(name) if not read_by_platform(k))
        assert not unknown, f"{name} passes variables nothing reads: {unknown}"


def test_superset_environment_is_read_by_its_config():
    text = "".join(p.read_text() for p in SUPERSET_DIR.iterdir() if p.suffix in (".py", ".sh"))
    for name in ("superset", "superset-init"):
        for key in environment(name):
            assert key in text, f"{name}: {key} is not read by infra/superset"
    assert "access_mode=read_only" in environment("superset-init")["SUPERSET_MARTS_URI"]


def test_required_settings_reach_ingestion_and_the_scheduler():
    for name in ("ingestion", "ingestion-2", "ingestion-3", "airflow-scheduler"):
        env = environment(name)
        for key in REQUIRED_BY_CODE:
            assert key in env, f"{name}: {key} missing"
        assert ":?" in env["LEAP_PSEUDONYM_KEY"], "no silent per-container key file in production"


def test_kafka_address_matches_the_broker_listener():
    kafka = environment("kafka")
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "broker" in kafka["KAFKA_PROCESS_ROLES"]
    assert "ZOOKEEPER" not in " ".join(kafka), "KRaft only"
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    internal = re.search(r"INTERNAL://([^,]+)", kafka["KAFKA_ADVERTISED_LISTENERS"]).group(1)
    for name in platform_services():
        env = environment(name)
        if "KAFKA_BOOTSTRAP_SERVERS" in env:
            assert env["KAFKA_BOOTSTRAP_SERVERS"] == internal, name


def test_settings_as_the_ingestion_container_sees_them(monkeypatch):
    from leap.config import load_settings

    dummy = {k: "ab" * 32 for k in compose_variables() if SECRET_NAME.search(k)}
    seen = {}
    for name in ("ingestion", "ingestion-2", "ingestion-3"):
        for key in list(environment(name)) + ["LEAP_CONSUMER_INSTANCE_ID"]:
            monkeypatch.delenv(key, raising=False)
        for key, value in environment(name).items():
            monkeypatch.setenv(key, interpolate(value, dummy))
        s = load_settings()
        assert not s.embedded and s.bootstrap_servers == "kafka:19092"
        assert str(s.data_dir) == "/data"
        assert s.instance_id, f"{name}: no static membership"
        seen[name] = (s.instance_id, s.consumer_group, s.topic_partitions)
    ids = [v[0] for v in seen.values()]
    assert len(set(ids)) == len(ids), f"replicas share an instance id: {seen}"
    assert len({v[1] for v in seen.values()}) == 1, "replicas must share the consumer group"
    assert len(seen) <= next(iter(seen.values()))[2], "more replicas than partitions"
    others = [n for n in services() if n not in seen and "LEAP_CONSUMER_INSTANCE_ID" in environment(n)]
    assert not others, f"only ingestion services may claim a static member id: {others}"


# --------------------------------------------------------------------------- commands


def test_platform_commands_are_real_leap_subcommands():
    parser = build_parser()
    for name in platform_services():
        if build_target(name) != "platform":
            continue
        command = services()[name]["command"]
        args = parser.parse_args(command)
        assert getattr(args, "func", None), f"{name}: `leap {' '.join(command)}` runs nothing"
    assert services()["kafka-init"]["command"] == ["broker", "topics"]
    assert parser.parse_args(services()["ingestion"]["command"]).mode == "service"


def test_airflow_components():
    for name, command in AIRFLOW_COMPONENTS.items():
        svc = services()[name]
        assert build_target(name) == "airflow"
        assert svc["command"] == [command], name
        assert "./dags:/opt/leap/dags:ro" in svc["volumes"], f"{name}: DAGs not mounted"
        assert "airflow-logs" in named_mounts(name).values(), name
    env = environment("airflow-scheduler")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-api-server:8080/")
    assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].startswith("airflow.providers.fab.")
    init = services()["airflow-init"]
    script = init["entrypoint"][-1]
    assert script.startswith("/opt/leap/") and (ROOT / script.removeprefix("/opt/leap/")).is_file()


def test_postgres_creates_the_superset_database():
    script = ROOT / "infra" / "postgres" / "init-superset-db.sh"
    assert script.stat().st_mode & 0o111, "init script must be executable"
    assert "SUPERSET_DB_PASSWORD" in environment("postgres")
    assert "CREATE DATABASE superset" in script.read_text()
    assert not services()["postgres"].get("ports"), "the metadata DB is not published"


def test_deploy_doc_names_every_service():
    doc = DEPLOY_DOC.read_text()
    for name in services():
        assert f"`{name}`" in doc, f"docs/deploy.md does not describe {name}"
    assert "cp infra/.env.example .env" in doc and "docker compose up -d" in doc


# --------------------------------------------------------------------------- docker compose, when present


def compose_cli() -> list[str] | None:
    """A Compose v2 CLI (the file uses v2 features such as the top-level `name`), or None."""
    for argv in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(argv[0]) is None:
            continue
        probe = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True, timeout=30)
        major = re.match(r"v?(\d+)\.", probe.stdout.strip())
        if probe.returncode == 0 and major and int(major.group(1)) >= 2:
            return argv
    return None


def run_compose(argv: list[str], env_file: Path, *args: str) -> subprocess.CompletedProcess:
    clean_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([*argv, "-f", str(COMPOSE), "--project-directory", str(ROOT), "--env-file", str(env_file),
                           *args], capture_output=True, text=True, timeout=60, cwd=ROOT, env=clean_env)


def test_docker_compose_config_resolves(tmp_path):
    argv = compose_cli()
    if argv is None:
        pytest.skip("no docker compose v2 CLI installed (the checks above cover the file statically)")
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v or '0123456789abcdef' * 4}\n" for k, v in env_example().items()))
    done = run_compose(argv, env_file, "--profile", "scale-ingestion", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["services"]) == EXPECTED_SERVICES | {"ingestion-2", "ingestion-3"}
    empty = tmp_path / "empty.env"
    empty.write_text("")
    missing = run_compose(argv, empty, "config", "-q")
    assert missing.returncode != 0, "compose accepted a stack with no secrets set"


def test_the_intake_service_faces_respondents_without_the_pseudonym_key():
    args = build_parser().parse_args(services()["intake"]["command"])
    assert (args.host, args.port) == ("0.0.0.0", 8000), "inside its container; published on LEAP_BIND_ADDRESS"
    env = environment("intake")
    assert "LEAP_PSEUDONYM_KEY" not in env, "pseudonymization happens at ingestion; the front door never sees the key"
    assert ":?" in env["LEAP_INTAKE_SECRET"] and env["LEAP_DATA_DIR"] == "/data"
    assert named_mounts("intake") == {"/data": "leap-data"}, "the access codes live on the data volume"
    assert "/readyz" in " ".join(services()["intake"]["healthcheck"]["test"])
