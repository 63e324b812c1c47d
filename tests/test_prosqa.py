"""ProsQA generator: record form, statistics against the released data, soundness, determinism, scoring.

Soundness is judged by a checker that reads only the question text, so it is independent of the
generator's graph; it must accept every released record too.
"""

import json
import math
import random
import re
import statistics
from collections import Counter, defaultdict

import pytest

from token_assorted.tasks import prosqa

FACT = re.compile(r"(?:Every (?P<concept>[a-z]+)|(?P<entity>[A-Z][a-z]+)) is a (?P<object>[a-z]+)\.")
QUERY = re.compile(r"Is (?P<entity>[A-Z][a-z]+) a (?P<first>[a-z]+) or (?P<second>[a-z]+)\?")
SENTENCE = re.compile(r"[^.?]+[.?]")


@pytest.fixture(scope="module")
def reference(reference_dir):
    return json.loads((reference_dir / "prosqa_valid.json").read_text())


@pytest.fixture(scope="module")
def generated():
    sizes = {"train": 800, "valid": 100, "test": 100}
    splits = prosqa.generate(prosqa.Params(), sizes, seed=1234, progress=False)
    return [record for split in splits.values() for record in split]


def shape(value) -> str:
    """A type signature that looks inside lists, e.g. 'list[list[int]]'."""
    if isinstance(value, list):
        return "list[" + "|".join(sorted({shape(item) for item in value})) + "]"
    return type(value).__name__


def parse_question(question: str) -> tuple[list[str], re.Match]:
    sentences = [s.strip() for s in SENTENCE.findall(question)]
    assert " ".join(sentences) == question
    query = QUERY.fullmatch(sentences[-1])
    assert query, sentences[-1]
    return sentences[:-1], query


def subject(fact: re.Match) -> str:
    return fact["concept"] or fact["entity"]


def bfs(children: dict[str, list[str]], source: str) -> dict[str, int]:
    dist = {source: 0}
    queue = [source]
    for node in queue:
        for child in children[node]:
            if child not in dist:
                dist[child] = dist[node] + 1
                queue.append(child)
    return dist


def check_reasoning(record: dict) -> None:
    """Judge a record from its question text alone."""
    facts, query = parse_question(record["question"])
    children = defaultdict(list)
    entities = []
    for fact in map(FACT.fullmatch, facts):
        children[subject(fact)].append(fact["object"])
        if fact["entity"] and fact["entity"] not in entities:
            entities.append(fact["entity"])
    entity = query["entity"]
    answer = re.fullmatch(rf"{entity} is a ([a-z]+)\.", record["answer"])[1]
    assert answer in (query["first"], query["second"]) and query["first"] != query["second"]
    wrong = query["second"] if answer == query["first"] else query["first"]

    dist = bfs(children, entity)
    assert answer in dist and wrong not in dist
    assert not children[answer] and not children[wrong]

    # The answer is a farthest leaf among those the entity reaches and a rival entity (one that
    # reaches the wrong option) does not.
    def is_farthest_own_leaf(rival: str) -> bool:
        rival_reach = bfs(children, rival)
        own = [node for node in dist if not children[node] and node not in rival_reach]
        return answer in own and dist[answer] == max(dist[node] for node in own)

    rivals = [e for e in entities if e != entity and wrong in bfs(children, e)]
    assert any(is_farthest_own_leaf(rival) for rival in rivals)

    at = entity
    for step in record["steps"]:
        assert step in facts
        fact = FACT.fullmatch(step)
        assert subject(fact) == at
        at = fact["object"]
    assert at == answer
    assert len(record["steps"]) == dist[answer]


