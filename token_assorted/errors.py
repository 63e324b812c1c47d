"""Errors a user can act on, and the one place that turns them into a message and an exit code."""

from __future__ import annotations

import functools
import shlex
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Remedy:
    """The stage command that makes a missing or stale input. Library code names it; the command line
    (commands.py) adds the run's own overrides, so that the command writes where the run reads."""

    module: str
    task: str
    mode: str
    preset: str
    settings: tuple[str, ...] = ()

    def given(self) -> list[str]:
        return [f"task={self.task}", *self.settings]

    def command(self, others: list[str] = ()) -> str:
        preset = [] if self.preset == "default" or any(o.startswith("preset=") for o in others) else [
            f"preset={self.preset}"]
        words = [*self.given(), *preset, *others]
        return " ".join([f"python -m token_assorted.{self.module}", *map(shlex.quote, words)])  # as typed in a shell


def remedy(module: str, cfg, *settings: str) -> Remedy:
    """`python -m token_assorted.<module> task=<task> <settings>` for the run of `cfg`."""
    return Remedy(module, cfg.task.name, cfg.mode.name, cfg.preset, settings)


class ToolkitError(Exception):
    """A problem with the user's input or configuration: reported in one line, no traceback. A message that names
    a `remedy` says `{command}` where its command goes."""

    def __init__(self, message: str = "", remedy: Remedy | None = None):
        super().__init__(message)
        self.message, self.remedy = message, remedy
        self.command = remedy.command() if remedy else None  # the command line may set it again, with its overrides

    def __str__(self) -> str:
        return self.message.replace("{command}", self.command) if self.command else self.message


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
