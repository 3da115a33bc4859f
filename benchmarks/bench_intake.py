"""Intake service load benchmark (loopback only): sustained submissions/s, latency, and every accepted
submission in the lake afterwards.

    .venv/bin/python benchmarks/bench_intake.py [--rate 500] [--seconds 60] [--workers 1] [--connections 64]

1. a fresh embedded Apache Kafka on a free port, a temporary data directory, one shared access code for
   the survey whose window is open today (the run stops when no term is open, e.g. in July);
2. ``leap intake serve`` as its own process on 127.0.0.1 (``--workers`` uvicorn processes; the rate limits
   raised through LEAP_INTAKE_* since every request comes from one address with one code);
3. an **open-loop** load: request *i* is due at ``start + i / rate`` whatever happened before (a slow
   answer does not slow the offered load, so latency is not hidden by coordinated omission); a pool of
   keep-alive HTTP/1.1 connections (a minimal asyncio client on uvloop, to leave the CPU to the server)
   sends each due request as soon as a connection is free; latency = answer received − due time, so
   time waiting for a free connection counts. A warm-up (``--warmup`` seconds at the same rate) precedes
   the measured ``--seconds``;
4. the ingestion drains the topic (``run_ingestion`` bounded, standalone) and the lake is counted: every
   submission answered 202 must be there, once.

Prints a summary and writes ``benchmarks/out/intake.json``. Each event is a distinct submission (35 teacher
items, ~1.3 KB). CPU seconds of the server, Kafka and this client are read from /proc. Not a test: numbers
depend on the machine; BENCHMARKS.md records them with the machine they came from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SCHOOL = "SCH-BENCH"
LIMITS = {"LEAP_INTAKE_IP_RATE": "1000000", "LEAP_INTAKE_IP_BURST": "1000000",
          "LEAP_INTAKE_CODE_RATE": "1000000", "LEAP_INTAKE_CODE_BURST": "1000000"}


def _settings(data_dir: Path, port: int):
    os.environ.update(LEAP_DATA_DIR=str(data_dir), LEAP_EMBEDDED_BROKER_PORT=str(port), LEAP_PSEUDONYM_KEY="42" * 32)
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "LEAP_TOPIC_PREFIX", "LEAP_INTAKE_SECRET"):
        os.environ.pop(var, None)
    from leap.config import load_settings

    return load_settings()


def open_survey_today():
    """The teacher survey of the term open now, or None."""
    from intake.access import Survey, current_school_year, is_open
    from leap.instrument import terms

    now = datetime.now(UTC)
    year = current_school_year(now)
    return next((s for t in terms() if is_open(s := Survey(SCHOOL, "teacher", year, t), now)), None)


def events(survey, n: int, seed: int = 17) -> list[bytes]:
    """``n`` distinct valid submissions for the survey, as the bytes a client posts."""
    from leap.instrument import load_catalog

    rng = random.Random(seed)
    ins = load_catalog().latest(survey.instrument)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return [orjson.dumps({
        "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "instrument": survey.instrument,
        "instrument_version": ins.version, "school_id": survey.school_id, "respondent_id": f"bench-{i}",
        "school_year": survey.school_year, "term": survey.term, "submitted_at": now, "grade_band": "middle",
        "sample": "leap_network", "duration_seconds": round(rng.uniform(120, 900), 1),
        "responses": {item.item_id: rng.randint(0, item.max_category) for item in ins.items}})
        for i in range(n)]


# --------------------------------------------------------------------------- the load


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    return status


async def _connection(port: int, code: str, bodies: list[bytes], due: asyncio.Queue, done: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /v1/submissions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Access-Code: {code}\r\nContent-Length: ").encode()
    try:
        while (item := await due.get()) is not None:
            index, due_at = item
            body = bodies[index]
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            status = await _read_response(reader)
            done.append((index, due_at, time.perf_counter(), status))
    finally:
        writer.close()


async def _offer(due: asyncio.Queue, n: int, rate: float, start: float, connections: int) -> None:
    for i in range(n):
        wait = start + i / rate - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        due.put_nowait((i, start + i / rate))
    for _ in range(connections):
        due.put_nowait(None)


async def load(port: int, code: str, bodies: list[bytes], rate: float, connections: int) -> tuple[list, float]:
    due: asyncio.Queue = asyncio.Queue()
    done: list = []
    start = time.perf_counter() + 0.5
    workers = [asyncio.create_task(_connection(port, code, bodies, due, done)) for _ in range(connections)]
    await _offer(due, len(bodies), rate, start, connections)
    await asyncio.gather(*workers)
    return done, start


# --------------------------------------------------------------------------- measuring


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process and its children that were waited for (from /proc)."""
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (uvicorn's worker processes)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return cpu_seconds(pid) + sum(tree_cpu(k) for k in kids)


def summarize(done: list, rate: float, warmup_n: int) -> dict:
    """Rate = submissions answered 202 per second of the measured offer window (n / rate): met when every
    request due in it was accepted; ``answered_within_s`` adds the last answer's lateness."""
    timed = [d for d in done if d[0] >= warmup_n]
    lat = sorted((end - due) * 1000 for _, due, end, _ in timed)
    window = len(timed) / rate
    statuses: dict[str, int] = {}
    for *_, status in done:
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1)

    return {"measured_requests": len(timed), "measured_seconds": round(window, 2),
            "answered_within_s": round(max(d[2] for d in timed) - min(d[1] for d in timed), 2),
            "achieved_per_s": round(sum(1 for d in timed if d[3] == 202) / window, 1),
            "latency_ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "max": round(lat[-1], 1)},
            "statuses": statuses}


