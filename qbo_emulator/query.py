"""QBO's query language: a pure tokenizer, parser and evaluator over stored JSON objects."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbo_emulator import query_fields
from qbo_emulator.clock import parse_instant
from qbo_emulator.faults import QBOFault, query_parse, query_validation
from qbo_emulator.jsonutil import JSON, to_decimal

Value = str | Decimal | bool
MAX_RESULTS_CAP = 1000
DEFAULT_MAX_RESULTS = 100
OPERATORS = ("<=", ">=", "=", "<", ">")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class Token:
    kind: str  # "ident", "string", "number", "op", "punct", "end"
    text: str
    column: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # one of OPERATORS, "IN" or "LIKE"
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Query:
    entity: str
    count: bool
    where: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    start: int
    max_results: int


def _error(token: Token) -> QBOFault:
    shown = "<EOF>" if token.kind == "end" else token.text
    return query_parse(f'Encountered " {shown} " at line 1, column {token.column}.')


def _read_string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == "'":
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise query_parse(f"Lexical error at line 1, column {len(text) + 1}.  Encountered: <EOF>")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char == "'":
            value, end = _read_string(text, i)
            tokens.append(Token("string", value, i + 1))
            i = end
            continue
        tokens.append(_simple_token(text, i))
        i += len(tokens[-1].text)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _simple_token(text: str, i: int) -> Token:
    for op in OPERATORS:
        if text.startswith(op, i):
            return Token("op", op, i + 1)
    if text[i] in "(),*":
        return Token("punct", text[i], i + 1)
    number = _NUMBER.match(text, i)
    if number:
        return Token("number", number.group(), i + 1)
    ident = _IDENT.match(text, i)
    if ident:
        return Token("ident", ident.group(), i + 1)
    raise query_parse(f'Lexical error at line 1, column {i + 1}.  Encountered: "{text[i]}"')


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.tok.upper == word:
            self.pos += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise _error(self.tok)

    def expect_punct(self, char: str) -> None:
        if self.tok.kind != "punct" or self.tok.text != char:
            raise _error(self.tok)
        self.pos += 1

    def ident(self) -> str:
        if self.tok.kind != "ident":
            raise _error(self.tok)
        return self.take().text

    def integer(self) -> int:
        if self.tok.kind != "number" or "." in self.tok.text:
            raise _error(self.tok)
        return int(self.take().text)

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        count = self.projection()
        self.expect_keyword("FROM")
        entity = self.ident()
        where = self.where() if self.keyword("WHERE") else ()
        order = self.order()
        start, max_results = self.paging()
        if self.tok.kind != "end":
            raise _error(self.tok)
        return Query(entity, count, where, order, start, max_results)

    def projection(self) -> bool:
        if self.tok.upper == "COUNT":
            self.pos += 1
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            return True
        # "SELECT *, Sku" (python-quickbooks sends it for Items) is accepted; bare projections
        # such as "SELECT Id FROM" are not part of what the emulator supports.
        self.expect_punct("*")
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.pos += 1
            self.ident()
        return False

    def where(self) -> tuple[Condition, ...]:
        conditions = [self.condition()]
        while self.keyword("AND"):
            conditions.append(self.condition())
        return tuple(conditions)

    def condition(self) -> Condition:
        field = self.ident()
        if self.keyword("IN"):
            return Condition(field, "IN", self.value_list())
        if self.keyword("LIKE"):
            if self.tok.kind != "string":
                raise _error(self.tok)
            return Condition(field, "LIKE", (self.take().text,))
        if self.tok.kind != "op":
            raise _error(self.tok)
        op = self.take().text
        return Condition(field, op, (self.value(),))

    def value_list(self) -> tuple[Value, ...]:
        self.expect_punct("(")
        values = [self.value()]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.pos += 1
            values.append(self.value())
        self.expect_punct(")")
        return tuple(values)

    def value(self) -> Value:
        token = self.take()
        if token.kind == "string":
            return token.text
        if token.kind == "number":
            return Decimal(token.text)
        if token.upper in ("TRUE", "FALSE"):
            return token.upper == "TRUE"
        raise _error(token)

    def order(self) -> tuple[tuple[str, bool], ...]:
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
        elif not self.keyword("ORDERBY"):
            return ()
        keys = [self.order_key()]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.pos += 1
            keys.append(self.order_key())
        return tuple(keys)

    def order_key(self) -> tuple[str, bool]:
        field = self.ident()
        if self.keyword("DESC"):
            return field, True
        self.keyword("ASC")
        return field, False

    def paging(self) -> tuple[int, int]:
        # Out-of-range values are kept as given: validate() refuses them as QBO does.
        start, max_results = 1, DEFAULT_MAX_RESULTS
        for _ in range(2):
            if self.keyword("STARTPOSITION"):
                start = self.integer()
            elif self.keyword("MAXRESULTS"):
                max_results = self.integer()
        return start, max_results


def parse(text: str) -> Query:
    """Parse a statement or raise the 4000 QueryParserError fault QBO gives."""
    return _Parser(tokenize(text)).parse()


def validate(query: Query, entity: str) -> None:
    """Refuse what QBO refuses after parsing: 400, code 4001, "QueryValidationError: ..."."""
    if query.max_results > MAX_RESULTS_CAP:
        # Real text: ruckus/quickbooks-ruby issue #24 ("Invalid query: QueryValidationError:
        # value 1500 is too large. Max allowed value is 1000").
        raise query_validation(
            f"value {query.max_results} is too large. Max allowed value is {MAX_RESULTS_CAP}"
        )
    if query.start < 1 or query.max_results < 0:
        # Intuit's query docs: STARTPOSITION is 1-based. QBO's text for 0 or less: UNKNOWN
        # (verify-qbo "query paging and Id operators"); worded like the MAXRESULTS one.
        bad = query.start if query.start < 1 else query.max_results
        raise query_validation(f"value {bad} is too small. Min allowed value is 1")
    for condition in query.where:
        reason = query_fields.check_field(entity, condition.field)
        if reason is not None:
            raise query_validation(reason)
        if condition.field.casefold() == "id" and condition.op not in ("=", "IN"):
            # Intuit "Query operations and syntax": Id supports only = and IN. QBO's text for
            # another operator: UNKNOWN (verify-qbo "query paging and Id operators").
            raise query_validation(f"operator '{condition.op}' is not supported for property 'Id'")


def lookup(obj: JSON, path: str) -> Any:
    """Case-insensitive dotted lookup; references and emails compare on their scalar part."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = _get_ci(current, part)
    if isinstance(current, dict):
        for key in ("value", "Address", "FreeFormNumber", "URI"):
            if key in current:
                return current[key]
        return None
    return current


