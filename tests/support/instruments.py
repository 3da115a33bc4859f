"""Instrument directories for tests: the shipped definition with a teacher bank of the real program's
size (105 teacher-reported classroom indicators), pointed at through LEAP_INSTRUMENT_DIR."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from leap.instrument import instrument_dir

COMPONENT_SIZES = {"LF": 27, "LD": 27, "LL": 27, "LC": 24}  # 105 teacher indicators


def write_large_teacher_bank(target: Path) -> Path:
    """Copy the shipped instrument files to ``target`` and replace the teacher items by 105 classroom
    indicators (wordings numbered, scales and cut scores as shipped). Returns ``target``."""
    shutil.copytree(instrument_dir(), target, dirs_exist_ok=True)
    with (target / "items.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["instrument"] != "teacher"]
    teacher, position = [], 0
    for component, size in COMPONENT_SIZES.items():
        for k in range(1, size + 1):
            position += 1
            teacher.append({"instrument": "teacher", "instrument_version": "1.0",
                            "item_id": f"t_{component.lower()}{k:02d}", "component": component,
                            "position": str(position), "response_scale": "freq5", "top_box_min": "3",
                            "wording": f"How often do students in this classroom practise {component} indicator {k}?",
                            "is_classroom_indicator": "true"})
    with (target / "items.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(teacher + rows)
    return target
