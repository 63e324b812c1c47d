"""Turning a `run(cfg)` function into a command-line entry point over conf/config.yaml."""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
import re
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from . import config, methods  # registers the typed schema conf/config.yaml builds on, and each method's settings
from .commands import with_run_overrides
from .errors import ToolkitError, reports_errors
from .precision import bf16_where_fast, device_for, set_threads

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
# Hydra's own command-line flags; any other --name is a setting written the argparse way
HYDRA_FLAGS = {
    "--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--resolve", "--package", "-p", "--run", "-r",
    "--multirun", "-m", "--shell-completion", "-sc", "--config-path", "-cp", "--config-name", "-cn", "--config-dir",
    "-cd", "--info", "-i", "--experimental-rerun",
}


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
        guess = difflib.get_close_matches(name, options, n=1)
        hint = f"did you mean {guess[0]}? " if guess else ""
        return f"unknown {group} '{name}'; {hint}choose one of: {', '.join(options)}"
    except OverrideParseException as err:
        return f"cannot parse the overrides: {str(err).splitlines()[0]}"
    except (HydraException, OmegaConfBaseException) as err:
        # Hydra wraps OmegaConf's error; the schema merge above raises it bare
        cause = next((e for e in (err.__cause__, err) if isinstance(e, OmegaConfBaseException)), None)
        if "is not a ListConfig" in f"{err} {cause}":
            key, _, value = next((o for o in overrides if o.startswith(f"{err_key(err)}=")), "=").partition("=")
            return f"{key} is a list: write '{key}=[{value}]' (quoted, for the shell)"
        if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and cause.full_key:
            key = cause.full_key
            if key.startswith("mode.") and (readers := methods.readers(key.removeprefix("mode."))):
                others = [o for o in overrides if not methods.mode_key(o)]
                with setup():  # the mode the run chose, composed without the mode keys
                    chosen = compose(config_name=config_name, overrides=others)
                return f"{key} is not read by mode={chosen.mode.name}; only by mode {', '.join(readers)}"
            # the settings there are under the chosen groups (task=prontoqa has its own task.params keys)
            choices = [o for o in overrides if "=" in o and "." not in o.split("=", 1)[0] and o[0] not in "+~"]
            with setup():
                known = setting_names(compose(config_name=config_name, overrides=choices))
            guess = difflib.get_close_matches(key, [name for name in known if name != key], n=1)
            hint = f"did you mean '{guess[0]}'?" if guess else "see `--cfg job` for the settings there are"
            return f"unknown setting '{key}' ({hint})"
        headline = str(err).splitlines()[0]
        return f"{headline} ({str(cause.msg).splitlines()[0]})" if cause is not None else headline
    return None


@contextlib.contextmanager
def without_machine_probes():
    """Compose without asking torch about the machine (the default trainer.precision's resolver does): the checks
    before a command runs and its --help then answer before torch loads. Their configs only check and show the
    settings (--help shows the precision as the interpolation it is); the run composes them again, probing."""
    OmegaConf.register_new_resolver("bf16_where_fast", lambda accelerator: "32-true", replace=True)
    try:
        yield
    finally:
        OmegaConf.register_new_resolver("bf16_where_fast", bf16_where_fast, replace=True)


def err_key(err) -> str:
    """The key of the override that Hydra could not merge ("Error merging override key=value")."""
    text = str(err)
    return text.split("override ", 1)[1].split("=", 1)[0] if "override " in text else ""


def setting_names(cfg, prefix: str = "") -> list[str]:
    """Every dotted key of a composed config (its leaves and sections)."""
    from omegaconf import DictConfig

    names = []
    for key in cfg.keys():
        name = f"{prefix}{key}"
        names.append(name)
        node = cfg._get_node(key)
        if isinstance(node, DictConfig) and not node._is_missing() and not node._is_none():
            names.extend(setting_names(node, f"{name}."))
    return names


# Hydra's flags that take the next argument as their value
HYDRA_VALUED_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                      "--config-dir", "-cd", "--info", "-i", "--experimental-rerun", "--shell-completion", "-sc"}


def dashed_setting(arguments: list[str]) -> str | None:
    """`--task prosqa`, `--task=prosqa` (the argparse way) or `task prosqa`: the `task=prosqa` it stands for."""
    for index, argument in enumerate(arguments):
        name, _, value = argument.partition("=")
        following = arguments[index + 1] if index + 1 < len(arguments) else "VALUE"
        if argument.startswith("--") and name not in HYDRA_FLAGS:
            return f"{name.removeprefix('--')}={value or following}"
        flag_value = index > 0 and arguments[index - 1] in HYDRA_VALUED_FLAGS
        if "=" not in argument and not argument.startswith("-") and not flag_value:
            return f"{argument}={following}"
    return None


def command_name(run) -> str:
    """`token_assorted.finetune`: the module `run` belongs to, as `python -m` takes it."""
    module = sys.modules[run.__module__]  # "__main__" under `python -m`; its spec keeps the real name
    return module.__spec__.name.removesuffix(".__main__")


