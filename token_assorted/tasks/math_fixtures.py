"""Arithmetic word problems with worked solutions, written in the raw formats of the math data sets.

The project's own stand-in for GSM8K, MATH, MetaMathQA and GSM8K-Aug in tests and CPU demos: deterministic
per seed, no download. Each problem is a few arithmetic steps; the formats carry the hard cases the answer
checkers must handle (thousands separators, negative numbers, money with cents, fractions in \\frac/\\dfrac).

    GSM8K       {"question", "answer": "... <<6*7=42>>42 ...\\n#### 1,234"}
    MATH        {"problem", "solution": "... $\\boxed{\\dfrac{3}{4}}$.", "level", "type"}
    MetaMathQA  {"query", "response": "...\\n#### 42\\nThe answer is: 42", "type"}
    GSM8K-Aug   "question||<<6*7=42>> <<42+5=47>> #### 47"
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..io import write_text

NAMES = ("Ava", "Ben", "Chloe", "Dev", "Emma", "Finn", "Grace", "Hugo", "Iris", "Jon", "Kira", "Liam")
ITEMS = ("apples", "stickers", "marbles", "pencils", "cookies", "cards", "shells", "stamps")
SYMBOLS = {"+": "+", "-": "-", "*": "\\times", "/": "\\div"}


@dataclass
class Step:
    sentence: str  # what the step finds, e.g. "The bags hold"
    left: Fraction
    op: str  # + - * /
    right: Fraction
    unit: str = ""  # words after the result, e.g. "apples"

    @property
    def value(self) -> Fraction:
        return {"+": self.left + self.right, "-": self.left - self.right, "*": self.left * self.right,
                "/": self.left / self.right}[self.op]


@dataclass
class Problem:
    question: str
    steps: list[Step]
    kind: str  # how the answer is written in MATH: "number" or "fraction"

    @property
    def answer(self) -> Fraction:
        return self.steps[-1].value


def plain(value: Fraction) -> str:
    """A number as GSM8K's calculator notes write it: 42, -7, 3.5; 7/3 where no decimal is exact."""
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    return f"{float(value):.6f}".rstrip("0").rstrip(".")


def with_commas(value: Fraction) -> str:
    """GSM8K's final answers sometimes carry thousands separators: 12,345."""
    return f"{value.numerator:,}" if value.denominator == 1 else plain(value)


