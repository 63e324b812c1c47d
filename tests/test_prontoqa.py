"""ProntoQA generator against the real records: sentence forms, statistics, soundness, determinism, scoring.

The sentence parser and the reasoner here are written independently of the generator and are run on the
reference records too, so they check the generator rather than restate it.
"""

import json
import math
import re
import statistics
import time
from pathlib import Path

import pytest

from token_assorted.tasks import prontoqa

SEED = 1234
N = 1000

CONCEPT = r"[a-z]+pus"
PROPERTY = r"(?![a-z]+pus(?:es)?\b)[a-z]+"  # fictional concepts end in -pus, adjectives never do
TEMPLATES = {
    "plural isa": rf"(?P<x>[A-Z][a-z]+pus)es are (?P<y>{CONCEPT})es",
    "quantified isa": rf"(?P<quant>Each|Every) (?P<x>{CONCEPT}) is (?P<art>an?) (?P<y>{CONCEPT})",
    "plural property": rf"(?P<x>[A-Z][a-z]+pus)es are (?P<neg>not )?(?P<p>{PROPERTY})",
    "quantified property": rf"(?P<quant>Each|Every) (?P<x>{CONCEPT}) is (?P<neg>not )?(?P<p>{PROPERTY})",
    "fact isa": rf"(?P<e>[A-Z][a-z]+) is (?P<art>an?) (?P<y>{CONCEPT})",
    "fact property": rf"(?P<e>[A-Z][a-z]+) is (?P<neg>not )?(?P<p>{PROPERTY})",
}
RULE_KINDS = {"plural isa", "quantified isa", "plural property", "quantified property"}
QUERY_PREFIX = " True or false: "


def parse(sentence: str) -> dict:
    """The one template a sentence fits, with its slots (concepts singular and lower-case)."""
    fits = [(kind, m) for kind, pattern in TEMPLATES.items() if (m := re.fullmatch(pattern + r"\.", sentence))]
    assert len(fits) == 1, f"{sentence!r} fits {[kind for kind, _ in fits]}"
    kind, m = fits[0]
    slots = {k: v for k, v in m.groupdict().items() if v is not None}
    if "art" in slots:
        assert slots["art"] == ("an" if slots["y"][0] in "aeiou" else "a"), sentence
    if "x" in slots:
        slots["x"] = slots["x"].lower()
    slots["neg"] = "neg" in slots
    return {"kind": kind, **slots}


def split_sentences(text: str) -> list[str]:
    return [s.strip() + "." for s in text.split(".") if s.strip()]


def split_question(question: str) -> tuple[list[str], str]:
    """(context sentences, the query statement "E is [not] p.")."""
    assert question.count(QUERY_PREFIX) == 1, question
    body, query = question.split(QUERY_PREFIX)
    return split_sentences(body), query


def signature(sentence: dict) -> tuple:
    return sentence["kind"], sentence.get("quant"), sentence["neg"]


def derive_answer(question: str) -> str | None:
    """Forward chaining from the entity's facts over the context's rules; None if the query is undecided."""
    sentences, query = split_question(question)
    parents: dict[str, list[str]] = {}
    properties: dict[str, list[tuple[str, bool]]] = {}
    known: list[str] = []
    for s in map(parse, sentences):
        if s["kind"] == "fact isa":
            known.append(s["y"])
        elif s["kind"].endswith("isa"):
            parents.setdefault(s["x"], []).append(s["y"])
        else:
            properties.setdefault(s["x"], []).append((s["p"], s["neg"]))
    for concept in known:  # grows while iterating: a breadth-first closure
        known.extend(parent for parent in parents.get(concept, []) if parent not in known)
    literals = {literal for concept in known for literal in properties.get(concept, [])}
    assert not any((p, not neg) in literals for p, neg in literals), "the context contradicts itself"
    asked = parse(query)
    if (asked["p"], asked["neg"]) in literals:
        return "True"
    if (asked["p"], not asked["neg"]) in literals:
        return "False"
    return None


def negate_query(question: str) -> str:
    body, query = question.split(QUERY_PREFIX)
    entity, rest = query.split(" is ", 1)
    flipped = rest[len("not "):] if rest.startswith("not ") else "not " + rest
    return f"{body}{QUERY_PREFIX}{entity} is {flipped}"


@pytest.fixture(scope="module")
def generated() -> list[dict]:
    return prontoqa.generate(prontoqa.Params(), {"train": N}, SEED, progress=False)["train"]


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> list[dict]:
    return json.loads((reference_dir / "prontoqa_valid.json").read_text())


@pytest.fixture(params=["generated", "reference"])
def records(request) -> list[dict]:
    return request.getfixturevalue(request.param)


def test_generation_is_fast():
    start = time.perf_counter()
    prontoqa.generate(prontoqa.Params(), {"train": N}, SEED + 1, progress=False)
    assert time.perf_counter() - start < 10