def start_line(run, cfg, tasks: list[str], modes: list[str]) -> str:
    """What a command is about to do, in one line: its tasks and methods, preset, model, device, precision, threads."""
    import torch

    command = command_name(run)
    model = cfg.model.path or f"{cfg.model.name} ({cfg.model.arch})"
    threads = torch.get_num_threads()
    return (f"{command}: task{'s' * (len(tasks) > 1)} {', '.join(tasks)}, mode{'s' * (len(modes) > 1)} "
            f"{', '.join(modes)}, preset {cfg.preset}, model {model}, "
            f"{device_for(cfg.trainer.accelerator).type} {cfg.trainer.precision}, {threads} "
            f"thread{'s' if threads > 1 else ''}, out_dir {cfg.out_dir}")


def command_help(run) -> str:
    """What this command does, from its module's docstring, headed by how it is called."""
    return f"python -m {command_name(run)}\n\n{inspect.cleandoc(sys.modules[run.__module__].__doc__ or '')}"


# what every command reads besides its own settings
COMMON_SETTINGS = ("preset", "seed", "threads", "out_dir")


def settings_text(overrides: list[str], reads: tuple[str, ...], config_name: str) -> str:
    """The settings a command reads, as `overrides` set them, each with its one-line description; then the config
    groups."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from .settings_help import settings_help

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name=config_name, overrides=overrides)
    schemas = {"": config.Config}
    if cfg.mode.name in methods.METHODS:
        schemas["mode."] = methods.method_class(cfg.mode.name).Settings
    groups = "task=, model=, mode=, trainer=, preset=, vqvae= (conf/<group>/)"
    return (f"Settings it reads (key=value as now set; change any with key=value):\n"
            f"{settings_help(cfg, reads + COMMON_SETTINGS, schemas)}\n\n"
            f"Config groups: {groups}. Every setting of the one config tree: --cfg job. Hydra's own help: "
            f"--hydra-help.")


def sweeps(overrides: list[str]) -> dict[str, str]:
    """The settings a --multirun sweep varies, each with its first value ('a=1,2' -> {'a': '1'})."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException:
        return {}  # override_problem says what does not parse
    return {text.split("=", 1)[0]: next(override.sweep_string_iterator(), "")
            for override, text in zip(parsed, overrides) if override.is_sweep_override()}


def first_run(overrides: list[str], swept: dict[str, str]) -> list[str]:
    """A sweep's overrides as its first run gets them: each swept setting at its first value."""
    return [f"{key}={swept[key]}" if (key := override.split("=", 1)[0]) in swept else override
            for override in overrides]


def sweep_folder(number: int, overrides: list[str], swept) -> str:
    """A --multirun run's own folder inside out_dir/multirun: its number and its values of the swept settings
    ("1-finetune.lr=0.002"), so that the runs of a sweep neither overwrite each other nor need a name each."""
    named = ",".join(override for override in overrides if override.split("=", 1)[0] in swept)
    return f"{number}-" + re.sub(r"[^\w.=,+-]+", "", named)[:100]


def hydra_main(run, reads: tuple[str, ...], modes=lambda cfg: [cfg.mode.name], config_name: str = "config",
               tasks=lambda cfg: [cfg.task.name]):
    """`python -m token_assorted.X key=value ...` composes the config and calls `run(cfg)`.

    The overrides are checked first, so that a misspelled key or an unknown name is one `error: ...` line and
    exit status 2, like every other problem with the input; --help lists the settings the command reads; Hydra's
    own flags (--cfg, ...) pass through.
    `modes(cfg)`: the modes the command runs, which between them must read every mode.* key it is given;
    `tasks(cfg)` the tasks, for its first line; `reads`: the config sections and keys it reads, which --help lists.
    """

    swept: dict[str, str] = {}  # a --multirun sweep's settings and first values, read off the command line

    @hydra.main(version_base=None, config_path=CONF_DIR, config_name=config_name)
    @reports_errors
    def main(cfg) -> None:
        hydra_config = HydraConfig.get()
        if hydra_config.mode == RunMode.MULTIRUN:
            folder = sweep_folder(hydra_config.job.num, list(hydra_config.overrides.task), swept)
            cfg.out_dir = str(Path(cfg.out_dir) / "multirun" / folder)
        config.check_settings(cfg)
        run_modes = list(modes(cfg))
        methods.check_mode_overrides(list(hydra_config.overrides.task), run_modes)
        set_threads(cfg.threads)
        print(start_line(run, cfg, list(tasks(cfg)), run_modes), flush=True)
        try:
            run(cfg)
        except ToolkitError as err:
            raise with_run_overrides(err) from None

    @functools.wraps(main)
    def checked() -> None:
        arguments = sys.argv[1:]
        if setting := dashed_setting(arguments):
            print(f"error: settings are written key=value, without dashes or spaces: write {setting}", file=sys.stderr)
            sys.exit(2)
        # overrides only: Hydra's flags (--cfg job, --resolve, ...) and their values are Hydra's to check
        overrides = [arg for arg in arguments if "=" in arg and not arg.startswith("-")]
        overrides = [arg for arg in overrides if not arg.lstrip("+~").startswith("hydra")]
        if {"--multirun", "-m"} & set(arguments):
            swept.update(sweeps(overrides))
            overrides = first_run(overrides, swept)  # its names are checked before any run starts
        with without_machine_probes():
            if not {"--hydra-help", "--info", "--shell-completion", "-sc"} & set(arguments):
                if problem := override_problem(overrides, config_name):
                    print(f"error: {problem}", file=sys.stderr)
                    sys.exit(2)
            if {"--help", "-h"} & set(arguments):
                print(command_help(run) + "\n\n" + settings_text(overrides, reads, config_name))
                sys.exit(0)
        main()

    return checked
