import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import token_assorted.config  # noqa: F401  (registers the schema)
import token_assorted.methods  # noqa: F401  (registers each method's settings)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: starts other processes or runs a whole pipeline; `make test-fast` leaves these out")


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The test models are tiny: one thread runs them fastest, and far faster on a busy 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # so that the commands run in this process keep to it too
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE / "prosqa_valid.json").exists():
        raise FileNotFoundError(f"reference data not found at {REFERENCE}; clone the repo beside shared/")
    return REFERENCE


def write_reference_splits(root: Path, train: int, valid: int, test: int) -> Path:
    """The first train + valid + test reference ProsQA records, laid out under root/prosqa as generate_data does."""
    from token_assorted.records import load_records, write_records
    from token_assorted.io import sha256, write_meta

    records = load_records(REFERENCE / "prosqa_valid.json")
    directory = root / "prosqa"
    splits = {"train": records[:train], "valid": records[train : train + valid]}
    splits["test"] = records[train + valid : train + valid + test]
    for split, rows in splits.items():
        write_records(directory / f"{split}.json", rows)
    write_meta(directory, config={}, seed=0, inputs={s: sha256(directory / f"{s}.json") for s in splits})
    return root


def method(name: str, **settings):
    """A method with its settings, as `mode=<name> mode.<key>=<value> ...` would give it."""
    from token_assorted.methods import method_class

    cls = method_class(name)
    return cls(cls.Settings(name=name, **settings))


def make_config(*overrides: str):
    """The config an entry point would see for these command-line overrides, but for base.use: tests fine-tune from
    model.* unless they set base.use themselves (the default preset's base model is a long run of its own)."""
    if not any(o.lstrip("+").startswith("base.use=") for o in overrides):
        overrides = ("base.use=false", *overrides)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        return compose(config_name="config", overrides=list(overrides))


@pytest.fixture
def config():
    return make_config