def latex(value: Fraction, frac: str = "\\frac") -> str:
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}{frac}{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _shopping(rng: random.Random) -> Problem:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    have, bags, each, given = rng.randint(3, 40), rng.randint(2, 9), rng.randint(2, 12), rng.randint(1, 20)
    question = (f"{name} has {have} {item}. {name} buys {bags} bags with {each} {item} in each bag and then gives "
                f"{given} {item} to a friend. How many {item} does {name} have now?")
    bought = Step("The bags hold", Fraction(bags), "*", Fraction(each), item)
    total = Step(f"Then {name} has", Fraction(have), "+", bought.value, item)
    left = Step(f"After the gift {name} has", total.value, "-", Fraction(given), item)
    return Problem(question, [bought, total, left], "number")


def _factory(rng: random.Random) -> Problem:
    per_day, days, extra = rng.randint(120, 990), rng.randint(5, 30), rng.randint(100, 900)
    question = (f"A factory makes {per_day} toys every day. It works for {days} days and then makes {extra} more "
                "toys on a weekend shift. How many toys does it make in all?")
    weekdays = Step("On working days it makes", Fraction(per_day), "*", Fraction(days), "toys")
    total = Step("With the weekend shift it makes", weekdays.value, "+", Fraction(extra), "toys")
    return Problem(question, [weekdays, total], "number")


def _temperature(rng: random.Random) -> Problem:
    start, drop, hours = rng.randint(1, 9), rng.randint(2, 5), rng.randint(3, 6)
    question = (f"At noon the temperature is {start} degrees. It falls by {drop} degrees every hour for {hours} "
                "hours. What is the temperature then, in degrees?")
    fall = Step("The temperature falls by", Fraction(drop), "*", Fraction(hours), "degrees")
    end = Step("The temperature is then", Fraction(start), "-", fall.value, "degrees")
    return Problem(question, [fall, end], "number")


def _change(rng: random.Random) -> Problem:
    name, count = rng.choice(NAMES), rng.randint(2, 6)
    price = Fraction(rng.randint(3, 19) * 50 + 25 * rng.randint(0, 1), 100)  # $1.50, $2.75, ...
    bill = Fraction(20 if count * price < 20 else 50)
    question = (f"{name} buys {count} notebooks that cost ${plain(price)} each and pays with a ${plain(bill)} bill. "
                "How many dollars of change does " + name + " get?")
    cost = Step("The notebooks cost", Fraction(count), "*", price, "dollars")
    change = Step(f"{name} gets back", bill, "-", cost.value, "dollars")
    return Problem(question, [cost, change], "number")


def _sharing(rng: random.Random) -> Problem:
    name, pies, friends = rng.choice(NAMES), rng.randint(2, 9), rng.randint(2, 7)
    baked = rng.randint(1, 5)
    question = (f"{name} has {pies} pies and bakes {baked} more. {name} shares all the pies equally among "
                f"{friends} friends. How many pies does each friend get? Express your answer as a common fraction.")
    total = Step(f"{name} has", Fraction(pies), "+", Fraction(baked), "pies")
    share = Step("Each friend gets", total.value, "/", Fraction(friends), "pies")
    return Problem(question, [total, share], "fraction")


TEMPLATES = (_shopping, _factory, _temperature, _change, _sharing)


def problems(n: int, seed: int = 0) -> list[Problem]:
    """n distinct problems, the same ones for the same seed."""
    rng, seen, drawn = random.Random(seed), set(), []
    while len(drawn) < n:
        problem = rng.choice(TEMPLATES)(rng)
        if problem.question not in seen:
            seen.add(problem.question)
            drawn.append(problem)
    return drawn


def _equation(step: Step) -> str:
    return f"{plain(step.left)}{step.op}{plain(step.right)}={plain(step.value)}"


def gsm8k_row(problem: Problem) -> dict:
    lines = [f"{s.sentence} {plain(s.left)} {s.op} {plain(s.right)} = <<{_equation(s)}>>{plain(s.value)} {s.unit}."
             for s in problem.steps]
    return {"question": problem.question, "answer": "\n".join(lines) + f"\n#### {with_commas(problem.answer)}"}


def math_row(problem: Problem, index: int) -> dict:
    frac = "\\dfrac" if index % 2 else "\\frac"
    lines = [f"{s.sentence} ${latex(s.left)} {SYMBOLS[s.op]} {latex(s.right)} = {latex(s.value, frac)}$ {s.unit}."
             for s in problem.steps]
    lines[-1] += f" The answer is $\\boxed{{{latex(problem.answer, frac)}}}$."
    return {"problem": problem.question, "solution": "\n".join(lines), "level": "Level 1",
            "type": "Prealgebra" if problem.kind == "fraction" else "Arithmetic"}


def metamathqa_row(problem: Problem, index: int) -> dict:
    if problem.kind == "fraction":
        solution = math_row(problem, index)["solution"]
        return {"query": problem.question, "type": "MATH_AnsAug",
                "response": f"{solution}\nThe answer is: {latex(problem.answer)}"}
    solution = gsm8k_row(problem)["answer"]
    return {"query": problem.question, "type": "GSM_AnsAug",
            "response": f"{solution}\nThe answer is: {plain(problem.answer)}"}


def gsm8k_aug_line(problem: Problem) -> str:
    equations = " ".join(f"<<{_equation(s)}>>" for s in problem.steps)
    return f"{problem.question}||{equations} #### {plain(problem.answer)}"


def jsonl(rows) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def write_fixtures(directory, n: int = 40, seed: int = 0) -> dict[str, Path]:
    """Write n problems in each raw format; returns format name -> file. GSM8K's test file holds other problems."""
    directory = Path(directory)
    drawn = problems(2 * n, seed)
    train, test = drawn[:n], drawn[n:]
    files = {
        "gsm8k": directory / "gsm8k_train.jsonl",
        "gsm8k-test": directory / "gsm8k_test.jsonl",
        "math": directory / "math_train.json",
        "metamathqa": directory / "metamathqa.json",
        "gsm8k-aug": directory / "gsm8k_aug_train.txt",
    }
    write_text(files["gsm8k"], jsonl(gsm8k_row(p) for p in train))
    write_text(files["gsm8k-test"], jsonl(gsm8k_row(p) for p in test))
    write_text(files["math"], json.dumps([math_row(p, i) for i, p in enumerate(train)], indent=1, ensure_ascii=False))
    write_text(files["metamathqa"], json.dumps([metamathqa_row(p, i) for i, p in enumerate(train)], indent=1, ensure_ascii=False))
    write_text(files["gsm8k-aug"], "".join(gsm8k_aug_line(p) + "\n" for p in train))
    return files
