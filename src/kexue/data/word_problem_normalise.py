r"""The article's normalisation of math word problems (Math23K, Ape210K), bracket removal and number slots.

Rules, applied in this order (regex order matters: mixed numbers before fractions before percents):

1. full-width symbols (``（）［］：％×÷`` and digits) → ASCII; ``[ ]`` → ``( )``; ``**`` → ``^``;
2. a mixed number ``a(b/c)`` → ``(a+b/c)`` (equation, answer and text); a bare ``a(`` → ``a+(``
   (equation and answer: Ape210K's ``3((1)/(2))``);
3. a bracketed fraction ``(a/b)`` → ``a/b`` in the text;
4. a percentage ``a%`` → ``(a/100)``; any other ``%`` → ``/100``; the ratio colon ``:`` → ``/``;
5. a leading ``x=`` is dropped.

A problem is kept when its equation and its answer both execute (:mod:`kexue.models.expression`)
and agree to 6 decimals. :func:`remove_redundant_brackets` then deletes the brackets that the
grammar does not need: by precedence and exact associativity (``a+(b-c)`` → ``a+b-c``,
``a*(b/c)`` → ``a*b/c``) — never ``a-(b-c)`` or ``a/(b*c)`` — and checks the value again.
:func:`slot_numbers` turns the numbers of the text into slots ``N0, N1, …`` that the expression
copies; what is left in the expression are the literal constants (1, 100, 3.14, …), counted over a
split by :func:`literal_constants`.

Reference: Su Jianlin, "BERT可以上几年级了？Seq2Seq“硬刚”小学数学应用题",
https://kexue.fm/archives/7809 (2020), the ``load_data`` and ``remove_bucket`` steps.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from kexue.data.math23k import WordProblem

if TYPE_CHECKING:
    from kexue.models.expression import ExpressionNode

__all__ = [
    "NormalisationReport",
    "NormalisedProblem",
    "SlottedProblem",
    "literal_constants",
    "normalise_answer",
    "normalise_equation",
    "normalise_problems",
    "normalise_text",
    "remove_redundant_brackets",
    "slot_numbers",
]

Value = Fraction | float

_WIDE = str.maketrans(
    {chr(0xFF10 + i): str(i) for i in range(10)}
    | {"（": "(", "）": ")", "［": "[", "］": "]", "：": ":", "％": "%", "．": ".", "／": "/"}
    | {"＋": "+", "－": "-", "×": "*", "÷": "/", "＊": "*"}
)
_MIXED = re.compile(r"(\d+)\((\d+/\d+)\)")
_BARE_MIXED = re.compile(r"(\d+)\(")
_PAREN_FRACTION = re.compile(r"\((\d+/\d+)\)")
_PERCENT = re.compile(r"([.\d]+)%")
_X_PREFIX = re.compile(r"^\s*[xX]\s*=")
_TEXT_NUMBER = re.compile(r"\d+(?:\.\d+)?/\d+(?:\.\d+)?|\d*\.?\d+%?")


def _arith(s: str, *, equation: bool) -> str:
    s = s.translate(_WIDE).replace(" ", "").replace("[", "(").replace("]", ")").replace("**", "^")
    if equation:
        s = _X_PREFIX.sub("", s)
    s = _MIXED.sub(r"(\1+\2)", s)
    s = _BARE_MIXED.sub(r"\1+(", s)
    s = _PERCENT.sub(r"(\1/100)", s)
    return s.replace(":", "/").replace("%", "/100")


def normalise_equation(equation: str) -> str:
    """Normalise an equation as the article does and drop its ``x=``.

    Reference: https://kexue.fm/archives/7809.

    Example:
        >>> normalise_equation("x=150*20%/5%-150"), normalise_equation("x=3(1/2)：[1+1]")
        ('150*(20/100)/(5/100)-150', '(3+1/2)/(1+1)')
    """
    return _arith(equation, equation=True)


def normalise_answer(answer: str) -> str:
    """Normalise an answer string (mixed numbers ``3((1)/(2))``, percentages, ratios).

    Reference: https://kexue.fm/archives/7809.

    Example:
        >>> normalise_answer("3((1)/(2))"), normalise_answer("93.75%")
        ('3+((1)/(2))', '(93.75/100)')
    """
    return _arith(answer, equation=False)


def normalise_text(text: str) -> str:
    """Normalise a problem text: full-width symbols, mixed numbers, bracketed fractions.

    Reference: https://kexue.fm/archives/7809.

    Example:
        >>> normalise_text("看了全书的(1/6)，还剩2(1/3)（千克）")
        '看了全书的1/6，还剩(2+1/3)(千克)'
    """
    text = text.translate(_WIDE)
    text = _MIXED.sub(r"(\1+\2)", text)
    return _PAREN_FRACTION.sub(r"\1", text)


@dataclass(frozen=True)
class NormalisedProblem:
    """A kept problem: normalised text, target expression (redundant brackets removed), answer.

    Attributes:
        id: the data set's id.
        text: the normalised problem text.
        expression: the normalised equation without redundant brackets.
        answer: the exact value of the gold answer (a float only after an irrational power).
        expression_with_brackets: the normalised equation before bracket removal.

    Reference: https://kexue.fm/archives/7809.
    """

    id: str
    text: str
    expression: str
    answer: Value
    expression_with_brackets: str


@dataclass(frozen=True)
class NormalisationReport:
    """What :func:`normalise_problems` kept and why it skipped the rest.

    Attributes:
        kept: the kept problems, in input order.
        total: how many problems came in.
        skipped: reason → count (``equation_syntax``, ``answer_math``, ``mismatch``, …).
        skipped_ids: reason → ids.

    Reference: https://kexue.fm/archives/7809 (the article's filter on Ape210K).
    """

    kept: tuple[NormalisedProblem, ...]
    total: int
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def kept_fraction(self) -> float:
        """Kept / total (1.0 for an empty input)."""
        return len(self.kept) / self.total if self.total else 1.0

    def mean_length(self, *, brackets_removed: bool = True) -> float:
        """Mean target length in characters, after (default) or before bracket removal."""
        if not self.kept:
            return 0.0
        lengths = [
            len(p.expression if brackets_removed else p.expression_with_brackets) for p in self.kept
        ]
        return sum(lengths) / len(lengths)


def _error_kind(error: Exception) -> str:
    from kexue.models.expression import ExpressionLimitError, ExpressionMathError

    if isinstance(error, ExpressionMathError):
        return "math"
    return "limit" if isinstance(error, ExpressionLimitError) else "syntax"


def normalise_problems(
    problems: Iterable[WordProblem], *, decimals: int = 6
) -> NormalisationReport:
    """Normalise a split; keep the problems whose equation evaluates to their answer.

    Malformed items (non-string fields, an equation or answer that does not execute, a mismatch)
    are skipped and counted by reason, never raised.

    Args:
        problems: e.g. ``load_math23k("train")`` or ``load_ape210k()``.
        decimals: the rounding of the answer check (the article: 6).

    Reference: https://kexue.fm/archives/7809.

    Example:
        >>> from kexue.data import load_ape210k
        >>> report = normalise_problems(load_ape210k()[:3])
        >>> report.total, [p.expression for p in report.kept][:2]
        (3, ['135/3', '1-1/5-1/4'])
    """
    from kexue.models.expression import (
        ExpressionError,
        answers_equal,
        evaluate,
        evaluate_node,
        parse_expression,
    )

    kept: list[NormalisedProblem] = []
    skipped: dict[str, list[str]] = {}
    total = 0
    for p in problems:
        total += 1
        pid = str(getattr(p, "id", "?"))
        fields_ = (
            getattr(p, "text", None),
            getattr(p, "equation", None),
            getattr(p, "answer", None),
        )
        if not all(isinstance(f, str) and f.strip() for f in fields_):
            skipped.setdefault("malformed", []).append(pid)
            continue
        equation = normalise_equation(p.equation)
        try:
            tree = parse_expression(equation)
            value = evaluate_node(tree)
        except ExpressionError as e:
            skipped.setdefault(f"equation_{_error_kind(e)}", []).append(pid)
            continue
        try:
            answer = evaluate(normalise_answer(p.answer))
        except ExpressionError as e:
            skipped.setdefault(f"answer_{_error_kind(e)}", []).append(pid)
            continue
        if not answers_equal(value, answer, decimals=decimals):
            skipped.setdefault("mismatch", []).append(pid)
            continue
        short = _debracket(tree, value, ()) or equation
        kept.append(NormalisedProblem(pid, normalise_text(p.text), short, answer, equation))
    return NormalisationReport(
        tuple(kept),
        total,
        {k: len(v) for k, v in sorted(skipped.items())},
        {k: tuple(v) for k, v in sorted(skipped.items())},
    )


def _strip(node: ExpressionNode) -> ExpressionNode:
    """Brackets are not needed around an atom-like node."""
    from kexue.models.expression import BracketNode

    while isinstance(node, BracketNode) and isinstance(node.inner, BracketNode):
        node = node.inner
    return node


def _starts_with_sign(node: ExpressionNode) -> bool:
    from kexue.models.expression import ChainNode, PercentNode, PowerNode, SignNode

    while True:
        if isinstance(node, SignNode):
            return True
        if isinstance(node, ChainNode):
            node = node.first
        elif isinstance(node, PowerNode):
            node = node.base
        elif isinstance(node, PercentNode):
            node = node.operand
        else:
            return False


def _needed(inner: ExpressionNode, context: tuple[str, bool, str]) -> bool:
    """Whether brackets around ``inner`` change the parse in ``context`` (place, first, operator)."""
    from kexue.models.expression import (
        BracketNode,
        ChainNode,
        NumberNode,
        PercentNode,
        PowerNode,
        SlotNode,
    )

    place, first, op = context
    atom = isinstance(inner, (NumberNode, SlotNode, BracketNode, PercentNode))
    if place == "root":
        return False
    if _starts_with_sign(inner) and not (place == "sum" and first):
        return True  # keep "a*(-b)", "a+(-b)": legal without brackets but unreadable
    if place == "sum":
        return isinstance(inner, ChainNode) and inner.level == "sum" and op == "-"
    if place == "product":
        if isinstance(inner, ChainNode):
            return inner.level == "sum" or (op == "/" and not first)
        return False
    if place in ("sign", "exponent"):
        return not (atom or isinstance(inner, PowerNode))
    return not atom  # base of a power, operand of %


def _simplify(node: ExpressionNode, context: tuple[str, bool, str]) -> ExpressionNode:
    from kexue.models.expression import BracketNode, ChainNode, PercentNode, PowerNode, SignNode

    node = _strip(node)
    if isinstance(node, BracketNode):
        inner = _simplify(node.inner, ("root", True, ""))
        return BracketNode(inner) if _needed(inner, context) else inner
    if isinstance(node, SignNode):
        return SignNode(node.sign, _simplify(node.operand, ("sign", True, "")))
    if isinstance(node, PercentNode):
        return PercentNode(_simplify(node.operand, ("percent", True, "")))
    if isinstance(node, PowerNode):
        base = _simplify(node.base, ("base", True, ""))
        return PowerNode(base, _simplify(node.exponent, ("exponent", True, "")))
    if isinstance(node, ChainNode):
        first = _simplify(node.first, (node.level, True, "+" if node.level == "sum" else "*"))
        rest = tuple((op, _simplify(x, (node.level, False, op))) for op, x in node.rest)
        return ChainNode(node.level, first, rest)
    return node


def _same(a: Value, b: Value) -> bool:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    return round(float(a), 6) == round(float(b), 6)


def remove_redundant_brackets(expression: str, slots: tuple[Value, ...] = ()) -> str:
    """Delete the brackets that neither precedence nor (exact) associativity needs.

    The value is re-checked with the executor (exactly for rationals); on any difference, or an
    expression that does not execute, the input is returned unchanged. The output is canonical
    ASCII (``* / ^``, round brackets, no spaces).

    Args:
        expression: a normalised expression, possibly with slots ``N0, N1, …``.
        slots: the values of the slots.

    Reference: https://kexue.fm/archives/7809 (``remove_bucket``).

    Example:
        >>> remove_redundant_brackets("(3.14*(4+1)^2)-(3.14*4^2)")
        '3.14*(4+1)^2-3.14*4^2'
        >>> remove_redundant_brackets("9-(5-1)"), remove_redundant_brackets("9+(5-1)")
        ('9-(5-1)', '9+5-1')
    """
    from kexue.models.expression import ExpressionError, evaluate_node, parse_expression

    try:
        tree = parse_expression(expression)
        return _debracket(tree, evaluate_node(tree, slots), slots) or expression
    except ExpressionError:
        return expression


def _debracket(tree: ExpressionNode, value: Value, slots: tuple[Value, ...]) -> str | None:
    """The tree printed without redundant brackets, or None if (impossibly) the value changed."""
    from kexue.models.expression import ExpressionError, evaluate_node, format_expression

    simpler = _simplify(tree, ("root", True, ""))
    try:
        after = evaluate_node(simpler, slots)
    except ExpressionError:
        return None
    return format_expression(simpler) if _same(after, value) else None


@dataclass(frozen=True)
class SlottedProblem:
    """A problem whose numbers are slots: the text shows ``N0, N1, …``, the expression copies them.

    Attributes:
        id: the data set's id.
        text: the normalised text with each number replaced by its slot ``N<i>``.
        numbers: the numbers' text as written (``"1/6"``, ``"150%"``), in order of appearance.
        values: their exact values (``1/6``, ``3/2``).
        expression: the target with slots and literal constants, redundant brackets removed.
        answer: the gold answer's value.

    Reference: https://kexue.fm/archives/7809.
    """

    id: str
    text: str
    numbers: tuple[str, ...]
    values: tuple[Fraction, ...]
    expression: str
    answer: Value


def _number_value(s: str) -> Fraction:
    if s.endswith("%"):
        return Fraction(s[:-1]) / 100
    num, _, den = s.partition("/")
    return Fraction(num) / Fraction(den) if den else Fraction(num)


def slot_numbers(problem: NormalisedProblem) -> SlottedProblem:
    """Replace the numbers of the text by slots and let the expression copy them.

    Matching, top-down on the expression tree: a fraction ``a/b`` (or ``a/100``) whose numerator
    and denominator are written as a text fraction ``a/b`` (or a text percentage ``a%``) becomes
    that slot; a number literal becomes the first text number of the same value (same writing
    preferred); anything unmatched stays a literal constant. The result is checked: evaluated
    with the slot values it must equal the answer.

    Raises:
        ValueError: the slotted expression no longer evaluates to the answer (a bug guard).

    Reference: https://kexue.fm/archives/7809 (number handling for the generated expression).

    Example:
        >>> p = NormalisedProblem("1", "全书的1/6，第二天看了24页", "24/(1-1/6)", Fraction(144, 5), "")
        >>> s = slot_numbers(p)
        >>> s.text, s.expression
        ('全书的N0，第二天看了N1页', 'N1/(1-N0)')
    """
    from kexue.models.expression import answers_equal, evaluate, format_expression, parse_expression

    numbers = tuple(m.group() for m in _TEXT_NUMBER.finditer(problem.text))
    values = tuple(_number_value(n) for n in numbers)
    slotted_text = _TEXT_NUMBER.sub(_SlotNamer(), problem.text)
    base = problem.expression_with_brackets or problem.expression
    tree = _slot(parse_expression(base), numbers, values)
    expression = remove_redundant_brackets(format_expression(tree), values)
    if not answers_equal(evaluate(expression, values), problem.answer):
        raise ValueError(f"problem {problem.id}: slotted expression {expression!r} lost the answer")
    return SlottedProblem(problem.id, slotted_text, numbers, values, expression, problem.answer)


class _SlotNamer:
    def __init__(self) -> None:
        self.i = -1

    def __call__(self, _: re.Match[str]) -> str:
        self.i += 1
        return f"N{self.i}"


def _slot(
    node: ExpressionNode, numbers: tuple[str, ...], values: tuple[Fraction, ...]
) -> ExpressionNode:
    from kexue.models.expression import (
        BracketNode,
        ChainNode,
        NumberNode,
        PercentNode,
        PowerNode,
        SignNode,
        SlotNode,
    )

    if isinstance(node, NumberNode):
        for i, n in enumerate(numbers):
            if n == node.text:
                return SlotNode(i)
        for i, v in enumerate(values):
            if v == node.value:
                return SlotNode(i)
        return node
    if isinstance(node, ChainNode):
        if (
            node.level == "product"
            and len(node.rest) == 1
            and node.rest[0][0] == "/"
            and isinstance(node.first, NumberNode)
            and isinstance(node.rest[0][1], NumberNode)
        ):
            a, b = node.first.text, node.rest[0][1].text
            for i, n in enumerate(numbers):
                if n == f"{a}/{b}" or (b == "100" and n == f"{a}%"):
                    return SlotNode(i)
        first = _slot(node.first, numbers, values)
        return ChainNode(
            node.level, first, tuple((op, _slot(x, numbers, values)) for op, x in node.rest)
        )
    if isinstance(node, BracketNode):
        return BracketNode(_slot(node.inner, numbers, values))
    if isinstance(node, SignNode):
        return SignNode(node.sign, _slot(node.operand, numbers, values))
    if isinstance(node, PercentNode):
        return PercentNode(_slot(node.operand, numbers, values))
    if isinstance(node, PowerNode):
        return PowerNode(_slot(node.base, numbers, values), _slot(node.exponent, numbers, values))
    return node


def literal_constants(problems: Iterable[SlottedProblem]) -> Counter[str]:
    """Count the literal constants (numbers not copied from the text) in slotted expressions.

    Reference: https://kexue.fm/archives/7809 (the constants the generator must write: 1, 100, 3.14, …).

    Example:
        >>> p = SlottedProblem("1", "N0", ("2",), (Fraction(2),), "3.14*N0^2", Fraction(1256, 100))
        >>> literal_constants([p])
        Counter({'3.14': 1, '2': 1})
    """
    counts: Counter[str] = Counter()
    for p in problems:
        counts.update(re.findall(r"(?<![N\d.])\d+(?:\.\d+)?", p.expression))
    return counts
