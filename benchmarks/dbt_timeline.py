"""Where a dbt build's time went: its nodes on dbt's threads, from the build's own log.

    .venv/bin/python benchmarks/dbt_timeline.py DATA_DIR [--run -1] [--min-seconds 0.5] [--svg OUT.svg]

Reads ``DATA_DIR/dbt/logs/dbt.log`` (or a log file given instead of a directory) and takes one of its
runs (``--run``: 0 the first, -1 the last; a run begins at "Running with dbt="). Prints how long dbt
took to start its first node, every node that ran at least ``--min-seconds`` (start and end from the
first node's start, thread), the time with 0, 1, 2… nodes running, and the nodes that ran *alone* the
longest: while one node runs alone the other thread has nothing ready, so those seconds are the build's
dependency chain and where a change shortens the build. ``--svg`` draws the threads as a Gantt chart (a
self-contained file). The timings are the log's own (dbt writes a START and a result line per node), so a
build measured by ``bench_pipeline.py`` can be read afterwards without running it again.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+) \[\w+\s*\] \[(Thread-\d+)[^\]]*\]: (\d+) of \d+ (\w+(?: created)?) (.*?)"
                   r"(?: \.+)? \[")
_DONE = {"OK", "OK created", "PASS", "WARN", "FAIL", "ERROR", "SKIP"}


@dataclass(frozen=True)
class Node:
    name: str
    thread: str
    start: float  # seconds from the run's first node start
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def _clock(text: str) -> float:
    return datetime.strptime(text, "%H:%M:%S.%f").timestamp()


def read_run(log: str, run: int) -> tuple[list[Node], float]:
    """The nodes of one run of the log, and the seconds from the run's first log line (dbt imported) to its first node."""
    lines = log.splitlines()
    begins = [i for i, line in enumerate(lines) if "Running with dbt=" in line]
    if not begins:
        raise SystemExit("no dbt run in this log")
    first = begins[run]
    last = next((b for b in begins if b > first), len(lines))
    started: dict[str, tuple[float, str, str]] = {}
    done: list[tuple[float, float, str, str]] = []
    for line in lines[first:last]:
        m = _LINE.match(line)
        if not m:
            continue
        at, thread, number, event, name = _clock(m[1]), m[2], m[3], m[4], m[5].strip()
        if event == "START":
            started[number] = (at, thread, name)
        elif event in _DONE and number in started:
            begin, thread, name = started.pop(number)
            done.append((begin, at, thread, name))
    if not done:
        raise SystemExit("no node finished in this run")
    t0 = min(b for b, *_ in done)
    nodes = [Node(name, thread, begin - t0, end - t0) for begin, end, thread, name in sorted(done)]
    return nodes, t0 - _clock(lines[first].split()[0])


def running_counts(nodes: list[Node]) -> tuple[dict[int, float], dict[str, float]]:
    """Seconds with k nodes running, for each k; and per node, the seconds it ran alone."""
    edges = sorted({t for n in nodes for t in (n.start, n.end)})
    by_count: dict[int, float] = {}
    alone: dict[str, float] = {}
    for a, b in zip(edges, edges[1:], strict=False):
        running = [n for n in nodes if n.start <= a and n.end >= b]
        by_count[len(running)] = by_count.get(len(running), 0.0) + b - a
        if len(running) == 1:
            alone[running[0].name] = alone.get(running[0].name, 0.0) + b - a
    return by_count, alone


def svg(nodes: list[Node], min_seconds: float) -> str:
    """The threads as rows of bars (a bar per node, labelled when long enough), seconds along the bottom."""
    threads = sorted({n.thread for n in nodes})
    end = max(n.end for n in nodes)
    width, row, left = 1100, 34, 80
    scale = (width - left - 20) / end
    height = row * len(threads) + 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="10"><title>dbt build: nodes by thread</title>']
    for i, thread in enumerate(threads):
        y = 10 + i * row
        out.append(f'<text x="4" y="{y + 20}">{escape(thread)}</text>')
        for n in (n for n in nodes if n.thread == thread):
            x, w = left + n.start * scale, max(n.seconds * scale, 0.5)
            fill = "#4c78a8" if "model" in n.name else "#b0b0b0"
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 6}" fill="{fill}" '
                       f'stroke="white" stroke-width="0.5"><title>{escape(n.name)}: {n.seconds:.2f} s</title></rect>')
            if n.seconds >= min_seconds and w > 40:
                label = escape(n.name.split(".")[-1][: int(w / 5.5)])
                out.append(f'<text x="{x + 2:.1f}" y="{y + 17}" fill="white">{label}</text>')
    axis = 10 + len(threads) * row + 14
    for s in range(0, int(end) + 1, 5):
        out.append(f'<text x="{left + s * scale:.1f}" y="{axis}" text-anchor="middle">{s} s</text>')
    out.append("</svg>")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="a data directory, or a dbt.log file")
    ap.add_argument("--run", type=int, default=-1, help="which run of the log: 0 the first, -1 the last")
    ap.add_argument("--min-seconds", type=float, default=0.5, help="list the nodes that ran at least this long")
    ap.add_argument("--svg", type=Path, help="also draw the threads as a Gantt chart into this file")
    args = ap.parse_args()
    path = args.source / "dbt" / "logs" / "dbt.log" if args.source.is_dir() else args.source
    if not path.exists():
        print(f"no dbt log at {path}: give a data directory a dbt build ran in, or its dbt.log", file=sys.stderr)
        return 2
    nodes, lead = read_run(path.read_text(), args.run)
    by_count, alone = running_counts(nodes)
    print(f"{path} run {args.run}: {len(nodes)} nodes, first node {lead:.1f} s after its first log line, "
          f"last ended at {max(n.end for n in nodes):.1f} s")
    for n in nodes:
        if n.seconds >= args.min_seconds:
            print(f"  {n.start:6.1f} {n.end:6.1f} {n.seconds:6.2f} s  {n.thread:9s} {n.name}")
    print("seconds with k nodes running: " + ", ".join(f"{k}: {v:.1f}" for k, v in sorted(by_count.items())))
    print("ran alone longest (the dependency chain):")
    for name, seconds in sorted(alone.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {seconds:6.2f} s  {name}")
    if args.svg:
        args.svg.write_text(svg(nodes, args.min_seconds))
        print(f"wrote {args.svg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
