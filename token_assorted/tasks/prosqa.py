"""ProsQA (Coconut, Appendix A): "Is E a A or B?" over a random DAG of "is a" facts.

A graph grows from two seed entities over 28 drawn nodes. Each new node draws Poisson(1.5) parents from
one pool: seed 0's own region (nodes descending from seed 0 only, p .35), seed 1's own region (p .35) or
all nodes (p .3), favouring deeper ones. A node that draws no parent becomes an extra entity, or
is dropped if nothing links to it; that gives the released records' 14-28 nodes and their extra entities.
The question asks about the seed whose own leaves lie farther (the released records never ask about the
other): the right option is one of its farthest own leaves, 3-6 hops away, the wrong one a leaf only the
other seed reaches. The steps are one random shortest path, one fact sentence per hop.

Params sets the size: `nodes` drawn (the graph keeps those that touch an edge), graphs of fewer than `min_nodes`
drawn again, and the answer's distance from `min_hops` to `max_hops`. The defaults are Coconut's.
"""

from __future__ import annotations

import math
import operator
import random
import re
from dataclasses import dataclass
from functools import reduce
from typing import Hashable

from ..errors import ConfigError
from . import base

NAME = "prosqa"
SPLITS = {"train": 17886, "valid": 300, "test": 500}

NAMES = (
    "Alex Bob Carol Davis Eva Fae Gabriel Jack Max Oliver Polly Rex Sally Sam Stella Tom Wren"
).split()
CONCEPTS = (
    "bompus boompus brimpus chorpus dumpus felpus fompus gerpus gorpus grimpus gwompus hilpus impus "
    "jelpus jompus kerpus lempus lorpus numpus quimpus rempus rompus rorpus scrompus shumpus sterpus "
    "storpus terpus timpus tumpus vumpus worpus wumpus yerpus yimpus yumpus zhorpus zumpus"
).split()

MEAN_PARENTS = 1.5

OPTIONS = re.compile(r"Is (?P<entity>\w+) a (?P<options>\w+(?:, \w+)* or \w+)\?\s*$")  # "Is E a A, B or C?"
MAX_OPTIONS = 4
MAX_DRAWS = 10_000  # graphs drawn for one that meets Params, before giving up

# Descent labels are bit masks: bit 0 = descends from seed 0, bit 1 = descends from seed 1.
SEED0_ONLY, SEED1_ONLY = 1, 2


