"""The methods, one module each, looked up by name: `mode=<name>` on the command line.

    sol-only, cot                          text.py
    random-replace, fixed, all-replace,    replace.py   Token Assorted: chunks of the trace become latent codes
    curriculum-replace, poisson-replace
    pause                                  pause.py     the related methods
    icot                                   icot.py
    coconut                                coconut.py
    softcot                                softcot.py

A new method is a `Method` subclass (base.py) given to `register`, which also makes its `Settings` the config that
`mode=<name>` selects; nothing else in the package needs to know it.
"""

from __future__ import annotations

import typing
from dataclasses import MISSING, field, fields, make_dataclass

from hydra.core.config_store import ConfigStore

from ..config import MethodSettings
from ..errors import ConfigError
from .base import Method, Prerequisite
from .coconut import Coconut
from .icot import ICoT
from .pause import Pause
from .replace import AllReplace, CurriculumReplace, Fixed, PoissonReplace, RandomReplace
from .softcot import SoftCoT
from .text import CoT, SolOnly

METHODS: dict[str, type[Method]] = {}
RELATED = ("pause", "icot", "coconut", "softcot")
# Names that stand for several methods in pipeline.methods: `all` the methods compared (the paper's table plus the
# related methods), `ablations` Token Assorted's ways of choosing what to replace; `all,ablations` is every method.
GROUPS = {
    "all": ("sol-only", "cot", "random-replace", *RELATED),
    "ablations": ("cot", "random-replace", "all-replace", "curriculum-replace", "poisson-replace", "fixed"),
}
# the mode section of the commands that run several methods, each in a config of its own (conf/every_method.yaml)
EVERY = "every"


def register(method: type[Method]) -> type[Method]:
    """Make `method` known by its name, and its Settings the config `mode=<name>` selects."""
    METHODS[method.name] = method
    store = ConfigStore.instance()
    store.store(group="mode", name=method.name, node=method.Settings(name=method.name))
    store.store(group="mode", name=EVERY, node=every_settings()(name=EVERY))
    return method


def unregister(name: str) -> None:
    """Forget method `name` (a test's own)."""
    METHODS.pop(name, None)
    ConfigStore.instance().store(group="mode", name=EVERY, node=every_settings()(name=EVERY))


def every_settings() -> type:
    """The settings of every method in one schema: where the pipeline takes a mode.* override for whichever of its
    methods reads it (the type and default of a key that several have, from the first)."""
    keys = {}
    for method in METHODS.values():
        types = typing.get_type_hints(method.Settings)
        for f in fields(method.Settings):
            if f.name != "name" and f.name not in keys:
                default = field(default=f.default) if f.default is not MISSING else field(
                    default_factory=f.default_factory)
                keys[f.name] = (f.name, types[f.name], default)
    return make_dataclass("EveryMethodSettings", list(keys.values()), bases=(MethodSettings,))


for _method in (SolOnly, CoT, RandomReplace, AllReplace, CurriculumReplace, PoissonReplace, Fixed, Pause, ICoT,
                Coconut, SoftCoT):
    register(_method)


def method_class(name: str) -> type[Method]:
    if name not in METHODS:
        raise ConfigError(f"unknown mode '{name}'; choose one of: {', '.join(METHODS)}")
    return METHODS[name]


def uses_vqvae(cfg) -> bool:
    """The fine-tune of cfg's method reads the VQ-VAE (Method.uses_vqvae)."""
    return method_class(cfg.mode.name).uses_vqvae(cfg)


def method_for(mode) -> Method:
    """The method a config's mode section (a DictConfig or its Settings) selects, its settings checked."""
    from omegaconf import DictConfig, OmegaConf

    settings = OmegaConf.to_object(mode) if isinstance(mode, DictConfig) else mode
    return method_class(settings.name)(settings)


def prompting_for(checkpoint, device):
    """How evaluation feeds test prompts to a loaded checkpoint (path, meta, model, tokenizer): as the method it
    was trained with says, from its thoughts.json (thoughts/prompting.py)."""
    from ..thoughts.prompting import THOUGHTS_FILE, read_thoughts

    spec, name = read_thoughts(checkpoint.path), checkpoint.meta.get("mode")
    if spec is not None:
        name = spec["mode"]
        if name not in METHODS:
            raise ConfigError(f"{checkpoint.path / THOUGHTS_FILE}: unknown mode '{name}'")
    elif METHODS.get(name) is not None and METHODS[name].prompted:
        raise ConfigError(f"the {name} checkpoint at {checkpoint.path} has no {THOUGHTS_FILE}")
    return METHODS.get(name, Method).prompting(spec, checkpoint, device)


def keys_read(name: str) -> tuple[str, ...]:
    """The mode.* keys a method reads: its Settings' fields (a name no method has reads only `name`)."""
    method = METHODS.get(name)
    return tuple(f.name for f in fields(method.Settings)) if method else ("name",)


def readers(key: str) -> list[str]:
    """The methods whose settings have `key`."""
    return [name for name in METHODS if key != "name" and key in keys_read(name)]


def mode_key(override: str) -> str | None:
    """The key that a `mode.<key>=value` override sets; None for any other override (`mode=cot` included)."""
    path = override.lstrip("+~").split("=", 1)[0]
    return path.removeprefix("mode.") if path.startswith("mode.") else None


def for_mode(overrides: list[str], name: str) -> list[str]:
    """`overrides` without the mode.* keys that method `name` does not read (set for another method of the run)."""
    return [o for o in overrides if (key := mode_key(o)) is None or key in keys_read(name)]


def check_mode_overrides(overrides: list[str], names: list[str]) -> None:
    """Refuse a mode.* override that none of the run's methods reads: it would change nothing, silently."""
    for override in overrides:
        key = mode_key(override)
        if key is None or any(key in keys_read(name) for name in names):
            continue
        run = f"mode={names[0]}" if len(names) == 1 else f"any mode of this run ({', '.join(names)})"
        only = f"; only by mode {', '.join(readers(key))}" if readers(key) else ""
        raise ConfigError(f"mode.{key} is not read by {run}{only}")


def expand(names) -> list[str]:
    """The methods to run, a group name (`all`, `ablations`) standing for its methods, in order, each once."""
    return list(dict.fromkeys(name for group in names for name in GROUPS.get(group, [group])))


__all__ = [
    "GROUPS", "METHODS", "Method", "MethodSettings", "Prerequisite", "check_mode_overrides", "expand", "for_mode",
    "keys_read", "method_class", "method_for", "mode_key", "prompting_for", "readers", "register", "unregister",
    "uses_vqvae",
]
