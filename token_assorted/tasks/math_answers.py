"""Reading final answers off math solutions and deciding whether two answers are the same.

    GSM8K      "... #### 1,234"                       -> "1234"
    MATH       "... $\\boxed{\\dfrac{1}{2}}$."          -> "\\dfrac{1}{2}" (the last \\boxed{}, nested braces kept)
    MetaMathQA "... The answer is: 5"                  -> "5"

`answers_match(predicted, gold)` compares two answers after `normalize` (LaTeX spacing, \\left/\\right,
\\dfrac/\\tfrac, degrees, units in \\text{}, dollar signs, trailing periods, "x = 3" -> "3") and, where both
sides are numbers (1,234; -3.50; \\frac{3}{4}; 3/4; 50\\%), by value. One checker serves every math task,
so a model trained on MetaMathQA can be scored on GSM8K and MATH test files alike.
"""

from __future__ import annotations

import re
from fractions import Fraction

GSM8K_MARK = "####"
METAMATH_MARK = "The answer is:"
BOX_COMMANDS = ("\\boxed", "\\fbox")


def gsm8k_answer(solution: str) -> str | None:
    """The text after the last '####', with thousands separators dropped; None if there is no '####'."""
    if GSM8K_MARK not in solution:
        return None
    answer = solution.rsplit(GSM8K_MARK, 1)[1].strip().splitlines()
    return answer[0].strip().replace(",", "") if answer else ""


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The contents of the brace group opening at text[start] == '{', and the index after its '}'."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{" and (index == 0 or text[index - 1] != "\\"):
            depth += 1
        elif text[index] == "}" and text[index - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index], index + 1
    return None


def last_boxed(text: str) -> str | None:
    """The argument of the last \\boxed{...} (or \\fbox{...}, or "\\boxed 5"); None if there is none or it is unclosed."""
    starts = [(text.rfind(command), command) for command in BOX_COMMANDS]
    position, command = max(starts)
    if position < 0:
        return None
    rest = position + len(command)
    if text[rest : rest + 1] == " ":  # "\boxed 5": the argument runs to the next space or '$'
        return re.split(r"[\s$]", text[rest + 1 :], maxsplit=1)[0] or None
    while rest < len(text) and text[rest] != "{":
        if not text[rest].isspace():
            return None
        rest += 1
    group = _braced(text, rest) if rest < len(text) else None
    return group[0] if group else None


def metamath_answer(response: str) -> str | None:
    """The text after MetaMathQA's last "The answer is:"; None if the response lacks it."""
    if METAMATH_MARK not in response:
        return None
    return response.rsplit(METAMATH_MARK, 1)[1].strip()


# --- normalisation -------------------------------------------------------------------------------------------

_SPACING = re.compile(r"\\[,;:! ]|\\quad|\\qquad|~")
_TEXT_UNIT = re.compile(r"\\(?:text|textbf|mbox|mathrm)\{\s*(?:[a-zA-Z ]+?)\s*\}(\^\{?\d\}?)?\s*$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|°|\\degree")
_FRAC_SHORT = re.compile(r"\\frac(\d)(\d)")  # \frac12 -> \frac{1}{2}
_FRAC_HALF_SHORT = re.compile(r"\\frac\{([^{}]*)\}(\d)")  # \frac{a}2 -> \frac{a}{2}
_FRAC_FIRST_SHORT = re.compile(r"\\frac(\d)\{")  # \frac1{b} -> \frac{1}{b}
_SQRT_SHORT = re.compile(r"\\sqrt(\w)")  # \sqrt2 -> \sqrt{2}
_SIMPLE_SLASH = re.compile(r"^(-?\d+)/(\d+)$")
_ASSIGNMENT = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?!=)")


def _strip_wrappers(answer: str) -> str:
    """Remove $...$, a surrounding \\text{...} and a trailing full stop."""
    answer = answer.strip()
    while True:
        before = answer
        answer = answer.strip().rstrip(".").strip()
        if len(answer) >= 2 and answer[0] == "$" and answer[-1] == "$":
            answer = answer.strip("$")
        for command in ("\\text", "\\textbf", "\\mathrm", "\\mbox", "\\boxed"):
            if answer.startswith(command + "{"):
                group = _braced(answer, len(command))
                if group and group[1] == len(answer):
                    answer = group[0]
        if answer == before:
            return answer


def normalize(answer: str) -> str:
    """A canonical string for a math answer: equal answers written differently become equal strings."""
    text = _strip_wrappers(answer)
    text = text.replace("\n", " ")
    text = text.replace("\\left", "").replace("\\right", "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = text.replace("\\displaystyle", "")
    text = _SPACING.sub("", text)
    text = _DEGREES.sub("", text)
    text = text.replace("\\$", "").replace("$", "")
    text = text.replace("\\%", "%").replace("%", "")
    text = _TEXT_UNIT.sub("", text).strip()  # units: "5\text{ cm}", "10\text{ inches}^2"
    text = re.sub(r"\\text\{\s*([^{}]*?)\s*\}", r"\1", text)  # any other \text{...}: keep its words
    text = _ASSIGNMENT.sub("", text)  # "x = 5" -> "5" (a single variable on the left only)
    text = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", text)
    text = _FRAC_FIRST_SHORT.sub(r"\\frac{\1}{", text)
    text = _FRAC_HALF_SHORT.sub(r"\\frac{\1}{\2}", text)
    text = _SQRT_SHORT.sub(r"\\sqrt{\1}", text)
    text = text.replace(" ", "")
    text = _strip_wrappers(text)
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d*)?", text):
        text = text.replace(",", "")  # thousands separators, not a list "1,2"
    if text.startswith("."):
        text = "0" + text
    text = text.replace("{.", "{0.").replace("-.", "-0.")
    slash = _SIMPLE_SLASH.match(text)
    if slash:
        text = f"\\frac{{{slash.group(1)}}}{{{slash.group(2)}}}"
    return text


_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")
_FRACTION = re.compile(r"([-+]?)\\frac\{([-+]?[\d.]+)\}\{([-+]?[\d.]+)\}")


def numeric_value(answer: str) -> Fraction | None:
    """The exact value of an answer that is a plain number or a numeric fraction; None otherwise."""
    text = normalize(answer)
    try:
        if _NUMBER.fullmatch(text):
            return Fraction(text)
        fraction = _FRACTION.fullmatch(text)
        if fraction:
            sign, top, bottom = fraction.groups()
            value = Fraction(top) / Fraction(bottom)
            return -value if sign == "-" else value
    except (ValueError, ZeroDivisionError):
        return None
    return None


def answers_match(predicted: str, gold: str) -> bool:
    """Same answer: equal numbers (integers exactly; otherwise within 1e-6, relative above 1), else equal normal forms."""
    if not predicted or not predicted.strip():
        return False
    left, right = numeric_value(predicted), numeric_value(gold)
    if left is not None and right is not None:
        if left.denominator == 1 and right.denominator == 1:
            return left == right
        return abs(left - right) <= Fraction(1, 10**6) * max(1, abs(right))
    return normalize(predicted) == normalize(gold)
