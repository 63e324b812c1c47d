"""Answer extraction and checking for the math tasks, on the hard cases of GSM8K, MATH and MetaMathQA."""

import pytest

from token_assorted.tasks.math_answers import (
    answers_match,
    gsm8k_answer,
    last_boxed,
    metamath_answer,
    normalize,
    numeric_value,
)


@pytest.mark.parametrize(
    "solution, answer",
    [
        ("She pays 2 * 3 = <<2*3=6>>6 dollars.\n#### 6", "6"),
        ("Total: 1234\n#### 1,234", "1234"),
        ("#### -12", "-12"),
        ("#### 3.50", "3.50"),
        ("a #### 5 b\n#### 1,000,000", "1000000"),  # the last mark counts
        ("#### 18\nThe answer is: 18", "18"),  # only the line after the mark
        ("no mark here 42", None),
    ],
)
def test_gsm8k_answer(solution, answer):
    assert gsm8k_answer(solution) == answer


@pytest.mark.parametrize(
    "solution, answer",
    [
        ("So $x = \\boxed{5}$.", "5"),
        ("$\\boxed{\\frac{1}{2}}$", "\\frac{1}{2}"),
        ("first \\boxed{1} then \\boxed{\\dfrac{\\sqrt{3}}{2}}.", "\\dfrac{\\sqrt{3}}{2}"),
        ("$\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("$\\boxed{\\{1,2\\}}$", "\\{1,2\\}"),  # escaped braces are not groups
        ("\\fbox{7}", "7"),
        ("the answer is $\\boxed 5$.", "5"),
        ("$\\boxed{10\\text{ cm}^2}$", "10\\text{ cm}^2"),
        ("\\boxed{unclosed", None),
        ("no box", None),
    ],
)
def test_last_boxed(solution, answer):
    assert last_boxed(solution) == answer


def test_metamath_answer():
    assert metamath_answer("2+2 = 4\n#### 4\nThe answer is: 4") == "4"
    assert metamath_answer("So $\\boxed{\\frac{3}{4}}$.\nThe answer is: \\frac{3}{4}") == "\\frac{3}{4}"
    assert metamath_answer("no answer") is None


@pytest.mark.parametrize(
    "text, normal",
    [
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\tfrac12", "\\frac{1}{2}"),
        ("\\frac{\\sqrt3}2", "\\frac{\\sqrt{3}}{2}"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("90^\\circ", "90"),
        ("90^{\\circ}", "90"),
        ("10\\text{ cm}", "10"),
        ("10 \\text{ inches}^2", "10"),
        ("\\$5.00", "5.00"),
        ("50\\%", "50"),
        ("7.", "7"),
        ("$x = 3$.", "3"),
        ("\\text{(B)}", "(B)"),
        ("0.5", "0.5"),
        (".5", "0.5"),
        ("1,234", "1234"),
        ("1,2", "1,2"),  # a list, not a thousands separator
        ("3/4", "\\frac{3}{4}"),
        ("\\boxed{4}", "4"),
        ("x \\in [2, 5)", "x\\in[2,5)"),
    ],
)
def test_normalize(text, normal):
    assert normalize(text) == normal


@pytest.mark.parametrize(
    "predicted, gold",
    [
        ("1,234", "1234"),
        ("1234.0", "1234"),
        ("-7", "-7"),
        ("$18", "18"),
        ("\\$18.00", "18"),
        ("0.5", "\\frac{1}{2}"),
        ("1/2", "\\dfrac{1}{2}"),
        ("\\dfrac{3}{4}", "\\frac34"),
        ("-\\frac{3}{4}", "\\frac{-3}{4}"),
        ("\\frac{6}{8}", "\\frac{3}{4}"),  # equal values
        ("0.3333333", "\\frac{1}{3}"),
        ("45^\\circ", "45"),
        ("5 \\text{ cm}", "5"),
        ("\\left(3, \\frac{\\pi}{2}\\right)", "(3,\\frac{\\pi}{2})"),
        ("\\sqrt2", "\\sqrt{2}"),
        ("x = 4", "4"),
        ("12.", "12"),
        ("\\text{Evelyn}", "\\text{Evelyn}"),
    ],
)
def test_answers_match(predicted, gold):
    assert answers_match(predicted, gold)


@pytest.mark.parametrize(
    "predicted, gold",
    [
        ("1234", "1243"),
        ("1000001", "1000000"),  # integers compare exactly, however large
        ("-7", "7"),
        ("0.33", "\\frac{1}{3}"),
        ("\\frac{1}{2}", "\\frac{1}{3}"),
        ("1,2", "12"),
        ("", "5"),
        ("   ", "5"),
        ("\\sqrt{2}", "\\sqrt{3}"),
        ("(1,2)", "[1,2]"),
        ("5", "x^5"),
    ],
)
def test_answers_differ(predicted, gold):
    assert not answers_match(predicted, gold)


def test_numeric_value():
    from fractions import Fraction

    assert numeric_value("\\dfrac{21}{2}") == Fraction(21, 2)
    assert numeric_value("-\\frac{3}{4}") == Fraction(-3, 4)
    assert numeric_value("2,500") == 2500
    assert numeric_value("\\frac{1}{0}") is None
    assert numeric_value("\\sqrt{2}") is None
