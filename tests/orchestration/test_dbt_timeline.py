"""benchmarks/dbt_timeline.py reads a build's nodes from dbt's own log: which ran when, on which thread, and
which ran alone (the build's dependency chain)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "dbt_timeline.py"
_spec = importlib.util.spec_from_file_location("dbt_timeline", _PATH)
timeline = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = timeline  # dataclasses look their module up
_spec.loader.exec_module(timeline)


def _line(clock: str, thread: str, text: str) -> str:
    return f"{clock} [info ] [{thread} (]: {text}"


LOG = "\n".join([
    "09:00:00.000000 [info ] [MainThread]: Running with dbt=1.11.16",  # an earlier run, not read
    _line("09:00:01.000000", "Thread-1", "1 of 1 START sql table model intermediate.old ........ [RUN]"),
    _line("09:00:09.000000", "Thread-1", "1 of 1 OK created sql table model intermediate.old ... [OK in 8.00s]"),
    "10:00:00.000000 [info ] [MainThread]: Running with dbt=1.11.16",
    _line("10:00:02.000000", "Thread-1", "1 of 3 START sql table model intermediate.a ........ [RUN]"),
    _line("10:00:03.000000", "Thread-2", "2 of 3 START test unique_a_id .......................... [RUN]"),
    _line("10:00:04.000000", "Thread-2", "2 of 3 PASS unique_a_id ............................ [PASS in 1.00s]"),
    _line("10:00:06.000000", "Thread-1", "1 of 3 OK created sql table model intermediate.a ... [OK in 4.00s]"),
    _line("10:00:06.500000", "Thread-2", "3 of 3 START python incremental model intermediate.c ... [RUN]"),
    _line("10:00:08.500000", "Thread-2", "3 of 3 OK created python incremental model intermediate.c  [OK in 2.00s]"),
])


def test_the_nodes_of_a_run_from_its_first_node():
    nodes, lead = timeline.read_run(LOG, -1)
    assert lead == pytest.approx(2.0)
    assert [(n.name, n.thread, n.start, n.end) for n in nodes] == [
        ("sql table model intermediate.a", "Thread-1", 0.0, pytest.approx(4.0)),
        ("test unique_a_id", "Thread-2", pytest.approx(1.0), pytest.approx(2.0)),
        ("python incremental model intermediate.c", "Thread-2", pytest.approx(4.5), pytest.approx(6.5))]
    assert [n.name for n in timeline.read_run(LOG, 0)[0]] == ["sql table model intermediate.old"]


def test_seconds_by_nodes_running_and_alone():
    by_count, alone = timeline.running_counts(timeline.read_run(LOG, -1)[0])
    assert by_count == {1: pytest.approx(5.0), 2: pytest.approx(1.0), 0: pytest.approx(0.5)}
    assert alone == {"sql table model intermediate.a": pytest.approx(3.0),
                     "python incremental model intermediate.c": pytest.approx(2.0)}


def test_the_chart_is_self_contained():
    picture = timeline.svg(timeline.read_run(LOG, -1)[0], 0.5)
    assert picture.startswith("<svg") and "http" not in picture.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert picture.count("<rect") == 3 and "Thread-2" in picture
