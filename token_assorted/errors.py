"""Errors a user can act on, and the one place that turns them into a message and an exit code."""

from __future__ import annotations

import functools
import sys


class ToolkitError(Exception):
    """A problem with the user's input or configuration: reported in one line, no traceback."""


class DataError(ToolkitError):
    """A bad data file or record. Names the file, the record index and the field where known."""

    def __init__(self, message: str, *, file=None, record: int | None = None, field: str | None = None):
        where = [str(file)] if file is not None else []
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.file, self.record, self.field = file, record, field


class ConfigError(ToolkitError):
    """An unknown name or an inconsistent setting in the configuration."""


class DivergedError(ToolkitError):
    """Training stopped because its loss was no longer a finite number."""


class StaleInputError(ToolkitError):
    """An input made by an earlier stage no longer matches what this stage expects."""


def reports_errors(main):
    """Run an entry point so that a ToolkitError prints `error: ...` and exits with status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except ToolkitError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