def check_graph_fields(record: dict) -> None:
    """The graph fields describe exactly the question's facts and options."""
    facts, query = parse_question(record["question"])
    symbols = record["idx_to_symbol"]
    assert len(set(symbols)) == len(symbols)
    has_parent = {child for _, child in record["edges"]}
    assert {node for edge in record["edges"] for node in edge} == set(range(len(symbols)))
    assert all(symbols[n][0].isupper() == (n not in has_parent) for n in range(len(symbols)))
    expected = [
        f"{'Every ' if parent in has_parent else ''}{symbols[parent]} is a {symbols[child]}."
        for parent, child in record["edges"]
    ]
    assert sorted(expected) == sorted(facts)
    assert symbols[record["root"]] == query["entity"]
    assert record["answer"] == f"{symbols[record['root']]} is a {symbols[record['target']]}."
    assert {symbols[record["target"]], symbols[record["neg_target"]]} == {query["first"], query["second"]}


def test_form_matches_reference(generated, reference):
    reference_shapes = {tuple((k, shape(v)) for k, v in r.items()) for r in reference}
    assert len(reference_shapes) == 1
    assert {tuple((k, shape(v)) for k, v in r.items()) for r in generated} == reference_shapes

    vocabulary = {symbol for r in reference for symbol in r["idx_to_symbol"]}
    for record in reference + generated:
        facts, query = parse_question(record["question"])
        assert all(FACT.fullmatch(fact) for fact in facts)
        assert all(FACT.fullmatch(step) for step in record["steps"])
        assert re.fullmatch(rf"{query['entity']} is a [a-z]+\.", record["answer"])
        assert set(record["idx_to_symbol"]) <= vocabulary
    assert len({record["question"] for record in generated}) == len(generated)


def test_statistics_match_reference(generated, reference):
    def node_counts(records):
        return [len(r["idx_to_symbol"]) for r in records]

    def mean_edges(records):
        return statistics.mean(len(r["edges"]) for r in records)

    def path_shares(records):
        counts = Counter(len(r["steps"]) for r in records)
        return {hops: counts[hops] / len(records) for hops in range(1, 10)}

    def mean_entities(records):
        return statistics.mean(len(r["idx_to_symbol"]) - len({c for _, c in r["edges"]}) for r in records)

    ours, theirs = node_counts(generated), node_counts(reference)
    assert max(ours) <= max(theirs) and min(ours) >= min(theirs) - 3
    assert abs(statistics.mean(ours) - statistics.mean(theirs)) < 0.5
    assert abs(mean_edges(generated) - mean_edges(reference)) < 1.5
    hops_theirs = [len(r["steps"]) for r in reference]
    assert all(min(hops_theirs) <= len(r["steps"]) <= max(hops_theirs) for r in generated)
    shares_ours, shares_theirs = path_shares(generated), path_shares(reference)
    for hops in range(1, 10):
        assert abs(shares_ours[hops] - shares_theirs[hops]) < 0.08, (hops, shares_ours, shares_theirs)
    assert abs(mean_entities(generated) - mean_entities(reference)) < 0.25


def test_reference_records_pass_the_checker(reference):
    for record in reference:
        check_reasoning(record)
        check_graph_fields(record)


def test_generated_records_are_sound(generated):
    for record in generated:
        check_reasoning(record)
        check_graph_fields(record)


def test_same_seed_same_records_other_seed_differs():
    sizes = {"train": 20, "valid": 5, "test": 5}

    def make(seed):
        return prosqa.generate(prosqa.Params(), sizes, seed=seed, progress=False)

    first = make(7)
    assert json.dumps(first) == json.dumps(make(7))
    assert [r["question"] for r in first["train"]] != [r["question"] for r in make(8)["train"]]
    params = prosqa.Params()
    assert prosqa.sample(random.Random(3), params) == prosqa.sample(random.Random(3), params)


def test_poisson_sampler_matches_its_distribution():
    rng = random.Random(0)
    draws = [prosqa.poisson(rng, 1.5) for _ in range(20000)]
    assert abs(statistics.mean(draws) - 1.5) < 0.05
    assert abs(statistics.variance(draws) - 1.5) < 0.1
    assert abs(draws.count(0) / len(draws) - math.exp(-1.5)) < 0.015


