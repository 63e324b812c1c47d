"""Where a model's ProntoQA chains go wrong: the first step of each greedy chain that differs from the reference
proof, sorted by kind, with how many answers were still right (a chain gone wrong still guesses True or False).

    python -m token_assorted.evaluation.chain_errors RUN_DIR [--records data/prontoqa/valid.json] [--n 200]

RUN_DIR is a fine-tuned model's folder (a base model's too). The kinds, from what the wrong step's rule is:
    right chain          every step as the reference's
    skips ahead          a rule "<concept> is <object>" that the question does not state, whose object lies further
                         along the proof: the model knows the concepts on the way but not which comes next
    polarity flipped     the reference's rule with its "not" added or dropped
    other wording        the reference's rule in another of its wordings ("Every X is a Y." for "Xs are Ys.")
    other branch         a rule the question states, of another branch of the ontology
    wrong start          the chain opens with the entity's other concept
    other                anything else (an unstated rule off the proof, a malformed step)
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

RULE = re.compile(r"^(?:(?:Every|Each) (?P<one>\w+) is|(?P<many>\w+) are) "
                  r"(?P<negated>not )?(?:an? )?(?P<object>\w+)\.$")
KINDS = ("right chain", "skips ahead", "polarity flipped", "other wording", "other branch", "wrong start", "other")


def concept(word: str) -> str:
    """A concept's name however it is written: 'Lorpuses' and 'lorpus' are 'lorpus'."""
    word = word.lower()
    return word[:-2] if word.endswith("uses") else word


def rule_of(sentence: str) -> tuple[str, bool, str] | None:
    """(subject, negated, object) of a rule sentence, the words as concepts; None for any other sentence."""
    match = RULE.match(sentence.strip())
    if not match:
        return None
    return concept(match["one"] or match["many"]), bool(match["negated"]), concept(match["object"])


def sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=\.)\s+", text.strip()) if part]


def first_error(record: dict, completion: str) -> str:
    """The kind of the first step of `completion` that differs from the record's proof (KINDS)."""
    written = [line.strip() for line in completion.split("\n") if line.strip() and not line.startswith("#")]
    stated = set(sentences(record["question"]))
    steps = record["steps"]
    proof_objects = [rule[2] for step in steps if len(sentences(step)) == 2 and (rule := rule_of(sentences(step)[1]))]
    for index, step in enumerate(steps):
        got = written[index] if index < len(written) else ""
        if got == step:
            continue
        want, have = sentences(step), sentences(got)
        if index == 0 and have and want and have[0] != want[0]:
            return "wrong start"
        if len(want) != 2 or len(have) != 2 or have[0] != want[0]:
            return "other"
        rule, reference = rule_of(have[1]), rule_of(want[1])
        if rule is None or reference is None:
            return "other"
        if have[1] in stated:
            return "other wording" if rule == reference else "other branch"
        if (rule[0], rule[2]) == (reference[0], reference[2]):
            return "other wording" if rule[1] == reference[1] else "polarity flipped"
        if rule[0] == reference[0] and rule[2] in proof_objects[index + 1:]:
            return "skips ahead"
        return "other"
    return "right chain"


def tally(records: list[dict], completions: list[str], solved: list[bool]) -> dict[str, tuple[int, int]]:
    """Kind -> (chains of that kind, of them answered right), every kind listed."""
    kinds = [first_error(record, completion) for record, completion in zip(records, completions)]
    counts, right = Counter(kinds), Counter(kind for kind, ok in zip(kinds, solved) if ok)
    return {kind: (counts[kind], right[kind]) for kind in KINDS}


def main(argv: list[str] | None = None) -> None:
    import json

    import torch
    from transformers import AutoModelForCausalLM

    from ..data.tokenizer import load_tokenizer
    from ..records import load_records
    from .harness import evaluate_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--records", default="data/prontoqa/valid.json")
    parser.add_argument("--n", type=int, default=200, help="the first n records")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    records = load_records(args.records)[: args.n]
    model, tokenizer = AutoModelForCausalLM.from_pretrained(args.run_dir).eval(), load_tokenizer(args.run_dir)
    summary, rows = evaluate_records(model, tokenizer, "prontoqa", records, max_new_tokens=128, progress=False,
                                     draw_samples=False)
    counts = tally(records, [row["completion"] for row in rows], [row["solved"] for row in rows])
    print(f"{args.run_dir}: accuracy {100 * summary['accuracy']:.1f} % on {len(records)} records of {args.records}")
    for kind, (count, right) in counts.items():
        print(f"  {kind:<17} {count:>4}  ({right} answered right)")
    print(json.dumps({kind: count for kind, (count, _) in counts.items()}))


if __name__ == "__main__":
    main()
