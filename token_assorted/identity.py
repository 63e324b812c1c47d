"""A stage's identity: the settings that shape what it writes and the checksums of the files it reads.

Each stage that writes a folder (train_vqvae, finetune, evaluate) says what its identity would be now, cheaply and
without torch (its module's `identity(cfg)`), and records it in the folder's meta.json when it finishes. The one
record then serves four things:

    reuse    the pipeline skips a stage whose folder records the identity the stage has now (`is_current`)
    refusal  a stage reading another's output checks the part of its identity it depends on (`changes`): the
             VQ-VAE's settings and inputs for whatever reads its codes, the fine-tune's settings for evaluate
    resume   a crashed run resumes only from checkpoints stamped with its identity and process layout (resume.py)
    notes    what changed, in words (`changes`)

A folder written before its stage recorded an identity is not current: the pipeline makes it again. A setting added
to the schema since a folder was made reads there as its default, the behaviour it was made with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from .config import PROCESS_LAYOUT, schema_default, settings as values_of
from .io import META

IDENTITY = "identity"


def made_from(settings: dict, inputs: dict) -> dict:
    """An identity, as meta.json reads back (tuples become lists): compared with ==."""
    return json.loads(json.dumps({"settings": settings, "inputs": inputs}))


def recorded(directory) -> dict | None:
    """The identity a finished stage recorded in `directory`; None where there is none."""
    path = Path(directory) / META
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(IDENTITY)


def changes(made: dict, now: dict, within: tuple[str, ...] = ("settings", "inputs"), ignore: tuple[str, ...] = ()
            ) -> list[str]:
    """Where a recorded identity differs from the one now, leaf by leaf in words (`model.hidden_size=64 (now 128)`,
    `train checksum 3f2a9c1b0d4e (now 9a8b7c6d5e4f)`), among the leaves under the dotted prefixes `within` and not
    under those in `ignore` ("settings.vqvae", "inputs.train")."""
    before, after = _leaves(made, within, ignore), _leaves(now, within, ignore)
    for key in after.keys() - before.keys():
        if key.startswith("settings."):  # added to the schema since
            before[key] = schema_default(key.removeprefix("settings."))
    keys = sorted(before.keys() | after.keys(), key=lambda key: (key.startswith("inputs."), key))  # settings first
    return [_described(key, before.get(key), after.get(key)) for key in keys if before.get(key) != after.get(key)]


def setting_paths(keys) -> tuple[str, ...]:
    """Config keys ("task.params.source") as the paths `changes` takes for them ("settings.task.params.source")."""
    return tuple(f"settings.{key}" for key in keys)


def is_current(directory, identity_now: Callable[[], dict], ignore: tuple[str, ...] = ()) -> bool:
    """`directory` holds a finished stage's output made with the identity `identity_now()` gives (but for the parts
    in `ignore`), called only where the folder records one to compare with (the stage's inputs may not exist yet)."""
    made = recorded(directory)
    return made is not None and not changes(made, identity_now(), ignore=ignore)


def to_resume(identity: dict, cfg) -> dict:
    """What a checkpoint must have been made under for a rerun to resume from it: the identity, and the processes
    and devices that hold the training state's shards."""
    return {**identity, "process": values_of(cfg, PROCESS_LAYOUT)}


def _leaves(tree: dict, within: tuple[str, ...], ignore: tuple[str, ...]) -> dict:
    def flat(node, prefix: str) -> dict:
        if not isinstance(node, dict) or not node:
            return {prefix: node}
        return {key: value for name, sub in node.items() for key, value in flat(sub, f"{prefix}.{name}").items()}

    def under(key: str, prefixes: tuple[str, ...]) -> bool:
        return any(key == prefix or key.startswith(prefix + ".") for prefix in prefixes)

    leaves = {key.removeprefix("."): value for key, value in flat(tree, "").items()}
    return {key: value for key, value in leaves.items() if under(key, within) and not under(key, ignore)}


def _described(key: str, before, now) -> str:
    if key.startswith("inputs."):
        def short(checksum):
            return checksum[:12] if isinstance(checksum, str) else checksum
        return f"{key.removeprefix('inputs.')} checksum {short(before)} (now {short(now)})"
    return f"{key.removeprefix('settings.')}={before} (now {now})"