def test_score(generated):
    record = generated[0]
    _, query = parse_question(record["question"])
    options = {query["first"], query["second"]}
    wrong = (options - {record["answer"].split()[-1].rstrip(".")}).pop()
    chain = "\n".join(record["steps"])
    assert prosqa.score(record, f"{chain}\n### {record['answer']}") == {"correct": True}
    assert prosqa.score(record, f"### {record['answer']}  ")["correct"]
    assert not prosqa.score(record, f"{chain}\n### {query['entity']} is a {wrong}.")["correct"]
    assert not prosqa.score(record, chain)["correct"]
    assert not prosqa.score(record, "")["correct"]


@pytest.mark.parametrize("nodes, min_nodes, min_hops, max_hops", [(16, 12, 3, 3), (14, 10, 1, 2), (20, 16, 3, 4)])
def test_every_size_is_sound_and_deterministic(nodes, min_nodes, min_hops, max_hops):
    params = prosqa.Params(nodes=nodes, min_nodes=min_nodes, min_hops=min_hops, max_hops=max_hops)
    records = prosqa.generate(params, {"train": 150}, seed=5, progress=False)["train"]
    for record in records:
        check_reasoning(record)
        check_graph_fields(record)
        assert min_nodes <= len(record["idx_to_symbol"]) <= nodes
        assert min_hops <= len(record["steps"]) <= max_hops
    assert json.dumps(prosqa.generate(params, {"train": 150}, seed=5, progress=False)["train"]) == json.dumps(records)


def test_a_training_mix_of_distances_leaves_the_test_split_at_its_own():
    params = prosqa.Params(nodes=16, min_nodes=12, min_hops=3, max_hops=3)
    splits = prosqa.generate(params, {"train": 300, "test": 50}, seed=5, progress=False,
                             train_mix={"min_hops": [1], "max_hops": [1, 2, 3]})
    assert {len(r["steps"]) for r in splits["train"]} == {1, 2, 3}
    assert {len(r["steps"]) for r in splits["test"]} == {3}
    for record in splits["train"] + splits["test"]:
        check_reasoning(record)


@pytest.mark.parametrize("knobs, problem", [
    ({"nodes": 3}, "nodes"), ({"min_nodes": 30}, "min_nodes"), ({"min_hops": 4, "max_hops": 3}, "min_hops"),
    ({"nodes": 6, "max_hops": 6}, "max_hops"),
])
def test_impossible_sizes_are_refused(knobs, problem):
    from token_assorted.errors import ConfigError

    with pytest.raises(ConfigError, match=problem):
        prosqa.Params(**knobs)


def test_majority_rate_is_the_better_fixed_option(generated):
    firsts = [parse_question(r["question"])[1]["first"] == r["answer"].split()[-1].rstrip(".") for r in generated]
    share = sum(firsts) / len(firsts)
    assert prosqa.majority_rate(generated) == max(share, 1 - share)


def test_more_options_name_more_leaves_the_entity_does_not_reach():
    params = prosqa.Params(nodes=12, min_hops=1, max_hops=2, options=3)
    records = prosqa.generate(params, {"train": 60}, seed=3, progress=False)["train"]
    places = [re.search(r"Is \w+ a (\w+), (\w+) or (\w+)\?", r["question"]).groups().index(r["answer"].split()[-1][:-1])
              for r in records]
    assert prosqa.majority_rate(records) == max(places.count(place) for place in range(3)) / len(records)
    for record in records:
        facts, query = record["question"].rsplit(". ", 1)
        match = re.fullmatch(r"Is (\w+) a (\w+), (\w+) or (\w+)\?", query)
        assert match, query
        entity, options = match[1], set(match.groups()[1:])
        children = defaultdict(list)
        for fact in (FACT.fullmatch(s.strip()) for s in SENTENCE.findall(facts + ".")):
            children[subject(fact)].append(fact["object"])
        reached = bfs(children, entity)
        answer = record["answer"].split()[-1].rstrip(".")
        assert len(options) == 3 and answer in options and {o for o in options if o in reached} == {answer}
        assert all(not children[o] for o in options)
