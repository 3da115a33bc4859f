"""One exception type for errors a user can act on.

Every command-line entry point catches :class:`LeapError` and prints its message and hint
instead of a traceback, then exits with :attr:`LeapError.exit_code`.
"""

from __future__ import annotations


class LeapError(Exception):
    """An error with a message for the operator and a hint on what to do next."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message if not self.hint else f"{self.message} ({self.hint})"
