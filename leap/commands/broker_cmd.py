"""`leap broker start|stop|status|topics`: the embedded Kafka-protocol broker and the topics."""

from __future__ import annotations

from ingestion.broker import embedded_broker, ensure_topics, port_open
from leap.config import load_settings
from leap.errors import LeapError


def register(sub) -> None:
    p = sub.add_parser("broker", help="start, stop or check the embedded broker; create topics")
    bsub = p.add_subparsers(dest="broker_command", metavar="ACTION", required=True)
    start = bsub.add_parser("start", help="start the embedded broker (if none answers) and create the topics")
    start.set_defaults(func=_start)
    bsub.add_parser("stop", help="stop the embedded broker (its topics are in memory: they are discarded)").set_defaults(
        func=_stop)
    bsub.add_parser("status", help="is a broker answering at the configured address?").set_defaults(func=_status)
    topics = bsub.add_parser("topics", help="create the submissions and dead-letter topics (idempotent)")
    topics.add_argument("--partitions", type=int, default=None)
    topics.set_defaults(func=_topics)


def _start(args) -> int:
    s = load_settings()
    if not s.embedded:
        raise LeapError(f"KAFKA_BOOTSTRAP_SERVERS is set ({s.bootstrap_servers}): the platform does not start that "
                        "broker", hint="unset KAFKA_BOOTSTRAP_SERVERS to use the embedded broker")
    b = embedded_broker(s)
    started = b.start()
    print(f"embedded broker {'started' if started else 'already running'} at {b.bootstrap} (log: {b.logfile})")
    ensure_topics(s)
    print(f"topics ready: {s.topic} ({s.topic_partitions} partitions), {s.dlq_topic}")
    return 0


def _stop(args) -> int:
    s = load_settings()
    stopped = embedded_broker(s).stop()
    print("embedded broker stopped" if stopped else "no embedded broker was running (by its pid file)")
    return 0


def _status(args) -> int:
    s = load_settings()
    up = port_open(s.bootstrap_servers, timeout=1.0)
    kind = "embedded broker" if s.embedded else "Kafka"
    print(f"{kind} at {s.bootstrap_servers}: {'up' if up else 'DOWN'}")
    return 0 if up else 3


def _topics(args) -> int:
    s = load_settings()
    ensure_topics(s, args.partitions)
    print(f"topics ready: {s.topic}, {s.dlq_topic}")
    return 0