@dataclass
class Params:
    nodes: int = 28  # nodes drawn, the two seeds included
    min_nodes: int = 2  # graphs with fewer nodes (after dropping isolated ones) are drawn again
    min_hops: int = 3  # the answer's distance from the entity asked about
    max_hops: int = 6
    options: int = 2  # the options the question names: the answer and leaves only another entity reaches

    def __post_init__(self):
        if type(self.nodes) is not int or self.nodes < 4:
            raise ConfigError(f"prosqa nodes must be a whole number of at least 4, got {self.nodes!r}")
        if type(self.min_nodes) is not int or not 2 <= self.min_nodes <= self.nodes:
            raise ConfigError(f"prosqa min_nodes must be from 2 to nodes ({self.nodes}), got {self.min_nodes!r}")
        if not (type(self.min_hops) is int and type(self.max_hops) is int and 1 <= self.min_hops <= self.max_hops):
            raise ConfigError(
                f"prosqa needs whole numbers 1 <= min_hops <= max_hops, got {self.min_hops!r} and {self.max_hops!r}"
            )
        if self.max_hops > self.nodes - 2:
            raise ConfigError(f"prosqa max_hops {self.max_hops} needs more than {self.nodes} nodes")
        if type(self.options) is not int or not 2 <= self.options <= MAX_OPTIONS:
            raise ConfigError(f"prosqa options must be a whole number from 2 to {MAX_OPTIONS}, got {self.options!r}")


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: count uniforms until their running product falls below exp(-mean)."""
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def weighted_sample(rng: random.Random, items: list[int], weights: list[float], k: int) -> list[int]:
    """k distinct items, each drawn in proportion to its weight among those still left."""
    items, weights = list(items), list(weights)
    chosen = []
    for _ in range(k):
        index = rng.choices(range(len(items)), weights)[0]
        chosen.append(items.pop(index))
        weights.pop(index)
    return chosen


def grow_dag(rng: random.Random, nodes: int) -> list[tuple[int, int]]:
    """Edges (parent, child) over nodes 0..nodes-1 in the order drawn; nodes 0 and 1 are the seeds."""
    labels = [SEED0_ONLY, SEED1_ONLY]
    depths = [0, 0]
    edges = []
    for node in range(2, nodes):
        candidates = parent_pool(rng, labels)
        weights = [depths[c] * 1.5 + 1 for c in candidates]  # deep parents make chains long enough to ask
        count = min(len(candidates), poisson(rng, MEAN_PARENTS))
        parents = weighted_sample(rng, candidates, weights, count)
        edges += [(parent, node) for parent in parents]
        labels.append(reduce(operator.or_, (labels[p] for p in parents), 0))
        depths.append(1 + max(depths[p] for p in parents) if parents else 0)  # longest chain above
    return edges


def parent_pool(rng: random.Random, labels: list[int]) -> list[int]:
    """Seed 0's own region (p .35), seed 1's own region (p .35), or any node (p .3).

    Nodes outside both regions (extra entities and what descends only from them) are reachable through
    the last pool alone, so few extra entities survive: 2.6 entities per graph, as released.
    """
    draw = rng.random()
    if draw < 0.7:
        region = SEED0_ONLY if draw < 0.35 else SEED1_ONLY
        return [node for node, label in enumerate(labels) if label == region]
    return list(range(len(labels)))


def drop_isolated(edges: list[tuple[int, int]]) -> tuple[int, list[tuple[int, int]]]:
    """Renumber the nodes that touch an edge, keeping their order; returns (node count, edges).

    The seeds, when kept, stay nodes 0 and 1.
    """
    used = sorted({node for edge in edges for node in edge})
    new_index = {node: i for i, node in enumerate(used)}
    return len(used), [(new_index[p], new_index[c]) for p, c in edges]


def distances(children: list[list[int]], source: int) -> dict[int, int]:
    """Shortest hop count from source to every node it reaches (breadth-first)."""
    dist = {source: 0}
    queue = [source]
    for node in queue:
        for child in children[node]:
            if child not in dist:
                dist[child] = dist[node] + 1
                queue.append(child)
    return dist


def own_leaves(children: list[list[int]], reach: dict[int, int], other: dict[int, int]) -> list[int]:
    """Leaves in reach that are not in other, in node order."""
    return sorted(n for n in reach if not children[n] and n not in other)


def shortest_path(
    rng: random.Random, parents: list[list[int]], dist: dict[int, int], target: int
) -> list[int]:
    """One random shortest path from the source of dist to target, walked back from the target."""
    path = [target]
    while dist[path[-1]]:
        steps_back = [p for p in parents[path[-1]] if dist.get(p) == dist[path[-1]] - 1]
        path.append(rng.choice(steps_back))
    return path[::-1]


def adjacency(size: int, edges: list[tuple[int, int]]) -> tuple[list[list[int]], list[list[int]]]:
    """(children, parents) of every node, each list in edge order."""
    children: list[list[int]] = [[] for _ in range(size)]
    parents: list[list[int]] = [[] for _ in range(size)]
    for parent, child in edges:
        children[parent].append(child)
        parents[child].append(parent)
    return children, parents


def choose_question(
    rng: random.Random, children: list[list[int]], params: Params
) -> tuple[int, int, list[int]] | None:
    """(root, target, wrong options): the seed whose own leaves lie farther, one of its farthest own leaves, and
    params.options - 1 leaves that only the other seed reaches; None when the answer's distance is outside
    min_hops..max_hops or the other seed has too few leaves of its own."""
    reach = [distances(children, 0), distances(children, 1)]
    leaves = [own_leaves(children, reach[0], reach[1]), own_leaves(children, reach[1], reach[0])]
    if not leaves[0] or not leaves[1]:
        return None
    farthest = [max(reach[seed][leaf] for leaf in leaves[seed]) for seed in (0, 1)]
    root = rng.randrange(2) if farthest[0] == farthest[1] else int(farthest[1] > farthest[0])
    if not params.min_hops <= farthest[root] <= params.max_hops:
        return None
    target = rng.choice([leaf for leaf in leaves[root] if reach[root][leaf] == farthest[root]])
    if params.options == 2:
        return root, target, [rng.choice(leaves[1 - root])]
    if len(leaves[1 - root]) < params.options - 1:
        return None
    return root, target, rng.sample(leaves[1 - root], params.options - 1)


def name_nodes(rng: random.Random, parents: list[list[int]]) -> list[str]:
    """Parentless nodes get person names, the others concept names, none used twice."""
    entity_count = sum(1 for p in parents if not p)
    names = iter(rng.sample(NAMES, entity_count))
    concepts = iter(rng.sample(CONCEPTS, len(parents) - entity_count))
    return [next(concepts) if p else next(names) for p in parents]


def sample(rng: random.Random, params: Params) -> dict:
    """Draw graphs until one of at least min_nodes nodes yields a question whose answer lies min_hops to
    max_hops away."""
    for _ in range(MAX_DRAWS):
        record = _record_from(rng, grow_dag(rng, params.nodes), params)
        if record is not None:
            return record
    raise ConfigError(
        f"prosqa: no graph of {params.nodes} drawn nodes met min_nodes={params.min_nodes} and the answer "
        f"{params.min_hops}-{params.max_hops} hops away in {MAX_DRAWS:,} draws; change task.params"
    )


def _record_from(rng: random.Random, edges: list[tuple[int, int]], params: Params) -> dict | None:
    if not {0, 1} <= {node for edge in edges for node in edge}:
        return None  # a seed without edges would be dropped
    size, edges = drop_isolated(edges)
    if size < params.min_nodes:
        return None
    children, parents = adjacency(size, edges)
    question = choose_question(rng, children, params)
    if question is None or sum(1 for p in parents if not p) > len(NAMES):
        return None
    root, target, wrong = question
    symbols = name_nodes(rng, parents)

    def fact(parent: int, child: int) -> str:
        subject = f"Every {symbols[parent]}" if parents[parent] else symbols[parent]
        return f"{subject} is a {symbols[child]}."

    facts = [fact(p, c) for p, c in edges]
    rng.shuffle(facts)
    options = [symbols[target], *(symbols[leaf] for leaf in wrong)]
    rng.shuffle(options)
    path = shortest_path(rng, parents, distances(children, root), target)
    return {
        "question": " ".join(facts) + f" Is {symbols[root]} a {', '.join(options[:-1])} or {options[-1]}?",
        "answer": f"{symbols[root]} is a {symbols[target]}.",
        "steps": [fact(a, b) for a, b in zip(path, path[1:])],
        "idx_to_symbol": symbols,
        "edges": [[p, c] for p, c in edges],
        "root": root,
        "target": target,
        "neg_target": wrong[0],
    }


def key(record: dict) -> Hashable:
    return record["question"]


def generate(
    params: Params, sizes: dict[str, int], seed: int, progress: bool = True, train_mix: dict[str, list] | None = None
) -> dict[str, list[dict]]:
    return base.generate_splits(
        sample, key, params, sizes, seed, train_mix, desc=f"generating {NAME}", progress=progress
    )


def score(record: dict, completion: str) -> dict:
    return base.exact_match(record, completion)


def difficulty(params: Params) -> str:
    nodes = f"{params.min_nodes}-{params.nodes}" if params.min_nodes > 2 else f"up to {params.nodes}"
    hops = f"{params.min_hops}-{params.max_hops}" if params.min_hops < params.max_hops else f"{params.min_hops}"
    return f"{nodes} nodes, answer {hops} hops away"


def majority_rate(records: list[dict]) -> float | None:
    """Naming always the option at one place of "Is E a A or B?" (the better place): about 1 / options. None where a
    question is not in that form."""
    answers = [_options(record) for record in records]
    if not records or None in answers:
        return None
    places = range(min(len(options) for options in answers))
    return max(sum(options[place] == record["answer"].strip() for options, record in zip(answers, records))
               for place in places) / len(records)


def _options(record: dict) -> list[str] | None:
    """The question's options as answers ("E is a A.", "E is a B."); None for a question not in that form."""
    match = OPTIONS.search(record["question"])
    if not match:
        return None
    return [f"{match['entity']} is a {option}." for option in re.split(r", | or ", match["options"])]


facts = base.stated_facts
