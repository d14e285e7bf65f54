r"""A safe executor for arithmetic expressions written by a math-word-problem solver.

A model's output is untrusted text, so it is never handed to ``eval``/``exec``/``sympify``: it is
tokenised and parsed here by a recursive-descent parser over a tiny grammar, and evaluated exactly
with :class:`fractions.Fraction` (a float appears only for an irrational power such as ``2^0.5``)::

    sum      := product (('+' | '-') product)*
    product  := signed (('*' | '/') signed)*
    signed   := ('+' | '-') signed | power
    power    := postfix ('^' signed)?          # right-associative, binds tighter than a sign
    postfix  := primary '%'*                   # a% = a/100
    primary  := number | slot | '(' sum ')'    # also [ ] and full-width brackets
    number   := digits ['.' digits] | '.' digits
    slot     := 'N' digits                     # a number copied from the problem (``slots=``)

``×``, ``÷``, ``**`` and the full-width forms of digits, operators and brackets are accepted, with
Python's precedence (``-2^2 = -4``, ``2^3^2 = 512``). Limits bound the work: the length of the text,
the nesting depth (brackets, signs, powers), the size of an exponent and the number of bits of
every exact intermediate, so any string returns a value or raises an :class:`ExpressionError`
(a :class:`ValueError`) in a bounded time. :func:`answers_equal` compares answers as the article
does: equal after rounding to 6 decimals, computed exactly when both sides are rational.

Reference: Su Jianlin, "BERT可以上几年级了？Seq2Seq“硬刚”小学数学应用题",
https://kexue.fm/archives/7809 (2020).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "MAX_BITS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "BracketNode",
    "ChainNode",
    "ExpressionError",
    "ExpressionLimitError",
    "ExpressionMathError",
    "ExpressionNode",
    "ExpressionSyntaxError",
    "NumberNode",
    "PercentNode",
    "PowerNode",
    "SignNode",
    "SlotNode",
    "answers_equal",
    "evaluate",
    "evaluate_node",
    "format_expression",
    "parse_expression",
]

MAX_LENGTH = 1000
MAX_DEPTH = 64
MAX_EXPONENT = 1000
MAX_BITS = 4096
_MAX_ROOT = 64  # exact n-th roots are tried up to this n, floats beyond

Value = Fraction | float

_CLOSE = {"(": ")", "[": "]"}
_FOLD = str.maketrans({
    **{chr(0xFF10 + i): str(i) for i in range(10)},  # full-width digits
    "（": "(", "）": ")", "［": "[", "］": "]", "【": "[", "】": "]",
    "＋": "+", "－": "-", "−": "-", "–": "-", "×": "*", "＊": "*", "·": "*", "÷": "/", "／": "/",
    "＾": "^", "％": "%", "．": ".",
})  # fmt: skip


class ExpressionError(ValueError):
    """Base class of the executor's errors (a :class:`ValueError`).

    Reference: https://kexue.fm/archives/7809 (answers of non-executable outputs count as wrong).
    """


class ExpressionSyntaxError(ExpressionError):
    """The text is not in the grammar: unknown symbol, unbalanced bracket, missing operand, …

    Reference: https://kexue.fm/archives/7809.
    """


class ExpressionLimitError(ExpressionError):
    """The text or a value exceeds a limit: length, nesting depth, exponent size or number of bits.

    Reference: https://kexue.fm/archives/7809.
    """


class ExpressionMathError(ExpressionError):
    """The expression is well formed but has no real value: division by zero, ``(-8)^0.5``, overflow.

    Reference: https://kexue.fm/archives/7809.
    """


@dataclass(frozen=True)
class NumberNode:
    """A number literal: its text (``"3.14"``) and exact value.

    Reference: https://kexue.fm/archives/7809.
    """

    text: str
    value: Fraction


@dataclass(frozen=True)
class SlotNode:
    """``N<index>``: the ``index``-th number of the problem text, filled from ``slots=``.

    Reference: https://kexue.fm/archives/7809.
    """

    index: int


@dataclass(frozen=True)
class SignNode:
    """A unary ``+`` or ``-`` applied to ``operand``.

    Reference: https://kexue.fm/archives/7809.
    """

    sign: str
    operand: ExpressionNode


@dataclass(frozen=True)
class PowerNode:
    """``base ^ exponent``.

    Reference: https://kexue.fm/archives/7809.
    """

    base: ExpressionNode
    exponent: ExpressionNode


@dataclass(frozen=True)
class PercentNode:
    """``operand %`` (= ``operand / 100``).

    Reference: https://kexue.fm/archives/7809.
    """

    operand: ExpressionNode


@dataclass(frozen=True)
class BracketNode:
    """A bracketed sub-expression (kept in the tree so that brackets can be removed or printed).

    Reference: https://kexue.fm/archives/7809.
    """

    inner: ExpressionNode


@dataclass(frozen=True)
class ChainNode:
    """A left-to-right chain of one precedence level: ``first op1 x1 op2 x2 …``.

    ``level`` is ``"sum"`` (ops ``+ -``) or ``"product"`` (ops ``* /``); ``rest`` holds at least one
    ``(op, operand)`` pair. Chains are n-ary so a long sum does not make a deep tree.

    Reference: https://kexue.fm/archives/7809.
    """

    level: str
    first: ExpressionNode
    rest: tuple[tuple[str, ExpressionNode], ...]


ExpressionNode = (
    NumberNode | SlotNode | SignNode | PowerNode | PercentNode | BracketNode | ChainNode
)


def _check_limit(value: object, name: str, upper: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
        raise ValueError(f"{name} must be an int in [1, {upper}], got {value!r}")
    return value


_TOKEN = re.compile(r"\s*(?:([0-9]+\.?[0-9]*|\.[0-9]+)|N([0-9]+)|(\*\*)|([-+*/^%()\[\]]))")


def _tokenise(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) tokens: kind is 'num', 'slot' or the operator/bracket itself."""
    text = text.translate(_FOLD)
    out: list[tuple[str, str, int]] = []
    i, n = 0, len(text)
    while i < n:
        m = _TOKEN.match(text, i)
        if m is None:
            if text[i:].isspace():
                break
            j = i + len(text[i:]) - len(text[i:].lstrip())
            bad = text[j]
            if bad == "N":
                raise ExpressionSyntaxError(f"'N' without a slot number at position {j}")
            raise ExpressionSyntaxError(f"unknown symbol {bad!r} at position {j}")
        number, slot, star2, op = m.groups()
        if number is not None:
            if len(number) > 4000:
                raise ExpressionLimitError(
                    f"number literal of {len(number)} characters at {m.start(1)}"
                )
            if m.end() < n and text[m.end()] == ".":
                raise ExpressionSyntaxError(f"malformed number at position {m.start(1)}")
            out.append(("num", number, m.start(1)))
        elif slot is not None:
            out.append(("slot", slot, m.start(2)))
        elif star2 is not None:
            out.append(("^", "^", m.start(3)))
        else:
            out.append((op, op, m.start(4)))
        i = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], max_depth: int) -> None:
        self.tokens, self.pos, self.depth, self.max_depth = tokens, 0, 0, max_depth

    def peek(self) -> str:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else "end"

    def where(self) -> str:
        return f"position {self.tokens[self.pos][2]}" if self.pos < len(self.tokens) else "the end"

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise ExpressionLimitError(f"nesting deeper than max_depth={self.max_depth}")

    def chain(self, level: str) -> ExpressionNode:
        ops = "+-" if level == "sum" else "*/"
        first = self.chain("product") if level == "sum" else self.signed()
        rest = []
        while self.peek() in ops:
            op = self.peek()
            self.pos += 1
            rest.append((op, self.chain("product") if level == "sum" else self.signed()))
        return ChainNode(level, first, tuple(rest)) if rest else first

    def signed(self) -> ExpressionNode:
        if self.peek() in ("+", "-"):
            sign = self.peek()
            self.pos += 1
            self.enter()
            node: ExpressionNode = SignNode(sign, self.signed())
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> ExpressionNode:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.pos += 1
        self.enter()
        exponent = self.signed()
        self.depth -= 1
        return PowerNode(base, exponent)

    def postfix(self) -> ExpressionNode:
        node = self.primary()
        while self.peek() == "%":
            self.pos += 1
            node = PercentNode(node)
        return node

    def primary(self) -> ExpressionNode:
        kind = self.peek()
        if kind == "end":
            raise ExpressionSyntaxError("unexpected end of expression")
        _, text, where = self.tokens[self.pos]
        if kind == "num":
            self.pos += 1
            whole, _, frac = text.partition(".")
            value = Fraction(
                int(whole or "0") * 10 ** len(frac) + int(frac or "0"), 10 ** len(frac)
            )
            return NumberNode(text, value)
        if kind == "slot":
            self.pos += 1
            return SlotNode(int(text))
        if kind in _CLOSE:
            self.pos += 1
            self.enter()
            inner = self.chain("sum")
            if self.peek() != _CLOSE[kind]:
                raise ExpressionSyntaxError(f"expected {_CLOSE[kind]!r} at {self.where()}")
            self.pos += 1
            self.depth -= 1
            return BracketNode(inner)
        raise ExpressionSyntaxError(f"unexpected {text!r} at position {where}")


