"""Task log files for runs made by ``dag.test()`` (``leap airflow run-all``), so the Airflow UI shows them.

A scheduler's executor starts each task in a supervised process that writes the task's log file;
``dag.test()`` runs the tasks in the calling process and writes none, and the UI then says "Log file
not found on worker". :class:`TaskLogFiles` is an Airflow listener that fills the gap: while a task
runs, the process's log records go (as the JSON lines the UI reads) into the file the UI looks up for
that attempt, ``[logging] base_log_folder`` / ``log_filename_template``; a failed task's exception is
written there with its traceback.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk._shared.listeners import hookimpl  # this module is imported only where dag.test() runs

# The platform's own loggers: INFO while a task runs, so its log says what the task did whatever the
# root logger's level (AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING, say).
PLATFORM_LOGGERS = ("leap", "ingestion", "expectations", "dbt_project", "scoring_jobs", "weights", "reports")


class _JsonLines(logging.Formatter):
    """One JSON object per record: the fields of Airflow's ``StructuredLogMessage`` the UI shows."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname.lower(), "logger": record.name, "event": record.getMessage()}
        if record.exc_info:
            line["event"] += "\n" + self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def log_path(base_folder: str | Path, template: str, ti) -> Path:
    """The file the UI reads for ``ti``'s current attempt (Airflow's filename template, rendered)."""
    import jinja2

    return Path(base_folder) / jinja2.Template(template).render(ti=ti, try_number=ti.try_number)


class TaskLogFiles:
    """Listener (``on_task_instance_running`` / ``_success`` / ``_failed``) writing one log file per
    task attempt; register with :func:`register` in the process that calls ``dag.test()``."""

    def __init__(self, base_folder: str | Path, template: str):
        self.base_folder, self.template = Path(base_folder), template
        self.handler: logging.FileHandler | None = None
        self.levels: dict[str, int] = {}

    def _open(self, ti) -> None:
        path = log_path(self.base_folder, self.template, ti)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handler = logging.FileHandler(path, mode="w", encoding="utf-8")
        self.handler.setFormatter(_JsonLines())
        self.handler.setLevel(logging.INFO)
        logging.getLogger().addHandler(self.handler)
        for name in PLATFORM_LOGGERS:
            logger = logging.getLogger(name)
            self.levels[name] = logger.level
            logger.setLevel(logging.INFO)

    def _close(self, state: str, error=None) -> None:
        if self.handler is None:
            return
        record = logging.LogRecord("leap.orchestration", logging.ERROR if error else logging.INFO, __file__, 0,
                                   f"task {state}", None, None)
        if isinstance(error, BaseException):
            record.msg = f"task {state}: {type(error).__name__}: {error}\n" + "".join(
                traceback.format_exception(error)).rstrip()
        elif error:
            record.msg = f"task {state}: {error}"
        self.handler.handle(record)
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        self.handler = None
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)

    @hookimpl
    def on_task_instance_running(self, previous_state, task_instance) -> None:
        self._close("interrupted")  # a task that never reported its end
        self._open(task_instance)

    @hookimpl
    def on_task_instance_success(self, previous_state, task_instance) -> None:
        self._close("succeeded")

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error) -> None:
        self._close("failed", error)


def register() -> TaskLogFiles:
    """Add a :class:`TaskLogFiles` for this Airflow configuration to the task runner's listeners."""
    from airflow.configuration import conf
    from airflow.sdk.listener import get_listener_manager

    listener = TaskLogFiles(conf.get("logging", "base_log_folder"), conf.get("logging", "log_filename_template"))
    get_listener_manager().add_listener(listener)
    return listener
