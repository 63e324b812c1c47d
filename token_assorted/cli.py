"""Turning a `run(cfg)` function into a command-line entry point over conf/config.yaml."""

from __future__ import annotations

from pathlib import Path

import hydra

from . import config  # noqa: F401  (registers the typed schema that conf/config.yaml builds on)
from .errors import reports_errors

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def hydra_main(run):
    """`python -m token_assorted.X key=value ...` composes the config and calls `run(cfg)`."""

    @hydra.main(version_base=None, config_path=CONF_DIR, config_name="config")
    @reports_errors
    def main(cfg) -> None:
        run(cfg)

    return main