def parse_expression(
    expression: str, *, max_length: int = MAX_LENGTH, max_depth: int = MAX_DEPTH
) -> ExpressionNode:
    """Parse an expression into a tree without evaluating it.

    Args:
        expression: the text, e.g. ``"(11-1)*2"`` or ``"N0*(1-N1)"``.
        max_length: the longest text accepted (characters).
        max_depth: the deepest nesting of brackets, signs and powers accepted (at most 100).

    Raises:
        TypeError: ``expression`` is not a string.
        ExpressionSyntaxError: not in the grammar.
        ExpressionLimitError: too long or too deeply nested.

    Reference: https://kexue.fm/archives/7809.

    Example:
        >>> format_expression(parse_expression("（1＋2）×3"))
        '(1+2)*3'
    """
    if not isinstance(expression, str):
        raise TypeError(f"expression must be a str, got {type(expression).__name__}")
    max_length = _check_limit(max_length, "max_length", 10**6)
    max_depth = _check_limit(max_depth, "max_depth", 100)
    if len(expression) > max_length:
        raise ExpressionLimitError(f"expression longer than max_length={max_length}")
    parser = _Parser(_tokenise(expression), max_depth)
    try:
        node = parser.chain("sum")
    except RecursionError:  # only when called from an already very deep stack
        raise ExpressionLimitError("nesting too deep for the interpreter's stack") from None
    if parser.peek() != "end":
        raise ExpressionSyntaxError(
            f"unexpected {parser.tokens[parser.pos][1]!r} at {parser.where()}"
        )
    return node