def test_form(records):
    for record in records:
        assert isinstance(record["question"], str) and isinstance(record["answer"], str)
        assert record["answer"] in ("True", "False")
        sentences, query = split_question(record["question"])
        assert len(sentences) == 25
        parsed = [parse(s) for s in sentences]
        assert all(s["kind"] in RULE_KINDS for s in parsed[:23])
        premises = parsed[23:]
        assert [s["kind"] for s in premises] == ["fact isa", "fact isa"]
        entity = premises[0]["e"]
        assert premises[1]["e"] == entity
        asked = parse(query)
        assert asked["kind"] == "fact property" and asked["e"] == entity

        steps = record["steps"]
        assert len(steps) == 6
        for step in steps[:5]:
            fact, rule = split_sentences(step)
            assert parse(fact)["kind"] == "fact isa" and parse(rule)["kind"] in RULE_KINDS
        assert [parse(s)["kind"] for s in split_sentences(steps[5])] == ["fact property"]


def test_same_templates_and_vocabulary_as_reference(generated, reference):
    def inventory(records):
        signatures, words = set(), {"concepts": set(), "properties": set(), "entities": set()}
        for record in records:
            sentences, query = split_question(record["question"])
            for s in map(parse, sentences + [query]):
                signatures.add(signature(s))
                words["concepts"].update(s[k] for k in ("x", "y") if k in s)
                words["properties"].update([s["p"]] if "p" in s else [])
                words["entities"].update([s["e"]] if "e" in s else [])
        return signatures, words

    assert inventory(generated) == inventory(reference)


def summary(records: list[dict]) -> dict[str, list[float]]:
    """Per-record values whose means the generator must match."""
    values: dict[str, list[float]] = {}
    for record in records:
        sentences, query = split_question(record["question"])
        rules = [parse(s) for s in sentences[:23]]
        for name, value in {
            "answer is True": record["answer"] == "True",
            "query negated": parse(query)["neg"],
            "conclusion negated": parse(record["steps"][-1])["neg"],
            "share of plural rules": sum(s["kind"].startswith("plural") for s in rules) / len(rules),
            "share of negated rules": sum(s["neg"] for s in rules) / len(rules),
            "question words": len(record["question"].split()),
            "chain words": len(" ".join(record["steps"]).split()),
        }.items():
            values.setdefault(name, []).append(float(value))
    return values


def test_statistics_match_reference(generated, reference):
    ours, theirs = summary(generated), summary(reference)
    for name in theirs:
        a, b = ours[name], theirs[name]
        # four standard errors of the difference of two independent sample means
        tolerance = 4 * math.sqrt(statistics.pvariance(a) / len(a) + statistics.pvariance(b) / len(b))
        assert abs(statistics.mean(a) - statistics.mean(b)) <= tolerance, (
            f"{name}: generated {statistics.mean(a):.3f}, reference {statistics.mean(b):.3f}, tolerance {tolerance:.3f}"
        )


def test_reasoner_derives_the_answer(records):
    for record in records:
        assert derive_answer(record["question"]) == record["answer"]
        flipped = {"True": "False", "False": "True"}[record["answer"]]
        assert derive_answer(negate_query(record["question"])) == flipped


def test_steps_are_a_valid_proof(records):
    for record in records:
        sentences, query = split_question(record["question"])
        context, premises = set(sentences[:23]), sentences[23:]
        current, derived = None, None
        for i, step in enumerate(record["steps"][:5]):
            fact, rule = split_sentences(step)
            assert rule in context
            if current is None:
                assert fact in premises
            else:
                assert parse(fact)["y"] == current
            r = parse(rule)
            assert r["x"] == parse(fact)["y"]
            if i < 4:
                assert r["kind"].endswith("isa")
                current = r["y"]
            else:
                assert r["kind"].endswith("property")
                derived = (r["p"], r["neg"])
        conclusion = parse(record["steps"][5])
        assert (conclusion["p"], conclusion["neg"]) == derived
        assert conclusion["e"] == parse(premises[0])["e"]
        asked = parse(query)
        assert asked["p"] == conclusion["p"]
        assert record["answer"] == str(asked["neg"] == conclusion["neg"])


def test_splits_are_disjoint():
    splits = prontoqa.generate(prontoqa.Params(), {"train": 300, "valid": 50, "test": 50}, SEED, progress=False)
    questions = [prontoqa.key(r) for records in splits.values() for r in records]
    assert [len(records) for records in splits.values()] == [300, 50, 50]
    assert len(set(questions)) == len(questions)


def test_determinism(generated):
    again = prontoqa.generate(prontoqa.Params(), {"train": N}, SEED, progress=False)["train"]
    other = prontoqa.generate(prontoqa.Params(), {"train": N}, SEED + 1, progress=False)["train"]
    assert json.dumps(again) == json.dumps(generated)
    assert json.dumps(other) != json.dumps(generated)


