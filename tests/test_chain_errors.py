"""The ProntoQA chain error kinds, on hand-made chains of a real record."""

import json

from token_assorted.evaluation.chain_errors import KINDS, first_error, rule_of, tally


def polly(reference_dir) -> dict:
    record = json.loads((reference_dir / "prontoqa_valid.json").read_text())[1]
    assert record["steps"][0] == "Polly is a dumpus. Each dumpus is a gorpus."  # the record the chains below edit
    return record


def chain(record, step: int, text: str) -> str:
    steps = list(record["steps"])
    steps[step] = text
    return "\n".join(steps) + "\n### False"


def test_each_kind_of_first_wrong_step(reference_dir):
    record = polly(reference_dir)
    made = {
        "right chain": "\n".join(record["steps"]) + "\n### False",
        "skips ahead": chain(record, 0, "Polly is a dumpus. Each dumpus is a grimpus."),  # grimpus: two steps on
        "polarity flipped": chain(record, 4, "Polly is a brimpus. Brimpuses are brown."),
        "other wording": chain(record, 0, "Polly is a dumpus. Every dumpus is a gorpus."),
        "other branch": chain(record, 0, "Polly is a dumpus. Each dumpus is a lempus."),  # stated, off the proof
        "wrong start": chain(record, 0, "Polly is a shumpus. Every shumpus is a wumpus."),
        "other": chain(record, 1, "Polly is a gorpus. Gorpuses are rompuses."),  # unstated, off the proof
    }
    assert list(made) == list(KINDS)
    for kind, completion in made.items():
        assert first_error(record, completion) == kind, kind
    assert first_error(record, "") == "other"  # nothing written
    counts = tally([record] * 3, [made["skips ahead"], made["skips ahead"], made["right chain"]], [True, False, True])
    assert counts["skips ahead"] == (2, 1) and counts["right chain"] == (1, 1) and counts["other"] == (0, 0)


def test_rules_are_read_in_each_wording():
    assert rule_of("Every lorpus is not moderate.") == ("lorpus", True, "moderate")
    assert rule_of("Each tumpus is an impus.") == ("tumpus", False, "impus")
    assert rule_of("Lorpuses are vumpuses.") == ("lorpus", False, "vumpus")
    assert rule_of("Wren is a lorpus.") is None
