"""One exception type for errors a user can act on.

Every command-line entry point catches :class:`LeapError` and prints its message and hint
instead of a traceback, then exits with :attr:`LeapError.exit_code`.
"""

from __future__ import annotations

# The exit codes of every `leap` command (the table in docs/operations.md#exit-codes).
EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found a problem (files quarantined, invalid records), or an unexpected error
EXIT_USAGE = 2  # bad arguments, input or configuration: nothing was done
EXIT_UNAVAILABLE = 3  # a service it needs is not there: the broker down, the warehouse locked by another run
EXIT_FILESYSTEM = 4  # the data directory (LEAP_DATA_DIR) or a file in it cannot be written
EXIT_INTERRUPTED = 130  # Ctrl-C


class LeapError(Exception):
    """An error with a message for the operator and a hint on what to do next."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    @classmethod
    def data_dir(cls, path, exc: OSError) -> LeapError:
        """The data directory (or a file in it) cannot be written: what and why, and what to do."""
        return cls(f"the data directory {path} is not writable: {exc.strerror or exc}"
                   + (f" ({exc.filename})" if getattr(exc, "filename", None) else ""),
                   hint="set LEAP_DATA_DIR to a writable directory (default ./data), or fix its permissions",
                   exit_code=EXIT_FILESYSTEM)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message if not self.hint else f"{self.message} ({self.hint})"
