"""Tests for kexue.models.expression: the safe executor of generated expressions (technique E6)."""

from __future__ import annotations

import ast
import inspect
import math
import time
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kexue.models.expression as expression_module
from kexue.data import load_math23k, normalise_answer, normalise_equation
from kexue.models.expression import (
    MAX_DEPTH,
    ExpressionError,
    ExpressionLimitError,
    ExpressionMathError,
    ExpressionSyntaxError,
    answers_equal,
    evaluate,
    format_expression,
    parse_expression,
)

SLOTS = (Fraction(3), 2.5)
CALL_CPU_SECONDS = 0.5  # CPU time of one call (measured worst ~20 ms); a hang would never end


def run_safely(text: str) -> None:
    """The fuzz contract: a finite value or a typed error, quickly."""
    start = time.process_time()
    try:
        value = evaluate(text, SLOTS)
    except ExpressionError:
        pass
    else:
        assert isinstance(value, (Fraction, float))
        assert isinstance(value, Fraction) or math.isfinite(value)
    assert time.process_time() - start < CALL_CPU_SECONDS, f"slow on {text[:80]!r}"


# --- exact values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("150*20%/5%-150", Fraction(450)),  # the article's first example
        ("150*(20/100)/(5/100)-150", Fraction(450)),
        ("(3.14*(4+1)**2)-(3.14*4**2)", Fraction(2826, 100)),  # the article's second example
        ("(11-1)*2", Fraction(20)),
        ("1-(1/5)-(1/4)", Fraction(11, 20)),
        ("(1+2)/4", Fraction(3, 4)),
        ("8/4/2", Fraction(1)),
        ("8-4-2", Fraction(2)),
        ("-2^2", Fraction(-4)),
        ("(-2)^2", Fraction(4)),
        ("2^3^2", Fraction(512)),
        ("2**-1", Fraction(1, 2)),
        ("2^-1*4", Fraction(2)),
        ("--3", Fraction(3)),
        ("3--3", Fraction(6)),
        ("50%%", Fraction(1, 200)),
        ("(1+1)%", Fraction(1, 50)),
        ("0.1+0.2", Fraction(3, 10)),
        (".5+3.", Fraction(7, 2)),
        ("［２×３］÷４", Fraction(3, 2)),
        ("（1＋2）×3－1", Fraction(8)),
        ("[1+(2*3)]", Fraction(7)),
        (" 1 +\t2 ", Fraction(3)),
        ("4^0.5", Fraction(2)),
        ("(27/8)^(1/3)", Fraction(3, 2)),
        ("(-8)^(1/3)", Fraction(-2)),
        ("0^0", Fraction(1)),
        ("2^1000", Fraction(2**1000)),
    ],
)
def test_exact_values(text: str, value: Fraction) -> None:
    got = evaluate(text)
    assert isinstance(got, Fraction) and got == value


def test_irrational_power_is_a_float() -> None:
    got = evaluate("2^0.5")
    assert isinstance(got, float) and got == pytest.approx(math.sqrt(2), rel=1e-15)
    assert evaluate("3.14*2^0.5+1") == pytest.approx(3.14 * math.sqrt(2) + 1, rel=1e-15)


def test_slots_are_filled() -> None:
    assert evaluate("N0*(1-N1)", [Fraction(100), Fraction(1, 4)]) == 75
    assert evaluate("N0+N1", [1, 0.5]) == pytest.approx(1.5)
    with pytest.raises(ExpressionSyntaxError, match="N5"):
        evaluate("N5", [1, 2])
    with pytest.raises(TypeError, match="slots"):
        evaluate("N0", ["1"])  # type: ignore[list-item]


@st.composite
def expression_and_value(draw: st.DrawFn, depth: int = 0) -> tuple[str, Fraction | None]:
    """A random expression with its exact value computed independently (None: division by zero)."""
    if depth > 3 or draw(st.booleans()):
        n = draw(st.integers(0, 999))
        if draw(st.booleans()):
            return str(n), Fraction(n)
        d = draw(st.integers(1, 99))
        return f"{n}.{d:02d}", Fraction(n * 100 + d, 100)
    a, va = draw(expression_and_value(depth + 1))
    b, vb = draw(expression_and_value(depth + 1))
    op = draw(st.sampled_from("+-*/"))
    text = f"({a}){op}({b})"
    if va is None or vb is None or (op == "/" and vb == 0):
        return text, None
    value = {"+": va + vb, "-": va - vb, "*": va * vb, "/": va / vb if vb else va}[op]
    return text, value