def wait_ready(port: int, proc: subprocess.Popen) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "leap intake serve exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError("the intake service did not become ready")


def lake_count(settings, accepted: set[str]) -> dict:
    from ingestion.consumer import run_ingestion

    t = time.perf_counter()
    stats = run_ingestion(settings, "bounded", workers=1, progress=False, standalone=True)
    import duckdb

    glob = str(settings.layout.raw / "**" / "*.parquet")
    ids = [r[0] for r in duckdb.connect().execute(
        f"select submission_id from read_parquet('{glob}', hive_partitioning=false)").fetchall()]
    return {"drain_s": round(time.perf_counter() - t, 1), "landed": stats.landed, "lake_rows": len(ids),
            "distinct_in_lake": len(set(ids)), "accepted": len(accepted),
            "accepted_missing_from_lake": len(accepted - set(ids)),
            "every_accepted_in_lake_once": accepted <= set(ids) and len(ids) == len(set(ids))}


# --------------------------------------------------------------------------- main


def run(args) -> dict:
    from ingestion.broker import ensure_topics
    from ingestion.embedded import embedded_broker
    from ingestion.embedded.process import free_port

    tmp = Path(tempfile.mkdtemp(prefix="leap-bench-intake-"))
    settings = _settings(tmp / "data", free_port())
    from intake.access import CodeStore
    from intake.keys import load_keyring

    survey = open_survey_today()
    if survey is None:
        raise SystemExit("no term's window is open today (terms.csv): the service would refuse every submission")
    warmup_n, total = int(args.rate * args.warmup), int(args.rate * (args.warmup + args.seconds))
    bodies = events(survey, total)
    store = CodeStore(settings.layout.intake_codes)
    code = store.issue(load_keyring(settings), survey, grade_band="middle", sample="leap_network", count=1,
                       single_use=False)[1][0][1]
    store.close()
    broker = embedded_broker(settings)
    broker.start()
    port = free_port()
    server = None
    try:
        ensure_topics(settings)
        cmd = [sys.executable, "-m", "leap.cli", "intake", "serve", "--port", str(port), "--workers", str(args.workers)]
        server = subprocess.Popen(cmd + (["--no-access-log"] if args.no_access_log else []),
                                  env={**os.environ, **LIMITS}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(port, server)
        cpu0 = (tree_cpu(server.pid), cpu_seconds(broker.pid()), time.process_time())
        done, start = _run_load(port, code, bodies, args)
        cpu1 = (tree_cpu(server.pid), cpu_seconds(broker.pid()), time.process_time())
        result = summarize(done, args.rate, warmup_n)
        wall = max(d[2] for d in done) - start
        result["cpu_share_of_one_core"] = {name: round((b - a) / wall, 2) for name, a, b in
                                           zip(("server", "kafka", "client"), cpu0, cpu1, strict=True)}
        server.terminate()
        server.wait(timeout=60)
        accepted = {orjson.loads(bodies[i])["submission_id"] for i, *_, status in done if status == 202}
        result["lake"] = lake_count(settings, accepted)
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _run_load(port: int, code: str, bodies: list[bytes], args) -> tuple[list, float]:
    try:
        import uvloop

        return uvloop.run(load(port, code, bodies, args.rate, args.connections))
    except ImportError:
        return asyncio.run(load(port, code, bodies, args.rate, args.connections))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=500, help="offered submissions per second (default 500)")
    ap.add_argument("--seconds", type=float, default=60, help="measured duration (default 60)")
    ap.add_argument("--warmup", type=float, default=5, help="seconds at the same rate before measuring")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    ap.add_argument("--connections", type=int, default=64, help="keep-alive client connections (default 64)")
    ap.add_argument("--no-access-log", action="store_true", help="serve without a log line per request")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "date": datetime.now(UTC).strftime("%Y-%m-%d"), "offered_per_s": args.rate, "seconds": args.seconds,
              "warmup_s": args.warmup, "workers": args.workers, "connections": args.connections,
              "access_log": not args.no_access_log, **run(args)}
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "intake.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    target = result["achieved_per_s"] >= 500 and result["latency_ms"]["p95"] < 100 and args.seconds >= 60
    print(f"target (>= 500/s sustained for 60 s, p95 < 100 ms, every accepted submission in the lake): "
          f"{'met' if target and result['lake']['every_accepted_in_lake_once'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