def test_score(generated):
    for record in generated[:50]:
        trace = "\n".join(record["steps"])
        wrong = {"True": "False", "False": "True"}[record["answer"]]
        assert prontoqa.score(record, f"{trace}\n### {record['answer']}")["correct"]
        assert prontoqa.score(record, f"\n### {record['answer']} ")["correct"]
        assert not prontoqa.score(record, f"{trace}\n### {wrong}")["correct"]
        assert not prontoqa.score(record, trace)["correct"]


def check_proof(record: dict, hops: int, distractors: bool) -> None:
    """The question has the rules of `hops` hops (with or without distractor parents), and the steps prove the
    answer: each fact follows, each rule is in the context, h - 1 "is a" rules, then the property."""
    sentences, query = split_question(record["question"])
    rules, premises = sentences[:-2], sentences[-2:]
    assert len(rules) == (4 * hops + 3 if distractors else 2 * hops + 3)
    parsed = [parse(s) for s in rules]
    assert all(s["kind"] in RULE_KINDS for s in parsed)
    parents: dict[str, list[str]] = {}
    for s in parsed:
        if s["kind"].endswith("isa"):
            parents.setdefault(s["x"], []).append(s["y"])
    assert max(map(len, parents.values())) == (2 if distractors else 1)
    assert derive_answer(record["question"]) == record["answer"]
    steps = record["steps"]
    assert len(steps) == hops + 1
    current = None
    for i, step in enumerate(steps[:-1]):
        fact, rule = split_sentences(step)
        assert rule in rules and (fact in premises if current is None else parse(fact)["y"] == current)
        r = parse(rule)
        assert r["x"] == parse(fact)["y"] and r["kind"].endswith("isa" if i < hops - 1 else "property")
        current = r.get("y")
    conclusion, asked = parse(steps[-1]), parse(query)
    assert (conclusion["p"], conclusion["neg"]) == (r["p"], r["neg"]) and asked["p"] == conclusion["p"]
    assert record["answer"] == str(asked["neg"] == conclusion["neg"])


@pytest.mark.parametrize("hops", [1, 2, 3, 5])
@pytest.mark.parametrize("distractors", [True, False])
def test_every_difficulty_is_sound_and_deterministic(hops, distractors):
    params = prontoqa.Params(hops=hops, distractors=distractors)
    records = prontoqa.generate(params, {"train": 200}, SEED, progress=False)["train"]
    for record in records:
        check_proof(record, hops, distractors)
    assert json.dumps(prontoqa.generate(params, {"train": 200}, SEED, progress=False)["train"]) == json.dumps(records)
    assert {r["answer"] for r in records} == {"True", "False"}


def test_the_default_is_coconuts_five_hops(generated):
    for record in generated[:100]:
        check_proof(record, 5, True)


def test_a_training_mix_leaves_valid_and_test_at_the_stated_difficulty():
    params = prontoqa.Params(hops=3)
    mix = {"hops": [1, 2, 3], "distractors": [False, True]}
    splits = prontoqa.generate(params, {"train": 600, "valid": 50, "test": 50}, SEED, progress=False, train_mix=mix)
    drawn = {(len(r["steps"]) - 1, len(split_question(r["question"])[0]) - 2) for r in splits["train"]}
    assert {hops for hops, _ in drawn} == {1, 2, 3}
    assert drawn == {(h, 4 * h + 3) for h in (1, 2, 3)} | {(h, 2 * h + 3) for h in (1, 2, 3)}
    for record in splits["valid"] + splits["test"]:
        check_proof(record, 3, True)
    again = prontoqa.generate(params, {"train": 600, "valid": 50, "test": 50}, SEED, progress=False, train_mix=mix)
    assert json.dumps(again) == json.dumps(splits)
    # valid and test are drawn before train: the same items whatever the training split's size or mix, so that
    # training ablations are scored on the same questions
    other = prontoqa.generate(params, {"train": 900, "valid": 50, "test": 50}, SEED, progress=False)
    assert [other[split] == splits[split] for split in ("train", "valid", "test")] == [False, True, True]
    # and each split is drawn from a stream of its own: another test size leaves train and valid as they were
    fewer = prontoqa.generate(params, {"train": 900, "valid": 50, "test": 20}, SEED, progress=False)
    assert fewer["train"] == other["train"] and fewer["valid"] == other["valid"]
    assert fewer["test"] == other["test"][:20]
    assert not {r["question"] for r in other["train"]} & {r["question"] for r in other["valid"] + other["test"]}


@pytest.mark.parametrize("hops", [0, 6, 2.5])
def test_hops_outside_one_to_five_are_refused(hops):
    from token_assorted.errors import ConfigError

    with pytest.raises(ConfigError, match="hops"):
        prontoqa.Params(hops=hops)