@given(expression_and_value())
def test_matches_exact_arithmetic(case: tuple[str, Fraction | None]) -> None:
    text, value = case
    if value is None:
        with pytest.raises(ExpressionMathError, match="division by zero"):
            evaluate(text)
    else:
        assert evaluate(text) == value
        assert evaluate(format_expression(parse_expression(text))) == value


# --- typed errors and limits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", ExpressionSyntaxError),
        ("1+", ExpressionSyntaxError),
        ("()", ExpressionSyntaxError),
        ("(1", ExpressionSyntaxError),
        ("1)", ExpressionSyntaxError),
        ("(1]", ExpressionSyntaxError),
        ("2(3)", ExpressionSyntaxError),
        ("1..2", ExpressionSyntaxError),
        ("1 2", ExpressionSyntaxError),
        ("x", ExpressionSyntaxError),
        ("N", ExpressionSyntaxError),
        ("__import__('os').system('true')", ExpressionSyntaxError),
        ("(1).__class__", ExpressionSyntaxError),
        ("1e5", ExpressionSyntaxError),
        ("٣+1", ExpressionSyntaxError),  # non-ASCII digits are not numbers
        ("1/0", ExpressionMathError),
        ("1/(2-2)", ExpressionMathError),
        ("0^-1", ExpressionMathError),
        ("(-8)^0.5", ExpressionMathError),
        ("2^1001", ExpressionLimitError),
        ("9^999^999", ExpressionLimitError),
        ("(2^1000)^5", ExpressionLimitError),
        ("2^0.5^-0.5*10^1000", ExpressionLimitError),
        ("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1), ExpressionLimitError),
        ("-" * (MAX_DEPTH + 1) + "1", ExpressionLimitError),
        ("2^" * (MAX_DEPTH + 1) + "1", ExpressionLimitError),
        ("1+" * 600 + "1", ExpressionLimitError),  # longer than MAX_LENGTH
    ],
)
def test_typed_errors(text: str, error: type[ExpressionError]) -> None:
    with pytest.raises(error):
        evaluate(text)


def test_error_hierarchy_is_value_error() -> None:
    for cls in (ExpressionSyntaxError, ExpressionLimitError, ExpressionMathError):
        assert issubclass(cls, ExpressionError) and issubclass(cls, ValueError)


