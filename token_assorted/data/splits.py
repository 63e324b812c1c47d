"""Generated splits on disk: data/<task>/{train,valid,test}.json with a meta.json that says how they were made."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from omegaconf import OmegaConf

from ..config import DATA_ORIGIN
from ..errors import ConfigError, StaleInputError, remedy
from ..identity import IDENTITY, changes, is_current, made_from, setting_paths
from ..layout import Layout
from ..io import META, read_meta, sha256, write_meta
from ..tasks import get_task
from ..tasks.base import SPLIT_NAMES
from ..records import load_records, write_records


def task_dir(cfg) -> Path:
    return Layout.of(cfg).data()


def task_params(t):
    """The task's generator knobs (`t`: cfg.task), checked against its Params dataclass (a misspelled knob is an
    error)."""
    task = get_task(t.name)
    given = OmegaConf.to_container(t.params, resolve=True)
    check_knobs(task, given, "task.params")
    return task.Params(**given)


def check_knobs(task, given: dict, setting: str) -> None:
    known = {f.name for f in dataclasses.fields(task.Params)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(f"{setting} for '{task.NAME}' has unknown keys {unknown}; known: {sorted(known)}")
    for knob in dataclasses.fields(task.Params):
        if knob.name in given and not fits(given[knob.name], knob.default):
            raise ConfigError(
                f"{setting}.{knob.name} for '{task.NAME}' must be {type(knob.default).__name__}, "
                f"got {given[knob.name]!r}"
            )


def train_mix(t) -> dict[str, list]:
    """task.train_mix (`t`: cfg.task), checked: known knobs of a generated task, each with a list of values that make
    sound Params together with task.params."""
    task, params = get_task(t.name), task_params(t)
    mix = OmegaConf.to_container(t.train_mix, resolve=True)
    if mix and hasattr(task, "source_checksums"):
        raise ConfigError(f"task.train_mix: '{task.NAME}' is read from a data set, it has no difficulty to mix")
    for knob, values in mix.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"task.train_mix.{knob} must be a list of values to draw from, got {values!r}")
        for value in values:
            check_knobs(task, {knob: value}, "task.train_mix")
    for drawn in itertools.product(*mix.values()):  # Params checks each draw with the other knobs
        dataclasses.replace(params, **dict(zip(mix, drawn)))
    return mix


def fits(value, default) -> bool:
    """Whether a knob's value has its default's type (an int where a float goes is fine; None defaults take any)."""
    if default is None or default is dataclasses.MISSING:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, str):
        return isinstance(value, str)
    return True


def check_sizes(task, sizes: dict[str, int]) -> None:
    """Every split needs records; a loaded task also takes -1, all that is left."""
    loaded = hasattr(task, "source_checksums")
    for split, size in sizes.items():
        if size < 1 and not (loaded and size == -1):
            allowed = "at least 1, or -1 for all that is left" if loaded else "at least 1"
            raise ConfigError(f"task.sizes.{split} is {size}; a split needs records: {allowed}")


def identity(cfg, sources: bool = True) -> dict:
    """What the generated files are made from (identity.py): equal identities give byte-identical files. Its settings
    are the task's sizes, knobs and training mix and the seed; its inputs, with `sources`, the checksums of a loaded
    task's source files (read in full)."""
    t = cfg.task
    params = task_params(t)
    made = {"task.name": t.name, "task.sizes": {split: int(t.sizes[split]) for split in SPLIT_NAMES},
            "task.params": dataclasses.asdict(params), "task.train_mix": train_mix(t), "data.seed": cfg.data.seed}
    source_checksums = getattr(get_task(t.name), "source_checksums", None)  # loaded tasks: their files
    return made_from(made, source_checksums(params) if source_checksums and sources else {})


def splits_are_current(cfg) -> bool:
    directory = task_dir(cfg)
    try:
        meta = read_meta(directory)
    except StaleInputError:
        return False
    return is_current(directory, lambda: identity(cfg)) and all(
        (directory / f"{split}.json").exists() and sha256(directory / f"{split}.json") == meta["inputs"].get(split)
        for split in SPLIT_NAMES
    )


def generate(cfg, progress: bool = True) -> dict[str, int]:
    """Generate and write every split; meta.json is written last, so its presence marks a complete set."""
    task = get_task(cfg.task.name)
    missing = [s for s in SPLIT_NAMES if s not in cfg.task.sizes]
    if missing:
        raise ConfigError(f"task.sizes lacks {missing}")
    made = identity(cfg)
    sizes, mix = made["settings"]["task.sizes"], made["settings"]["task.train_mix"]
    check_sizes(task, sizes)
    splits = task.generate(task_params(cfg.task), sizes, seed=cfg.data.seed, progress=progress,
                           **({"train_mix": mix} if mix else {}))
    directory = task_dir(cfg)
    (directory / "meta.json").unlink(missing_ok=True)
    checksums = {}
    for split, records in splits.items():
        path = directory / f"{split}.json"
        write_records(path, records)
        checksums[split] = sha256(path)
    write_meta(directory, config=made["settings"], seed=cfg.data.seed, inputs=checksums, identity=made)
    return {split: len(records) for split, records in splits.items()}


def splits_meta(cfg) -> dict:
    """The generated splits' meta.json, or an error that says which command generates them."""
    try:
        return read_meta(task_dir(cfg))
    except StaleInputError:
        raise ConfigError(f"no generated data in {task_dir(cfg)}: run `{{command}}` first",
                          remedy("generate_data", cfg)) from None


def split_file(cfg, split: str) -> Path:
    """The records a split is read from: `data.test_file` for the test split when set, else the generated file."""
    if split == "test" and cfg.data.test_file:
        return Path(cfg.data.test_file)
    return task_dir(cfg) / f"{split}.json"


def load_split(cfg, split: str) -> list[dict]:
    """Records of a generated split, or of `data.test_file` when that is set and the split is test."""
    path = split_file(cfg, split)
    if split == "test" and cfg.data.test_file:
        return load_records(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist: run `{{command}}` first", remedy("generate_data", cfg))
    check_unchanged(cfg, path, split)
    return load_records(path)


def check_unchanged(cfg, path: Path, split: str) -> None:
    """A split generated under other settings than these (task.sizes, task.params, task.train_mix, data.seed), or
    edited since: the tokenizer and any VQ-VAE were made from what meta.json records."""
    if not (task_dir(cfg) / META).is_file():
        return  # splits put there by hand, with no record of how they were made
    meta = read_meta(task_dir(cfg))
    if (made := meta.get(IDENTITY)) is not None:  # not in a meta.json written by hand, for its checksums alone
        # the later stages need the settings it was made with, not where a loaded task's rows came from
        changed = changes(made, identity(cfg, sources=False), within=("settings",),
                          ignore=setting_paths(DATA_ORIGIN))
        if changed:  # regenerating it there would make every model and VQ-VAE made from it stale
            raise ConfigError(
                f"{task_dir(cfg)} was generated under other settings ({', '.join(changed)}): give the settings it was "
                f"made with to use it, or make splits under these beside it with "
                "`{command}` and give data.dir=DIR to every stage", remedy("generate_data", cfg, "data.dir=DIR"),
            )
    made = meta.get("inputs", {}).get(split)
    if made is not None and made != (now := sha256(path)):
        raise StaleInputError(
            f"{path} has changed since it was generated (checksum {now[:12]}, meta.json says {made[:12]}): "
            "run `{command}` to make it again", remedy("generate_data", cfg),
        )
