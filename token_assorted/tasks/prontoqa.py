"""ProntoQA (Saparov & He, 2023) as Coconut uses it: 5-hop true/false questions over a fictional ontology.

With the default Params every item has the same shape as the original generator's output for Coconut's command
(`--ontology fictional --min-hops 5 --max-hops 5 --ordering random`):

- a chain of concepts C0 <- C1 <- ... <- C5; the entity is a C5, and the question asks about C1's property;
- each of C1..C5 has a second, distractor parent Di; C1..C5 and D1..D5 each carry one property;
  C0 carries none (it is the ontology's root);
- a distractor pair Q -> R: the entity is also a Q, Q carries a property, R none;
- a set-aside concept S with the conclusion's property at the opposite polarity ("Every S is not p.");
- the 11 properties come from 11 different families, each negated with probability 1/3 before selection.

The 23 rule sentences are shuffled, then "E is a C5." and "E is a Q." follow in random order, then
"True or false: E is [not] p.", the conclusion itself (answer True) or its negation (False), half and half.
The chain of thought is the 11-sentence proof paired into 6 steps, the rule sentences copied from the context.

Params.hops (1-5) sets the chain's length, C0 <- ... <- Ch, with as many rules and steps fewer per hop left out;
Params.distractors=False leaves out the distractor parents (and their rules and properties), so every concept of
the chain has one parent and the proof never has to choose. Params.set_aside (0-3) is the number of set-aside
concepts: with two or more, the rules that name the asked property mostly state the wrong polarity, so a model that
finds C1's rule by its property word rather than by its subject is wrong more often than not (the default preset
trains on a mix of 1-3 hops and 1-3 set-aside concepts: docs/learning.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Hashable

from ..errors import ConfigError
from .base import commonest_share, exact_match, generate_splits, stated_facts

NAME = "prontoqa"
SPLITS = {"train": 9000, "valid": 200, "test": 800}
MAX_SET_ASIDE = 3
MAX_HOPS = 5  # Coconut's ProntoQA; the hardest setting, not a bound of the generator's names alone

CONCEPTS = [
    "wumpus", "yumpus", "zumpus", "dumpus", "rompus", "numpus", "tumpus", "vumpus", "impus",
    "jompus", "gorpus", "shumpus", "lempus", "sterpus", "grimpus", "lorpus", "brimpus",
]
ENTITIES = ["Fae", "Rex", "Sally", "Max", "Alex", "Sam", "Polly", "Stella", "Wren"]
PROPERTY_FAMILIES = [
    ["blue", "red", "brown", "orange"],
    ["small", "large"],
    ["metallic", "wooden", "luminous", "liquid"],
    ["transparent", "opaque"],
    ["nervous", "happy", "feisty", "shy"],
    ["bright", "dull"],
    ["sweet", "sour", "spicy", "bitter"],
    ["floral", "fruity", "earthy"],
    ["hot", "cold", "temperate"],
    ["kind", "mean", "angry", "amenable", "aggressive"],
    ["melodic", "muffled", "discordant", "loud"],
    ["slow", "moderate", "fast"],
    ["windy", "sunny", "overcast", "rainy", "snowy"],
]

NEGATED = 1 / 3


def _negated_after_selection(keep_if_plain: float, keep_if_negated: float) -> float:
    """P(negated | item kept) for a property drawn negated w.p. 1/3 whose polarity changes the keep odds."""
    negated = NEGATED * keep_if_negated
    return negated / (negated + (1 - NEGATED) * keep_if_plain)


# The original keeps an item only if a random walk from the entity climbs C5 -> C1 and then takes C1's
# property; at each concept it moves up with weight 1 and to the property with weight 0.3 (plain) or
# 0.7 (negated). Conditioning on that walk shifts the negation rates of the chain's properties.
NEGATED_ON_PATH = _negated_after_selection(1 / 1.3, 1 / 1.7)  # C2..C5: 13/47
NEGATED_CONCLUSION = _negated_after_selection(0.3 / 1.3, 0.7 / 1.7)  # C1: 91/193


@dataclass
class Params:
    hops: int = 5  # rules the proof uses: h - 1 "is a" rules up the chain, then C1's property
    distractors: bool = True  # a second parent for every concept of the chain, a dead end for the proof
    set_aside: int = 1  # concepts outside the ontology with the asked property at the other polarity

    def __post_init__(self):
        if type(self.hops) is not int or not 1 <= self.hops <= MAX_HOPS:
            raise ConfigError(f"prontoqa hops must be a whole number from 1 to {MAX_HOPS}, got {self.hops!r}")
        if type(self.set_aside) is not int or not 0 <= self.set_aside <= MAX_SET_ASIDE:
            raise ConfigError(f"prontoqa set_aside must be a whole number from 0 to {MAX_SET_ASIDE}, got {self.set_aside!r}")


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _plural(noun: str) -> str:
    return noun + "es"


def _subject_and_copula(rng: random.Random, concept: str) -> tuple[str, bool]:
    """Half the rules are plural ("Wumpuses are"), the rest "Each wumpus is" or "Every wumpus is"."""
    if rng.random() < 0.5:
        return f"{_plural(concept).capitalize()} are", True
    return f"{rng.choice(['Each', 'Every'])} {concept} is", False


def _isa_rule(rng: random.Random, child: str, parent: str) -> str:
    subject, plural = _subject_and_copula(rng, child)
    return f"{subject} {_plural(parent) if plural else _article(parent) + ' ' + parent}."


def _property_text(prop: str, negated: bool) -> str:
    return f"not {prop}" if negated else prop


def _property_rule(rng: random.Random, concept: str, prop: str, negated: bool) -> str:
    subject, _ = _subject_and_copula(rng, concept)
    return f"{subject} {_property_text(prop, negated)}."


def sample(rng: random.Random, params: Params) -> dict:
    """One item; at the default 5 hops with distractors: 23 shuffled rules, two premises, a query, a 6-step proof
    and the answer."""
    hops = params.hops
    ontology = (2 if params.distractors else 1) * hops + 4
    names = rng.sample(CONCEPTS, ontology + max(0, params.set_aside - 1))
    first_set_aside, q, r = names[:3]
    chain = names[3:hops + 4]  # chain[0] is the root C0, chain[i] is Ci
    distractors = names[hops + 4:ontology]  # distractors[i - 1] is Ci's second parent; none without them
    set_aside = ([first_set_aside] + names[ontology:])[:params.set_aside]
    entity = rng.choice(ENTITIES)

    with_property = chain[1:] + distractors + [q]
    negation_rates = [NEGATED_CONCLUSION] + [NEGATED_ON_PATH] * (hops - 1) + [NEGATED] * (len(distractors) + 1)
    families = rng.sample(PROPERTY_FAMILIES, len(with_property))
    properties = {
        concept: (rng.choice(family), rng.random() < rate)
        for concept, family, rate in zip(with_property, families, negation_rates)
    }

    # the proof climbs C5 -> C4 -> ... -> C1 and ends with C1's property
    path_rules = [_isa_rule(rng, chain[i], chain[i - 1]) for i in range(hops, 1, -1)]
    conclusion_prop, conclusion_negated = properties[chain[1]]
    path_rules.append(_property_rule(rng, chain[1], conclusion_prop, conclusion_negated))

    rules = path_rules + [_isa_rule(rng, chain[1], chain[0])]
    rules += [_isa_rule(rng, chain[i], distractor) for i, distractor in enumerate(distractors, start=1)]
    rules.append(_isa_rule(rng, q, r))
    rules += [_property_rule(rng, c, *properties[c]) for c in with_property if c != chain[1]]
    rules += [_property_rule(rng, concept, conclusion_prop, not conclusion_negated) for concept in set_aside]
    rng.shuffle(rules)

    premises = [f"{entity} is {_article(c)} {c}." for c in (chain[hops], q)]
    rng.shuffle(premises)

    answer = rng.random() < 0.5
    query_negated = conclusion_negated if answer else not conclusion_negated
    query = f"True or false: {entity} is {_property_text(conclusion_prop, query_negated)}."

    facts = [f"{entity} is {_article(c)} {c}." for c in chain[hops:0:-1]]
    steps = [f"{fact} {rule}" for fact, rule in zip(facts, path_rules)]
    steps.append(f"{entity} is {_property_text(conclusion_prop, conclusion_negated)}.")
    return {"question": " ".join(rules + premises + [query]), "steps": steps, "answer": str(answer)}


def key(record: dict) -> Hashable:
    return record["question"]


def generate(
    params: Params, sizes: dict[str, int], seed: int, progress: bool = True, train_mix: dict[str, list] | None = None
) -> dict[str, list[dict]]:
    return generate_splits(
        sample, key, params, sizes, seed, train_mix, desc=f"generating {NAME}", progress=progress
    )


def difficulty(params: Params) -> str:
    return f"{params.hops} hops" + ("" if params.distractors else ", no distractor parents")


def majority_rate(records: list[dict]) -> float:
    """Answering True (or False) to everything: about half, as the generator draws the query's polarity."""
    return commonest_share([record["answer"].strip() for record in records])


score = exact_match
facts = stated_facts