def test_limits_are_arguments() -> None:
    assert evaluate("(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH) == 1
    assert evaluate("1+" * 400 + "1") == 401  # long chains are flat, not deep
    with pytest.raises(ExpressionLimitError):
        evaluate("((1))", max_depth=1)
    with pytest.raises(ExpressionLimitError):
        evaluate("2^10", max_exponent=9)
    with pytest.raises(ExpressionLimitError):
        evaluate("2^100", max_bits=64)
    with pytest.raises(ExpressionLimitError):
        evaluate("1+1", max_length=2)
    with pytest.raises(ValueError, match="max_depth"):
        evaluate("1", max_depth=0)
    assert evaluate("(" * 100 + "1" + ")" * 100, max_depth=100) == 1  # the largest depth allowed
    with pytest.raises(ValueError, match="max_bits"):
        evaluate("1", max_bits=True)
    with pytest.raises(TypeError, match="expression"):
        evaluate(b"1+1")  # type: ignore[arg-type]


def test_answers_equal_as_the_article() -> None:
    assert answers_equal(Fraction(1, 3), 0.3333333)
    assert answers_equal(Fraction(1, 3), Fraction(333333, 10**6))
    assert not answers_equal(Fraction(1, 3), Fraction(333, 1000))
    assert answers_equal(Fraction(2826, 100), 28.26)
    assert answers_equal(5, Fraction(5))
    assert not answers_equal(float("inf"), float("inf"))
    assert answers_equal(Fraction(1, 3), Fraction(33, 100), decimals=2)
    with pytest.raises(TypeError, match="a must be a number"):
        answers_equal("1", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="decimals"):
        answers_equal(1, 1, decimals=-1)


def test_source_never_evaluates_code() -> None:
    tree = ast.parse(inspect.getsource(expression_module))
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__", "getattr", "setattr", "open"}
    imported = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    imported |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert imported <= {"__future__", "math", "re", "collections", "dataclasses", "fractions"}


# --- fuzzing: 10,000 random and hostile strings -------------------------------------------------

_CHARS = "0123456789.+-*/^%()[]（）［］×÷ NnxeE_'\",:;=<>!@#$&|~`{}\\\n\t一二加减"
_TOKENS = (
    "__import__", "('os')", ".system", "('true')", "eval", "exec", "open", "lambda", "x:", "__class__",
    ".__subclasses__()", "__builtins__", "globals()", "[0]", "{}", ";", "\n", "if", "for", "import",
    "(", ")", "[", "]", "（", "）", "1", "9", "0", "0.5", "99999999", "2", "+", "-", "*", "/", "**",
    "^", "%", ".", ",", "N0", "N1", "N99", "/0", "^9", "^-9", "9^9^9", "1e308", "inf", "nan", "×", "÷",
)  # fmt: skip
_STRUCTURES = ("open", "close", "minus", "tower", "sum", "product", "digits", "mixed")


def _structured(kind: str, n: int) -> str:
    return {
        "open": "(" * n + "1" + ")" * (n // 2),
        "close": "1" + ")" * n,
        "minus": "-" * n + "1",
        "tower": "^".join(["9"] * (n % 40 + 2)),
        "sum": "+".join(["0.1"] * n),
        "product": "*".join([f"{n}.7"] * (n % 200 + 1)) + "/0",
        "digits": "9" * n + "^" + "9" * (n % 5 + 1),
        "mixed": "(" * (n % 80) + "2^" * (n % 70) + "1" + ")" * (n % 90),
    }[kind]


PER_EXAMPLE = 5  # strings per hypothesis example: 2,000 examples x 5 = 10,000 strings
_FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


@settings(_FUZZ, max_examples=800)
@given(st.lists(st.text(alphabet=_CHARS, max_size=60), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_random_characters(texts: list[str]) -> None:
    for text in texts:
        run_safely(text)


@settings(_FUZZ, max_examples=800)
@given(
    st.lists(
        st.lists(st.sampled_from(_TOKENS), max_size=20).map("".join),
        min_size=PER_EXAMPLE,
        max_size=PER_EXAMPLE,
    )
)
def test_fuzz_hostile_tokens(texts: list[str]) -> None:
    for text in texts:
        run_safely(text)


@settings(_FUZZ, max_examples=400)
@given(
    st.lists(
        st.tuples(st.sampled_from(_STRUCTURES), st.integers(0, 1200)),
        min_size=PER_EXAMPLE,
        max_size=PER_EXAMPLE,
    )
)
def test_fuzz_huge_and_deep(cases: list[tuple[str, int]]) -> None:
    for kind, n in cases:
        run_safely(_structured(kind, n))


# --- the Math23K equations ----------------------------------------------------------------------


def test_agrees_with_math23k_train_answers() -> None:
    """The executor's value equals the gold answer for >= 99 % of Math23K train equations."""
    problems = load_math23k("train")
    failures: Counter[str] = Counter()
    for p in problems:
        try:
            value = evaluate(normalise_equation(p.equation))
        except ExpressionError as e:
            failures[f"equation: {type(e).__name__}"] += 1
            continue
        try:
            answer = evaluate(normalise_answer(p.answer))
        except ExpressionError as e:
            failures[f"answer: {type(e).__name__}"] += 1
            continue
        if not answers_equal(value, answer):
            failures["value differs from the gold answer"] += 1
    agree = 1 - sum(failures.values()) / len(problems)
    assert agree >= 0.99, failures
    assert sum(failures.values()) <= 10, (
        failures
    )  # measured: 2 malformed equations + 5 wrong answers
