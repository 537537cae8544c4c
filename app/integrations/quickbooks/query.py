"""A small builder for QBO's query language that escapes every literal (qbo-api.md §5).

QBO strings are single-quoted with backslash escapes: `'` becomes `\\'` and `\\` becomes `\\\\`
(doubling quotes is wrong). Field and entity names are checked against a strict pattern, so no
caller-supplied text ever reaches the statement unquoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import ValidationError

from app.integrations.quickbooks.entities import QboEntity
from app.integrations.quickbooks.errors import QboTransientError

Operator = Literal["=", "<", ">", "<=", ">=", "IN", "LIKE"]
Scalar = str | int | Decimal | bool | date | datetime
Value = Scalar | Sequence[Scalar]

MAX_RESULTS_CAP = 1000
_OPERATORS = frozenset(("=", "<", ">", "<=", ">=", "IN", "LIKE"))
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def quote(value: str) -> str:
    """`value` as a QBO string literal: backslashes, then quotes, escaped; wrapped in `'`."""
    if _CONTROL.search(value):
        raise ValueError("query literals cannot contain control characters")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal(value: Scalar) -> str:
    """One scalar rendered for a WHERE clause."""
    # bool before int: True is an int in Python but `true` in QBO.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes in queries need a UTC offset; QBO would assume Pacific")
        return quote(value.isoformat())
    if isinstance(value, date):
        return quote(value.isoformat())
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"unsupported query value: {type(value).__name__}")


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a QBO field or entity name: {name!r}")
    return name


@dataclass(frozen=True)
class _Condition:
    field: str
    op: Operator
    value: Value

    def render(self) -> str:
        if self.op == "IN":
            if isinstance(self.value, str | bytes) or not isinstance(self.value, Sequence):
                raise TypeError("IN takes a sequence of values")
            if not self.value:
                raise ValueError("IN needs at least one value")
            return f"{self.field} IN ({', '.join(literal(v) for v in self.value)})"
        if isinstance(self.value, Sequence) and not isinstance(self.value, str):
            raise TypeError(f"{self.op} takes a single value")
        if self.op == "LIKE" and not isinstance(self.value, str):
            raise TypeError("LIKE takes a string pattern (% is the only wildcard)")
        return f"{self.field} {self.op} {literal(self.value)}"


@dataclass(frozen=True)
class Select:
    """`SELECT * FROM <entity> ...`. Immutable: every method returns a new Select."""

    entity: str | type
    conditions: tuple[_Condition, ...] = ()
    order: tuple[str, bool] | None = None
    start_position: int | None = None
    max_results: int | None = None
    counting: bool = False

    def __post_init__(self) -> None:
        # An entity class is accepted for convenience; from here on `entity` is its QBO name.
        entity = self.entity
        name = entity if isinstance(entity, str) else str(getattr(entity, "entity_name", ""))
        object.__setattr__(self, "entity", _identifier(name))

    def where(self, field: str, op: Operator, value: Value) -> Select:
        if op not in _OPERATORS:
            raise ValueError(f"unsupported operator: {op!r}")
        condition = _Condition(_identifier(field), op, value)
        condition.render()  # fail here, at the call that passed the bad value
        return replace(self, conditions=(*self.conditions, condition))

    def include_inactive(self) -> Select:
        """Name-list queries return active objects only unless asked otherwise."""
        return self.where("Active", "IN", (True, False))

    def order_by(self, field: str, desc: bool = False) -> Select:
        return replace(self, order=(_identifier(field), desc))

    def page(self, start_position: int, max_results: int = MAX_RESULTS_CAP) -> Select:
        if start_position < 1:
            raise ValueError("STARTPOSITION is 1-based")
        if not 1 <= max_results <= MAX_RESULTS_CAP:
            raise ValueError(f"MAXRESULTS must be 1..{MAX_RESULTS_CAP}")
        return replace(self, start_position=start_position, max_results=max_results)

    def count(self) -> Select:
        """`SELECT COUNT(*)`; ordering and paging mean nothing there and are dropped."""
        return replace(self, counting=True, order=None, start_position=None, max_results=None)

    def __str__(self) -> str:
        # S608: QBO's query language, not SQL; names are pattern-checked, literals quoted.
        parts = [f"SELECT {'COUNT(*)' if self.counting else '*'} FROM {self.entity}"]  # noqa: S608
        if self.conditions:
            parts.append("WHERE " + " AND ".join(c.render() for c in self.conditions))
        if self.order is not None:
            parts.append(f"ORDERBY {self.order[0]}{' DESC' if self.order[1] else ''}")
        if self.start_position is not None:
            parts.append(f"STARTPOSITION {self.start_position}")
        if self.max_results is not None:
            parts.append(f"MAXRESULTS {self.max_results}")
        return " ".join(parts)


E = TypeVar("E", bound=QboEntity)


@dataclass(frozen=True)
class QueryPage(Generic[E]):
    items: list[E]
    start_position: int | None
    max_results: int | None
    total_count: int | None


def query_page(query_response: Any, entity: type[E]) -> QueryPage[E]:
    """A `QueryResponse` object as a typed page; `{}` (QBO's empty result) is an empty page."""
    if not isinstance(query_response, dict):
        raise QboTransientError("QBO query response has no QueryResponse object")
    rows = _entity_rows(query_response, entity.entity_name)
    return QueryPage(
        items=[parse_entity(entity, row) for row in rows],
        start_position=_int(query_response.get("startPosition")),
        max_results=_int(query_response.get("maxResults")),
        total_count=_int(query_response.get("totalCount")),
    )


def parse_entity(entity: type[E], raw: Any) -> E:
    """`raw` as `entity`; a body our model cannot read is treated as a bad response."""
    try:
        return entity.model_validate(raw)
    except ValidationError as exc:
        raise QboTransientError(
            f"QBO returned a {entity.entity_name} this service cannot read",
            detail=str(exc)[:500],
        ) from exc


def _entity_rows(query_response: dict[str, Any], name: str) -> list[Any]:
    # QBO names the list after the entity as it spells it; match case-insensitively to be safe.
    for key, value in query_response.items():
        if key.lower() == name.lower() and isinstance(value, list):
            return value
    return []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
