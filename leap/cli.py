"""The `leap` command line: one entry point, a subcommand per part of the platform.

Each part owns a module with ``register(subparsers)`` that adds its subcommands and sets
``func`` on its parsers; ``func(args)`` returns the process exit code. Modules are imported
lazily per part so that ``leap --help`` stays fast and a part's heavy imports (Airflow, dbt,
Great Expectations) are paid only when that part runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from leap.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, LeapError

# Each module defines register(subparsers).
PARTS: list[str] = [
    "leap.commands.broker_cmd",
    "leap.commands.simulate_cmd",
    "leap.commands.ingest_cmd",
    "leap.commands.status_cmd",
    "leap.commands.dlq_cmd",
    "leap.commands.intake_cmd",
    "leap.commands.validate_cmd",
    "leap.commands.weights_cmd",
    "leap.commands.warehouse_cmd",
    "leap.commands.scoring_cmd",
    "leap.commands.report_cmd",
    "leap.commands.airflow_cmd",
    "leap.commands.demo_cmd",
    "leap.commands.rasch_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leap",
        description="LEAP survey platform: broker, simulator, ingestion, validation, warehouse, scoring.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in PARTS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # kafka-python logs every connection at INFO
        logging.getLogger("kafka").setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        if getattr(args, "uses_data_dir", True):
            _check_data_dir()
        return int(args.func(args) or 0)
    except LeapError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # an unexpected failure: say what it was, keep the traceback for -v
        if args.verbose:
            raise
        known = _data_dir_error(exc)
        if known is not None:
            print(f"error: {known.message}\nhint: {known.hint}", file=sys.stderr)
            return known.exit_code
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: rerun with `leap -v ...` for the full traceback", file=sys.stderr)
        return EXIT_FAILED


def _check_data_dir() -> None:
    """Every command that keeps state checks first that the data directory takes a file (the ones that
    do not, `rasch` and `weights`, set ``uses_data_dir=False``): an unwritable LEAP_DATA_DIR is then one
    clear error, not a NotADirectoryError from the first part that happens to write."""
    import tempfile

    from leap.config import load_settings

    data_dir = load_settings().data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise LeapError.data_dir(data_dir, NotADirectoryError(20, "it is a file, not a directory"))
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise LeapError.data_dir(data_dir, exc) from None


def _data_dir_error(exc: Exception) -> LeapError | None:
    """A file-system error on a path inside the data directory, as the data-directory error."""
    from pathlib import Path

    from leap.config import load_settings

    if not isinstance(exc, OSError) or not getattr(exc, "filename", None):
        return None
    try:
        data_dir = load_settings().data_dir
    except LeapError:
        return None
    return LeapError.data_dir(data_dir, exc) if Path(exc.filename).resolve().is_relative_to(data_dir) else None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
