"""Turning a `run(cfg)` function into a command-line entry point over conf/config.yaml."""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from . import config, methods  # registers the typed schema conf/config.yaml builds on, and each method's settings
from .commands import with_run_overrides
from .errors import ToolkitError, reports_errors

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def override_problem(overrides: list[str], config_name: str = "config") -> str | None:
    """Why `overrides` do not compose into a valid config, in one line (an unknown name, a misspelled key, a
    value of the wrong type); None if they do."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    # inside a running app (the pipeline checking its tasks and methods) Hydra is already set up
    def setup():
        return contextlib.nullcontext() if GlobalHydra.instance().is_initialized() else initialize_config_dir(
            config_dir=CONF_DIR, version_base=None)

    try:
        with setup():
            composed = compose(config_name=config_name, overrides=overrides)
        if any(override.startswith("+") for override in overrides):
            # `+key=value` may add any key; only those the schema has (or inside a free dict, task.params) count.
            # The mode section has its method's schema already
            OmegaConf.merge(OmegaConf.structured(config.Config), {**OmegaConf.to_container(composed), "mode": {}})
    except MissingConfigException as err:
        group, _, name = str(err.missing_cfg_file).partition("/")
        options = [option for option in err.options or [] if (group, option) != ("mode", methods.EVERY)]
        return f"unknown {group} '{name}'; choose one of: {', '.join(options)}"
    except OverrideParseException as err:
        return f"cannot parse the overrides: {str(err).splitlines()[0]}"
    except (HydraException, OmegaConfBaseException) as err:
        # Hydra wraps OmegaConf's error; the schema merge above raises it bare
        cause = next((e for e in (err.__cause__, err) if isinstance(e, OmegaConfBaseException)), None)
        if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and cause.full_key:
            key = cause.full_key
            if key.startswith("mode.") and (readers := methods.readers(key.removeprefix("mode."))):
                with setup():  # the mode the run chose, composed without the mode keys
                    chosen = compose(config_name=config_name, overrides=[o for o in overrides if not methods.mode_key(o)])
                return f"{key} is not read by mode={chosen.mode.name}; only by mode {', '.join(readers)}"
            return f"unknown setting '{key}' (see `--cfg job` for the settings there are)"
        headline = str(err).splitlines()[0]
        return f"{headline} ({str(cause.msg).splitlines()[0]})" if cause is not None else headline
    return None


def command_help(run) -> str:
    """What this command does, from its module's docstring, headed by how it is called."""
    module = sys.modules[run.__module__]  # "__main__" under `python -m`; its spec keeps the real name
    return f"python -m {module.__spec__.name.removesuffix('.__main__')}\n\n{inspect.cleandoc(module.__doc__ or '')}"


def hydra_main(run, modes=lambda cfg: [cfg.mode.name], config_name: str = "config"):
    """`python -m token_assorted.X key=value ...` composes the config and calls `run(cfg)`.

    The overrides are checked first, so that a misspelled key or an unknown name is one `error: ...` line and
    exit status 2, like every other problem with the input; Hydra's own flags (--help, --cfg, ...) pass through.
    `modes(cfg)`: the modes the command runs, which between them must read every mode.* key it is given.
    """

    @hydra.main(version_base=None, config_path=CONF_DIR, config_name=config_name)
    @reports_errors
    def main(cfg) -> None:
        config.check_settings(cfg)
        methods.check_mode_overrides(list(HydraConfig.get().overrides.task), modes(cfg))
        try:
            run(cfg)
        except ToolkitError as err:
            raise with_run_overrides(err) from None

    @functools.wraps(main)
    def checked() -> None:
        arguments = sys.argv[1:]
        if {"--help", "-h"} & set(arguments):
            print(command_help(run) + "\n")  # then Hydra's help: the commands, config groups and settings
        if not {"--help", "-h", "--hydra-help", "--info", "--shell-completion", "-sc"} & set(arguments):
            # overrides only: Hydra's flags (--cfg job, --resolve, ...) and their values are Hydra's to check
            overrides = [arg for arg in arguments if "=" in arg and not arg.startswith("-")]
            problem = override_problem([arg for arg in overrides if not arg.lstrip("+~").startswith("hydra")],
                                       config_name)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                sys.exit(2)
        main()

    return checked