class _Evaluator:
    def __init__(self, slots: Sequence[Value], max_exponent: int, max_bits: int) -> None:
        self.slots, self.max_exponent, self.max_bits = slots, max_exponent, max_bits

    def checked(self, value: Value) -> Value:
        if isinstance(value, Fraction):
            if max(value.numerator.bit_length(), value.denominator.bit_length()) > self.max_bits:
                raise ExpressionLimitError(
                    f"an intermediate value exceeds max_bits={self.max_bits}"
                )
        elif not math.isfinite(value):
            raise ExpressionMathError("the value is not finite")
        return value

    def binary(self, op: str, a: Value, b: Value) -> Value:
        try:
            if op == "+":
                return self.checked(a + b)
            if op == "-":
                return self.checked(a - b)
            if op == "*":
                return self.checked(a * b)
            return self.checked(a / b)
        except ZeroDivisionError:
            raise ExpressionMathError("division by zero") from None
        except OverflowError:
            raise ExpressionLimitError("a value is too large for a float") from None

    def power(self, base: Value, exponent: Value) -> Value:
        if isinstance(base, Fraction) and isinstance(exponent, Fraction):
            if abs(exponent.numerator) > self.max_exponent:
                raise ExpressionLimitError(f"exponent beyond max_exponent={self.max_exponent}")
            if base == 0 and exponent < 0:
                raise ExpressionMathError("zero to a negative power")
            root = _exact_root(base, exponent.denominator)
            if root is not None:
                e = exponent.numerator
                bits = max(root.numerator.bit_length(), root.denominator.bit_length())
                if bits * abs(e) > self.max_bits + abs(e):
                    raise ExpressionLimitError(f"a power exceeds max_bits={self.max_bits}")
                return self.checked(root**e)
        try:
            b, x = float(base), float(exponent)
        except OverflowError:
            raise ExpressionLimitError("a value is too large for a float") from None
        if abs(x) > self.max_exponent:
            raise ExpressionLimitError(f"exponent beyond max_exponent={self.max_exponent}")
        if b == 0 and x < 0:
            raise ExpressionMathError("zero to a negative power")
        if b < 0 and not x.is_integer():
            raise ExpressionMathError("a negative number to a fractional power has no real value")
        try:
            return self.checked(b**x)
        except OverflowError:
            raise ExpressionLimitError("a power is too large for a float") from None

    def value(self, node: ExpressionNode) -> Value:
        if isinstance(node, NumberNode):
            return self.checked(node.value)
        if isinstance(node, SlotNode):
            if node.index >= len(self.slots):
                raise ExpressionSyntaxError(
                    f"slot N{node.index} but only {len(self.slots)} slots given"
                )
            slot = self.slots[node.index]
            return self.checked(slot if isinstance(slot, Fraction) else _as_value(slot))
        if isinstance(node, BracketNode):
            return self.value(node.inner)
        if isinstance(node, SignNode):
            v = self.value(node.operand)
            return -v if node.sign == "-" else v
        if isinstance(node, PercentNode):
            return self.binary("/", self.value(node.operand), Fraction(100))
        if isinstance(node, PowerNode):
            return self.power(self.value(node.base), self.value(node.exponent))
        acc = self.value(node.first)
        for op, operand in node.rest:
            acc = self.binary(op, acc, self.value(operand))
        return acc


