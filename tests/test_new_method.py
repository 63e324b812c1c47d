"""A method defined and registered here, in the test file alone, trains and is evaluated end to end: adding a method
needs no edit to the package (token_assorted/methods/)."""

import json
from dataclasses import dataclass

import pytest
from conftest import make_config, write_reference_splits
from hydra.errors import ConfigCompositionException

from token_assorted import evaluate, finetune
from token_assorted.config import MethodSettings
from token_assorted.latent import IGNORE, Example
from token_assorted.methods import Method, for_mode, register, unregister


@dataclass
class StrideSettings(MethodSettings):
    stride: int = 2  # keep every stride-th token of the reasoning trace


class Stride(Method):
    """A toy shortened chain of thought: every stride-th trace token, in text."""

    name = "stride"
    Settings = StrideSettings

    def check(self):
        self.at_least("stride", 1)

    def example(self, row, codes, rng, stage, layout):
        prompt, rest = list(row["prompt_ids"]), list(row["reasoning_ids"][:: self.settings.stride]) + list(
            row["solution_ids"])
        return Example(prompt + rest, [IGNORE] * len(prompt) + rest)


TINY = [
    "task=prosqa", "model.hidden_size=32", "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=64",
    "finetune.epochs=1", "finetune.batch_size=8", "finetune.lr=3e-3", "eval.limit=4", "eval.batch_size=4",
    "task.max_new_tokens=16",
]


@pytest.fixture
def stride():
    register(Stride)
    yield Stride
    unregister(Stride.name)


def test_a_method_registered_from_a_test_file_trains_and_evaluates(stride, tmp_path):
    data = write_reference_splits(tmp_path / "data", 24, 8, 4)
    cfg = make_config(*TINY, f"data.dir={data}", f"out_dir={tmp_path / 'out'}", "mode=stride", "mode.stride=3")
    assert cfg.mode.stride == 3
    directory = finetune.run(cfg, progress=False)
    meta = json.loads((directory / "meta.json").read_text())
    assert directory.name == "stride" and meta["mode"] == "stride" and meta["config"]["mode"] == {
        "name": "stride", "stride": 3}
    results = evaluate.run(cfg, progress=False)
    assert results["n"] == 4 and 0.0 <= results["accuracy"] <= 1.0 and results["thought_tokens"] == 0
    # the pipeline takes its setting too, and gives it to this method alone
    assert for_mode(["mode.stride=3"], "stride") == ["mode.stride=3"] and for_mode(["mode.stride=3"], "cot") == []


def test_a_registered_method_refuses_keys_it_does_not_have_and_bad_values(stride):
    with pytest.raises(ConfigCompositionException, match="m_choices"):
        make_config("mode=stride", "mode.m_choices=[0,8]")
    from token_assorted.errors import ConfigError
    from token_assorted.methods import method_for

    with pytest.raises(ConfigError, match="mode.stride must be >= 1"):
        method_for(make_config("mode=stride", "mode.stride=0").mode)
