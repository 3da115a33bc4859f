"""The layer contracts (.importlinter) hold on the code, and break when a forbidden import is added.

The second test copies the packages into a temporary directory, adds one import a contract forbids,
and runs the same `lint-imports` there: it must fail and name the contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("leap", "ingestion", "simulator", "expectations", "weights", "dbt_project", "scoring_jobs", "intake")
LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(where: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run([LINT, "--config", str(where / ".importlinter"), "--no-cache"], cwd=where, env=env,
                          capture_output=True, text=True)


def copy_packages(dest: Path) -> None:
    shutil.copy(ROOT / ".importlinter", dest / ".importlinter")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("*.pyc", "__pycache__", "target",
                                                                                 "models", "fixtures"))


def test_the_contracts_hold():
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize(("module", "forbidden", "contract"), [
    ("scoring_jobs/rasch/esf.py", "import leap.config", "The Rasch engine is a library"),
    ("ingestion/decode.py", "import expectations.store", "CLI above orchestration above the parts"),
    ("leap/instrument.py", "import ingestion.broker", "CLI above orchestration above the parts"),
    ("ingestion/consumer.py", "import intake.app", "CLI above orchestration above the parts"),
    ("intake/app.py", "import simulator.population", "CLI above orchestration above the parts"),
    ("intake/app.py", "import expectations.store", "The intake service is a front door"),
    ("leap/orchestration/tasks.py", "import intake.access", "Nothing below the leap commands imports"),
])
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, forbidden, contract):
    copy_packages(tmp_path)
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{forbidden}  # added by the test\n")
    proc = lint(tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert f"{contract}" in proc.stdout and "BROKEN" in proc.stdout, proc.stdout
