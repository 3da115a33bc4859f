"""The embedded Apache Kafka: a KRaft node run from the Maven jars ``make setup`` fetched.

``infra/kafka/pom.xml`` pins the version (the same as the ``kafka`` image in docker-compose.yml);
``infra/kafka/fetch.sh`` resolves it from Maven Central, checks every jar against
``infra/kafka/jars.sha256`` and keeps it in ``.deps/kafka/`` (``LEAP_KAFKA_HOME``). This module
writes a ``server.properties``, formats the KRaft log directory once, and runs ``kafka.Kafka``.

Everything lives under one node home (``$LEAP_DATA_DIR/kafka`` for the embedded default)::

    server.properties, log4j2.properties   written at every start from the settings below
    node.json                              cluster id and controller port, fixed at format time
    data/                                  the KRaft log directory (topics, offsets, groups): durable
    logs/server.log                        the broker's own log (rolled at 20 MB, 3 files)
    broker.pid

A single node is broker and controller at once (``process.roles=broker,controller``) with a
dynamic quorum of itself (``StorageTool format --standalone``). Several nodes on loopback form a
static quorum (``controller.quorum.voters``): the test suite's three-broker cluster.

The controller endpoint is written into the quorum's log at format time, so the controller port
of a home never changes (``node.json``); the client port may (``LEAP_EMBEDDED_BROKER_PORT``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ingestion.embedded.process import PORT_HINT, ManagedProcess, free_port, port_free, port_taken
from leap.errors import LeapError

JAVA_HINT = ("install Java 17 or later (Debian: sudo apt-get install -y openjdk-17-jre-headless) or point "
             "JAVA_HOME at one; on a machine without Java, LEAP_EMBEDDED_BROKER=tansu runs the memory-only broker")
DEFAULT_HEAP = "512m"


def kafka_home() -> Path:
    """Where ``infra/kafka/fetch.sh`` keeps the jars (``LEAP_KAFKA_HOME``, default ``<repo>/.deps/kafka``)."""
    env = os.environ.get("LEAP_KAFKA_HOME", "").strip()
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".deps" / "kafka"


def kafka_version(home: Path | None = None) -> str:
    """The fetched version (first line of ``FETCHED``); a clear error when nothing was fetched."""
    home = home or kafka_home()
    try:
        return (home / "FETCHED").read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        raise LeapError(f"Apache Kafka is not fetched (no verified jars in {home})",
                        hint="run `make setup` (it runs infra/kafka/fetch.sh)") from None


@lru_cache(maxsize=4)
def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(m.group(1)) if m else None


def find_java() -> str:
    """A Java 17+ runtime: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME", "").strip()
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise LeapError("no Java runtime found: the embedded Apache Kafka needs Java 17 or later", hint=JAVA_HINT,
                        exit_code=3)
    major = _java_major(java)
    if major is None or major < 17:
        raise LeapError(f"{java} is Java {major or 'of unknown version'}; Apache Kafka 4 needs Java 17 or later",
                        hint=JAVA_HINT, exit_code=3)
    return java


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's ``Uuid``).

    Like Kafka's ``Uuid.randomUuid``, never one starting with "-": command-line tools would read it as
    an option (1 in 64 ids did, and the format failed).
    """
    while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return cid


@dataclass(frozen=True)
class NodeSpec:
    """One KRaft node on loopback.

    ``voters``: ``{node id: controller port}`` of a static quorum; ``None`` for a single node that is
    its own dynamic quorum. ``overrides``: extra ``server.properties`` lines (replication settings
    of a cluster, retention, ...).
    """

    node_id: int = 1
    voters: dict[int, int] | None = None
    heap: str = DEFAULT_HEAP
    overrides: dict[str, str] = field(default_factory=dict)


# Broker settings of the embedded default; a cluster overrides the replication ones.
_SINGLE_NODE = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "12",  # 50 by default: slow to create on first group join, never needed here
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
}


class KafkaBroker(ManagedProcess):
    """Apache Kafka in KRaft mode under ``home``; ``port`` is the client (PLAINTEXT) listener."""

    def __init__(self, home: Path, port: int, spec: NodeSpec | None = None, *, controller_port: int | None = None,
                 cluster_id: str | None = None):
        super().__init__(port, home / "broker.pid", home / "logs" / "server.log")
        self.home = home
        self.spec = spec or NodeSpec()
        self._controller_port = controller_port
        self._cluster_id = cluster_id
        self.kind = f"Apache Kafka {self._version_or_unknown()}"

    @staticmethod
    def _version_or_unknown() -> str:
        try:
            return kafka_version()
        except LeapError:
            return "(not fetched)"

    # ------------------------------------------------------------------ identity, fixed at format time

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def node_file(self) -> Path:
        return self.home / "node.json"

    def node(self) -> dict:
        """Cluster id and controller port of this home (chosen once, then read back)."""
        try:
            return json.loads(self.node_file.read_text())
        except (OSError, ValueError):
            return {}

    @property
    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists() and bool(self.node())

    def controller_port(self) -> int:
        fixed = self.node().get("controller_port") or self._controller_port
        if fixed:
            return fixed
        return self.port + 1 if port_free(self.port + 1) else free_port()  # 19093 next to 19092 if free

    # ------------------------------------------------------------------ configuration

    def properties(self, controller_port: int) -> dict[str, str]:
        host = "127.0.0.1"
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.spec.node_id),
            "listeners": f"PLAINTEXT://{host}:{self.port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # Topics exist because the platform created them (`leap broker topics`), with their
            # partition count checked; a client's metadata request must never create one.
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",  # one machine: no reason to wait for more members
            **_SINGLE_NODE,
        }
        if self.spec.voters:
            props["controller.quorum.voters"] = ",".join(f"{n}@{host}:{p}" for n, p in sorted(self.spec.voters.items()))
        else:
            props["controller.quorum.bootstrap.servers"] = f"{host}:{controller_port}"
        props.update(self.spec.overrides)
        return props

    def _write_config(self, controller_port: int) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        path = self.home / "server.properties"
        lines = ["# Written by `leap broker start` at every start; edit the settings in ingestion/embedded/kafka.py"]
        lines += [f"{k}={v}" for k, v in self.properties(controller_port).items()]
        path.write_text("\n".join(lines) + "\n")
        (self.home / "log4j2.properties").write_text(_LOG4J2.format(log=self.logfile))
        return path

    def _format(self, java: str, libs: Path, config: Path, controller_port: int) -> None:
        cluster_id = self._cluster_id or new_cluster_id()
        cmd = [java, "-Xmx256m", "-cp", f"{libs}/*", f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
               "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config)]
        if not self.spec.voters:
            cmd.append("--standalone")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise LeapError(f"formatting the Kafka log directory {self.data_dir} failed:\n{out.stdout}{out.stderr}",
                            hint=f"remove {self.home} to start over (its topics are lost)", exit_code=3)
        self.node_file.write_text(json.dumps({"cluster_id": cluster_id, "controller_port": controller_port,
                                              "node_id": self.spec.node_id}) + "\n")

    # ------------------------------------------------------------------ start / ready

    def start(self, timeout: float = 60.0, wait: bool = True) -> bool:
        """Start this home's broker unless it runs already; True when this call started it.

        ``wait=False`` returns once the process runs (a cluster's nodes get ready together:
        start them all, then :meth:`wait_ready` each)."""
        if self.running():
            return False
        java = find_java()
        libs = kafka_home() / "libs"
        kafka_version()  # a clear error when nothing was fetched
        if self.node() and not (self.data_dir / "meta.properties").exists():
            self.node_file.unlink()  # a format that did not finish: start over
        controller_port = self.controller_port()
        if controller_port == self.port:  # a kept home's controller port is fixed (node.json): Kafka would
            # stop on "Each listener must have a different port", naming neither
            raise LeapError(f"port {self.port} is this broker's controller port ({self.node_file}); the broker "
                            "needs another", hint=PORT_HINT, exit_code=3)
        self.check_port_free(controller_port)
        config = self._write_config(controller_port)
        if not self.formatted:
            self._format(java, libs, config, controller_port)
        cmd = [java, f"-Xms{min_heap(self.spec.heap)}", f"-Xmx{self.spec.heap}", "-XX:+UseG1GC",
               "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}", f"-Dkafka.logs.dir={self.logfile.parent}",
               "-cp", f"{libs}/*", "kafka.Kafka", str(config)]
        self._launch(cmd, {**os.environ}, timeout, stdout=self.home / "logs" / "stdout.log", wait=wait)
        return True

    def ready(self) -> bool:
        """The broker answers a metadata request and lists itself (it has joined its quorum)."""
        if not port_taken(self.port):
            return False
        return _lists_itself(self.bootstrap, self.spec.node_id)

    def describe(self) -> dict[str, str]:
        node = self.node()
        return {**super().describe(), "mode": "KRaft, broker + controller" if not self.spec.voters else
                f"KRaft node {self.spec.node_id} of {len(self.spec.voters)}",
                "data": f"{self.data_dir} (durable)", "cluster id": node.get("cluster_id", "-"),
                "controller port": str(node.get("controller_port", "-")), "heap": self.spec.heap}


def min_heap(heap: str) -> str:
    """Initial heap: a quarter of the maximum, at least 64 MB (a small broker starts small)."""
    m = re.fullmatch(r"(\d+)([mMgG])", heap)
    if not m:
        raise LeapError(f"LEAP_KAFKA_HEAP={heap!r} is not a size like 512m or 1g", hint="e.g. LEAP_KAFKA_HEAP=512m")
    mb = int(m.group(1)) * (1024 if m.group(2) in "gG" else 1)
    return f"{max(64, mb // 4)}m"


def _lists_itself(bootstrap: str, node_id: int) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="leap-ready", request_timeout_ms=3000,
                                 api_version_auto_timeout_ms=3000)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        brokers = admin.describe_cluster().get("brokers", [])
        return any(b.get("node_id") == node_id for b in brokers)
    except (KafkaError, OSError, ValueError):
        return False
    finally:
        admin.close()


# Kafka's own config/log4j2.yaml, as properties: the server log to a rolling file, nothing on stdout.
_LOG4J2 = """\
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log}
appender.file.filePattern = {log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.apache.name = org.apache.kafka
logger.apache.level = info
"""