def _get_ci(obj: JSON, key: str) -> Any:
    if key in obj:
        return obj[key]
    folded = key.casefold()
    for name, value in obj.items():
        if name.casefold() == folded:
            return value
    return None


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    number = to_decimal(value) if not isinstance(value, str) or _is_number(value) else None
    if number is not None:
        return (2, number)
    if isinstance(value, str) and len(value) > 10 and "T" in value:
        instant = parse_instant(value)
        if instant is not None:
            return (3, instant)
    return (4, str(value).casefold())


def _is_number(text: str) -> bool:
    return bool(_NUMBER.fullmatch(text.strip()))


def _compare(actual: Any, op: str, expected: Value) -> bool:
    if actual is None:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return op == "=" and str(actual).casefold() == str(expected).casefold()
    left, right = _sort_key(actual), _sort_key(expected)
    if left[0] != right[0]:
        if left[0] == 3 and isinstance(expected, str):
            instant = parse_instant(expected)
            right = (3, instant) if instant is not None else right
        else:
            left, right = (4, str(actual).casefold()), (4, str(expected).casefold())
    if left[0] != right[0]:
        return False
    outcome: bool = {
        "=": left[1] == right[1],
        "<": left[1] < right[1],
        ">": left[1] > right[1],
        "<=": left[1] <= right[1],
        ">=": left[1] >= right[1],
    }[op]
    return outcome


def _like(actual: Any, pattern: str) -> bool:
    if actual is None:
        return False
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, str(actual), flags=re.IGNORECASE | re.DOTALL) is not None


def matches(obj: JSON, condition: Condition) -> bool:
    actual = lookup(obj, condition.field)
    if condition.op == "IN":
        return any(_compare(actual, "=", v) for v in condition.values)
    if condition.op == "LIKE":
        return _like(actual, str(condition.values[0]))
    return _compare(actual, condition.op, condition.values[0])


def _key_for(field: str) -> Callable[[JSON], tuple[int, Any]]:
    return lambda obj: _sort_key(lookup(obj, field))


def evaluate(query: Query, objects: Iterable[JSON], *, name_list: bool) -> tuple[list[JSON], int]:
    """Filter, order and page; returns (page, total matches)."""
    where = query.where
    if name_list and not any(c.field.casefold() == "active" for c in where):
        # QBO hides inactive name-list objects unless the query mentions Active.
        where = (*where, Condition("Active", "=", (True,)))
    hits = [obj for obj in objects if all(matches(obj, c) for c in where)]
    if query.count:
        return [], len(hits)
    order = query.order or (("Id", False),)
    for field, descending in reversed(order):
        hits.sort(key=_key_for(field), reverse=descending)
    begin = query.start - 1
    return hits[begin : begin + query.max_results], len(hits)
