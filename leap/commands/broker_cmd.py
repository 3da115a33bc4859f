"""`leap broker start|stop|status|topics`: the embedded broker (Apache Kafka or Tansu) and the topics."""

from __future__ import annotations

from ingestion.broker import ensure_topics, port_open
from ingestion.embedded import embedded_broker
from leap.config import load_settings
from leap.errors import LeapError


def register(sub) -> None:
    p = sub.add_parser("broker", help="start, stop or check the embedded broker; create topics")
    bsub = p.add_subparsers(dest="broker_command", metavar="ACTION", required=True)
    start = bsub.add_parser("start", help="start the embedded broker (Apache Kafka unless LEAP_EMBEDDED_BROKER=tansu) "
                                          "if it is not running, and create the topics")
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait until it answers (default 60)")
    start.set_defaults(func=_start)
    bsub.add_parser("stop", help="stop the embedded broker cleanly (Apache Kafka keeps its data; Tansu discards it)"
                    ).set_defaults(func=_stop)
    bsub.add_parser("status", help="which broker answers at the configured address, and its topics "
                                   "(exit 3 when none answers)").set_defaults(func=_status)
    topics = bsub.add_parser("topics", help="create the submissions and dead-letter topics (idempotent)")
    topics.add_argument("--partitions", type=int, default=None)
    topics.set_defaults(func=_topics)


def _start(args) -> int:
    s = load_settings()
    if not s.embedded:
        raise LeapError(f"KAFKA_BOOTSTRAP_SERVERS is set ({s.bootstrap_servers}): the platform does not start that "
                        "broker", hint="unset KAFKA_BOOTSTRAP_SERVERS to use the embedded broker")
    b = embedded_broker(s)
    started = b.start(timeout=args.timeout)
    print(f"{b.kind} (embedded) {'started' if started else 'already running'} at {b.bootstrap}, pid {b.pid()}")
    for key, value in b.describe().items():
        if key not in ("broker", "address", "pid"):
            print(f"  {key}: {value}")
    ensure_topics(s)
    print(f"topics ready: {s.topic} ({s.topic_partitions} partitions), {s.dlq_topic}")
    return 0


def _stop(args) -> int:
    s = load_settings()
    b = embedded_broker(s)
    stopped = b.stop()
    if stopped:
        print(f"{b.kind} (embedded) stopped" + (f"; its data stays in {b.data_dir}" if hasattr(b, "data_dir") else ""))
    else:
        print(f"no embedded {b.kind} was running for {s.data_dir}")
    return 0


def _status(args) -> int:
    s = load_settings()
    up = port_open(s.bootstrap_servers, timeout=1.0)
    if s.embedded:
        b = embedded_broker(s)
        ours = b.pid() is not None
        state = "up" if up and ours else "DOWN" if not up else "up, but not started from this data directory"
        print(f"{b.kind} (embedded) at {s.bootstrap_servers}: {state}")
        for key, value in b.describe().items():
            if key not in ("broker", "address"):
                print(f"  {key}: {value}")
    else:
        print(f"Kafka at {s.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS): {'up' if up else 'DOWN'}")
    if up:
        _print_topics(s)
    return 0 if up else 3


def _print_topics(s) -> None:
    from ingestion.broker import cluster_id, metadata_consumer

    print(f"  cluster id (from the broker): {cluster_id(s)}")
    consumer = metadata_consumer(s)
    try:
        for topic in (s.topic, s.dlq_topic):
            parts = consumer.partitions_for_topic(topic)
            print(f"  topic {topic}: " + (f"{len(parts)} partitions" if parts else "missing (`leap broker topics`)"))
    finally:
        consumer.close()


def _topics(args) -> int:
    s = load_settings()
    ensure_topics(s, args.partitions)
    print(f"topics ready: {s.topic}, {s.dlq_topic}")
    return 0
