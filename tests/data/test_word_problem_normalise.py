"""Tests for kexue.data.word_problem_normalise: the article's normalisation, bracket removal, slots (E6)."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue.data import WordProblem, load_ape210k, load_math23k
from kexue.data.word_problem_normalise import (
    NormalisationReport,
    NormalisedProblem,
    SlottedProblem,
    literal_constants,
    normalise_answer,
    normalise_equation,
    normalise_problems,
    normalise_text,
    remove_redundant_brackets,
    slot_numbers,
)
from kexue.models.expression import (
    ExpressionMathError,
    answers_equal,
    evaluate,
    evaluate_node,
    parse_expression,
)


@pytest.fixture(scope="module")
def ape210k() -> NormalisationReport:
    return normalise_problems(load_ape210k())


@pytest.fixture(scope="module")
def math23k_test() -> NormalisationReport:
    return normalise_problems(load_math23k("test"))


# --- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("equation", "value"),
    [
        ("x=150*20%/5%-150", Fraction(450)),  # the article's example
        ("x=3(1/2)", Fraction(7, 2)),  # mixed number
        ("x=1(5/6)*6", Fraction(11)),
        ("x=3:4", Fraction(3, 4)),  # ratio
        ("x=3：4", Fraction(3, 4)),  # full-width ratio
        ("x=1-(1/5)-(1/4)", Fraction(11, 20)),  # fractions
        ("X = [1+2]×3", Fraction(9)),
        ("x=（1＋2）÷２", Fraction(3, 2)),
        ("x=(1+2)%", Fraction(3, 100)),  # % after a bracket
        ("x=2**3", Fraction(8)),
        ("(60*45)/100", Fraction(27)),  # Ape210K items without "x="
        ("x=260/(1-25%*(1/(((1-25%)*80%+25%):(1-20%))))", Fraction(340)),
    ],
)
def test_equation_rules(equation: str, value: Fraction) -> None:
    normal = normalise_equation(equation)
    assert evaluate(normal) == value
    assert not re.search(r"[x%:\[\]]", normal)


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("20", Fraction(20)),
        ("39.76", Fraction(3976, 100)),
        ("(11/20)", Fraction(11, 20)),
        ("93.75%", Fraction(15, 16)),
        ("3((1)/(2))", Fraction(7, 2)),  # Math23K's mixed answers
        ("1(5/6)", Fraction(11, 6)),  # Ape210K's
        ("-2.5", Fraction(-5, 2)),
    ],
)
def test_answer_rules(answer: str, value: Fraction) -> None:
    assert evaluate(normalise_answer(answer)) == value


def test_text_rules() -> None:
    assert normalise_text("全书的(1/6)，还剩2(1/3)千克，比是1：15，共１２本") == (
        "全书的1/6，还剩(2+1/3)千克，比是1:15，共12本"
    )


# --- redundant brackets -------------------------------------------------------------------------


def test_article_bracket_example() -> None:
    short = remove_redundant_brackets("(3.14*(4+1)**2)-(3.14*4**2)")
    assert short == "3.14*(4+1)^2-3.14*4^2"
    assert evaluate(short) == Fraction(2826, 100)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("9-(5-1)", "9-(5-1)"),  # a-(b-c) keeps its brackets
        ("9-(5+1)", "9-(5+1)"),
        ("9/(6*2)", "9/(6*2)"),
        ("9/(6/2)", "9/(6/2)"),
        ("(1+2)*3", "(1+2)*3"),
        ("3*(1-2)", "3*(1-2)"),
        ("(-2)^2", "(-2)^2"),
        ("(2^3)^2", "(2^3)^2"),
        ("2^(1+1)", "2^(1+1)"),
        ("(1+2)%", "(1+2)%"),
        ("-(1+2)", "-(1+2)"),
        ("3*(-2)", "3*(-2)"),
        ("9+(5-1)", "9+5-1"),
        ("(9-5)-1", "9-5-1"),
        ("9-(5*2)", "9-5*2"),
        ("9*(5/2)", "9*5/2"),
        ("(9/5)/2", "9/5/2"),
        ("((1+2))*3", "(1+2)*3"),
        ("(((7)))", "7"),
        ("2^(3^2)", "2^3^2"),
        ("-(2^2)", "-2^2"),
        ("(-2)+3", "-2+3"),
        ("(5%)^2", "5%^2"),
        ("N0*(N1/N2)", "N0*N1/N2"),
        ("1-(1/5)-(1/4)", "1-1/5-1/4"),
        ("x+1", "x+1"),  # does not parse: returned unchanged
        ("1/(1-1)", "1/(1-1)"),  # does not execute: unchanged
    ],
)
def test_bracket_cases(expression: str, expected: str) -> None:
    assert (
        remove_redundant_brackets(expression, (Fraction(2), Fraction(3), Fraction(5))) == expected
    )


@st.composite
def bracketed(draw: st.DrawFn, depth: int = 0) -> str:
    """A random expression with brackets placed at random (many redundant)."""
    if depth > 3 or draw(st.integers(0, 2)) == 0:
        text = draw(st.sampled_from(["1", "2", "3", "7", "0.5", "12", "N0", "N1"]))
    else:
        op = draw(st.sampled_from(["+", "-", "*", "/", "^"]))
        left, right = draw(bracketed(depth + 1)), draw(bracketed(depth + 1))
        if op == "^":  # small exponents only
            right = draw(st.sampled_from(["2", "3", "(-1)", "(1/2)"]))
        text = f"{left}{op}{right}"
    sign = draw(st.sampled_from(["", "", "", "-"]))
    wraps = draw(st.integers(0, 2))
    return (
        "(" * wraps + sign + text + ")" * wraps if wraps else (f"({sign}{text})" if sign else text)
    )


@settings(max_examples=250, deadline=None)
@given(bracketed())
def test_bracket_removal_preserves_the_value_exactly(expression: str) -> None:
    slots = (Fraction(4), Fraction(9, 4))
    try:
        before = evaluate_node(parse_expression(expression), slots)
    except ExpressionMathError:
        return
    short = remove_redundant_brackets(expression, slots)
    after = evaluate(short, slots)
    if isinstance(before, Fraction):
        assert isinstance(after, Fraction) and after == before
    else:
        assert after == pytest.approx(before, rel=1e-12)
    assert len(short) <= len(expression.replace("**", "^"))
    assert remove_redundant_brackets(short, slots) == short  # idempotent


# --- whole data sets ----------------------------------------------------------------------------


def test_ape210k_valid_keeps_all_but_a_few(ape210k: NormalisationReport) -> None:
    assert ape210k.total == 5000
    assert (
        len(ape210k.kept) >= 4995
    )  # measured: 4,999 (one gold answer disagrees with its equation)
    assert sum(ape210k.skipped.values()) == ape210k.total - len(ape210k.kept)
    assert ape210k.mean_length() < ape210k.mean_length(brackets_removed=False)
    for p in ape210k.kept:
        assert answers_equal(evaluate(p.expression), p.answer)


def test_math23k_test_kept_and_shorter(math23k_test: NormalisationReport) -> None:
    assert math23k_test.kept_fraction >= 0.99  # measured: 1.0 (train: 22,155 / 22,162)
    assert math23k_test.mean_length() < math23k_test.mean_length(brackets_removed=False)


def test_malformed_items_are_counted_not_raised() -> None:
    good = WordProblem("1", "有5个苹果，又买了3个", "", "x=5+3", "8")
    items = [
        good,
        WordProblem("2", "…", "", "x=80千米/小时", "80"),
        WordProblem("3", "…", "", "x=1/0", "1"),
        WordProblem("4", "…", "", "x=2+2", "5"),
        WordProblem("5", "…", "", "x=2+2", "四"),
        WordProblem("6", "…", "", "", "1"),
        WordProblem("7", "…", "", "x=2^9999", "1"),
        object(),  # not a problem at all
    ]
    report = normalise_problems(items)  # type: ignore[arg-type]
    assert [p.id for p in report.kept] == ["1"]
    assert report.skipped == {
        "answer_syntax": 1,
        "equation_limit": 1,
        "equation_math": 1,
        "equation_syntax": 1,
        "malformed": 2,
        "mismatch": 1,
    }
    assert report.skipped_ids["mismatch"] == ("4",)
    assert report.total == 8 and report.kept_fraction == pytest.approx(1 / 8)
    assert normalise_problems([]).kept_fraction == 1.0


# --- number slots -------------------------------------------------------------------------------


def test_slots_copy_the_text_numbers(math23k_test: NormalisationReport) -> None:
    slotted = [slot_numbers(p) for p in math23k_test.kept]
    for s in slotted:
        assert not re.search(r"(?<!N)(?<!\d)\d", s.text), s.text  # every text number is a slot
        assert answers_equal(evaluate(s.expression, s.values), s.answer)
        assert all(int(i) < len(s.values) for i in re.findall(r"N(\d+)", s.expression))
    constants = literal_constants(slotted)
    assert constants.most_common(2)[0][0] == "1" and "3.14" in constants
    copied = sum(len(re.findall(r"N\d+", s.expression)) for s in slotted)
    assert copied > 5 * sum(constants.values())  # numbers are mostly copied, not written


def test_slot_example() -> None:
    text = "第一天看了全书的1/6，又看了24页，是前两天的150%"
    answer = Fraction(24) * Fraction(5, 2) / Fraction(5, 6)
    s = slot_numbers(NormalisedProblem("3", text, "", answer, "(24+24*(150/100))/(1-(1/6))"))
    assert isinstance(s, SlottedProblem)
    assert s.numbers == ("1/6", "24", "150%") and s.values == (Fraction(1, 6), 24, Fraction(3, 2))
    assert s.text == "第一天看了全书的N0，又看了N1页，是前两天的N2"
    assert s.expression == "(N1+N1*N2)/(1-N0)"


def test_slot_mismatch_is_a_value_error() -> None:
    wrong = NormalisedProblem("9", "有2个", "2+1", Fraction(5), "2+1")
    with pytest.raises(ValueError, match="lost the answer"):
        slot_numbers(wrong)