def _as_value(x: object) -> Value:
    if isinstance(x, bool) or not isinstance(x, (int, float, Fraction)):
        raise TypeError(f"slots must hold numbers, got {type(x).__name__}")
    if isinstance(x, int):
        return Fraction(x)
    return x


def _integer_root(x: int, n: int) -> int:
    """floor(x ** (1/n)) for x >= 0 (Newton's iteration on integers)."""
    if x < 2:
        return x
    r = 1 << -(-x.bit_length() // n)
    while True:
        s = ((n - 1) * r + x // r ** (n - 1)) // n
        if s >= r:
            return r
        r = s


def _exact_root(q: Fraction, n: int) -> Fraction | None:
    """The rational n-th root of q when there is one (odd roots of negatives included)."""
    if n == 1:
        return q
    if n > _MAX_ROOT or (q < 0 and n % 2 == 0):
        return None
    a, b = abs(q.numerator), q.denominator
    ra, rb = _integer_root(a, n), _integer_root(b, n)
    if ra**n != a or rb**n != b:
        return None
    return Fraction(-ra if q < 0 else ra, rb)


def evaluate_node(
    node: ExpressionNode,
    slots: Sequence[Value] = (),
    *,
    max_exponent: int = MAX_EXPONENT,
    max_bits: int = MAX_BITS,
) -> Value:
    """Evaluate a parsed expression: a :class:`~fractions.Fraction`, or a float after an irrational power.

    Args:
        node: a tree from :func:`parse_expression`.
        slots: the values of ``N0, N1, …`` (ints, floats or Fractions).
        max_exponent: the largest ``|exponent|`` (numerator of an exact one) allowed.
        max_bits: the most bits a numerator or denominator may reach along the way.

    Raises:
        ExpressionSyntaxError: a slot without a value.
        ExpressionMathError: division by zero, a complex or non-finite result.
        ExpressionLimitError: an exponent or a value beyond the limits.

    Reference: https://kexue.fm/archives/7809.
    """
    max_exponent = _check_limit(max_exponent, "max_exponent", 10**6)
    max_bits = _check_limit(max_bits, "max_bits", 10**6)
    try:
        return _Evaluator(slots, max_exponent, max_bits).value(node)
    except RecursionError:
        raise ExpressionLimitError("nesting too deep for the interpreter's stack") from None


def evaluate(
    expression: str,
    slots: Sequence[Value] = (),
    *,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_exponent: int = MAX_EXPONENT,
    max_bits: int = MAX_BITS,
) -> Value:
    """Evaluate an untrusted expression string safely (no ``eval``): exact where possible.

    Args:
        expression: the text, e.g. ``"150*20%/5%-150"`` or ``"N0*(1-N1)"``.
        slots: the values of ``N0, N1, …``.
        max_length, max_depth: see :func:`parse_expression`.
        max_exponent, max_bits: see :func:`evaluate_node`.

    Returns:
        A :class:`~fractions.Fraction` (exact), or a float when an irrational power occurred.

    Raises:
        TypeError: ``expression`` is not a string.
        ExpressionError: (a :class:`ValueError`) one of :class:`ExpressionSyntaxError`,
            :class:`ExpressionLimitError`, :class:`ExpressionMathError`.

    Reference: https://kexue.fm/archives/7809.

    Example:
        >>> evaluate("150*20%/5%-150")
        Fraction(450, 1)
        >>> evaluate("(1+2)/4")
        Fraction(3, 4)
    """
    node = parse_expression(expression, max_length=max_length, max_depth=max_depth)
    return evaluate_node(node, slots, max_exponent=max_exponent, max_bits=max_bits)


def answers_equal(a: Value | int, b: Value | int, *, decimals: int = 6) -> bool:
    """Whether two answers agree as in the article: equal after rounding to ``decimals`` decimals.

    When both are rational the rounding is done exactly on the fractions (no float error); a float
    side is rounded as a float.

    Reference: https://kexue.fm/archives/7809 (``is_equal``: ``round(x, 6)`` on both sides).

    Example:
        >>> answers_equal(Fraction(1, 3), 0.3333333), answers_equal(Fraction(1, 3), Fraction(333, 1000))
        (True, False)
    """
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a non-negative int, got {decimals!r}")
    for name, x in (("a", a), ("b", b)):
        if isinstance(x, bool) or not isinstance(x, (int, float, Fraction)):
            raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    if isinstance(a, (int, Fraction)) and isinstance(b, (int, Fraction)):
        return round(Fraction(a), decimals) == round(Fraction(b), decimals)
    fa, fb = float(a), float(b)
    if not (math.isfinite(fa) and math.isfinite(fb)):
        return False
    return round(fa, decimals) == round(fb, decimals)


def format_expression(node: ExpressionNode) -> str:
    """Print a tree back as a canonical ASCII expression (``* / ^``, round brackets, ``N<i>`` slots).

    Reference: https://kexue.fm/archives/7809.

    Example:
        >>> format_expression(parse_expression("[2 × 3] ÷ N0"))
        '(2*3)/N0'
    """
    if isinstance(node, NumberNode):
        return node.text
    if isinstance(node, SlotNode):
        return f"N{node.index}"
    if isinstance(node, BracketNode):
        return f"({format_expression(node.inner)})"
    if isinstance(node, SignNode):
        return node.sign + format_expression(node.operand)
    if isinstance(node, PercentNode):
        return format_expression(node.operand) + "%"
    if isinstance(node, PowerNode):
        return f"{format_expression(node.base)}^{format_expression(node.exponent)}"
    return format_expression(node.first) + "".join(
        op + format_expression(operand) for op, operand in node.rest
    )
