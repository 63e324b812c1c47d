"""A stage's identity: the settings that shape what it writes and the checksums of the files it reads.

Each stage that writes a folder (train_vqvae, finetune, evaluate) says what its identity would be now, cheaply and
without torch (its module's `identity(cfg)`), and records it in the folder's meta.json when it finishes. The one
record then serves three things:

    reuse    the pipeline skips a stage whose folder records the identity the stage has now (`is_current`)
    resume   a crashed run resumes only from checkpoints stamped with its identity and process layout (resume.py)
    notes    what changed, in words: config.differences of the recorded identity and the one now

A folder written before its stage recorded an identity is not current: the pipeline makes it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from .config import PROCESS_LAYOUT, settings as values_of
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


def is_current(directory, identity_now: Callable[[], dict]) -> bool:
    """`directory` holds a finished stage's output made with the identity `identity_now()` gives, called only where
    the folder records one to compare with (the stage's inputs may not exist yet)."""
    made = recorded(directory)
    return made is not None and made == identity_now()


def to_resume(identity: dict, cfg) -> dict:
    """What a checkpoint must have been made under for a rerun to resume from it: the identity, and the processes
    and devices that hold the training state's shards."""
    return {**identity, "process": values_of(cfg, PROCESS_LAYOUT)}
