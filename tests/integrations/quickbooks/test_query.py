from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.integrations.quickbooks.entities import Customer
from app.integrations.quickbooks.query import Select, literal, quote


def unquote(text: str) -> str:
    """QBO's reading of a string literal: backslash takes the next character literally."""
    assert text[0] == "'"
    assert text[-1] == "'"
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        if body[i] == "\\":
            out.append(body[i + 1])
            i += 2
            continue
        assert body[i] != "'", f"unescaped quote in {text!r}"
        out.append(body[i])
        i += 1
    return "".join(out)


class TestQuote:
    def test_apostrophe_is_backslash_escaped(self) -> None:
        assert quote("o'brien@x.com") == "'o\\'brien@x.com'"

    def test_backslash_is_escaped_before_quotes(self) -> None:
        # Escaping quotes first would turn \' into \\' and end the literal early.
        assert quote("a\\'b") == "'a\\\\\\'b'"
        assert quote("C:\\dir\\") == "'C:\\\\dir\\\\'"

    def test_quotes_are_never_doubled(self) -> None:
        assert "''" not in quote("it's")

    @pytest.mark.parametrize("bad", ["a\nb", "a\tb", "a\x00b", "a\x7fb", "\r"])
    def test_control_characters_are_rejected(self, bad: str) -> None:
        with pytest.raises(ValueError, match="control"):
            quote(bad)

    def test_curly_apostrophe_and_unicode_pass_through(self) -> None:
        assert quote("Zo\u00eb\u2019s") == "'Zo\u00eb\u2019s'"

    @given(st.text(alphabet=st.characters(exclude_categories=["Cc"])))
    def test_any_text_round_trips_through_the_literal(self, text: str) -> None:
        assert unquote(quote(text)) == text


class TestLiteral:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (True, "true"),
            (False, "false"),
            (42, "42"),
            (Decimal("1861.08"), "1861.08"),
            (Decimal("1E+2"), "100"),
            (date(2024, 1, 31), "'2024-01-31'"),
            (
                datetime(2009, 10, 14, 4, 5, 5, tzinfo=timezone(timedelta(hours=-7))),
                "'2009-10-14T04:05:05-07:00'",
            ),
            ("x'y", "'x\\'y'"),
        ],
    )
    def test_values_render(self, value: str | int | Decimal | date, expected: str) -> None:
        assert literal(value) == expected

    def test_naive_datetime_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="offset"):
            literal(datetime(2024, 1, 1))

    def test_non_finite_decimal_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="finite"):
            literal(Decimal("NaN"))

    def test_float_is_rejected(self) -> None:
        with pytest.raises(TypeError):
            literal(0.1)  # type: ignore[arg-type]


class TestSelect:
    def test_the_documented_example_renders_exactly(self) -> None:
        select = (
            Select(Customer)
            .where("PrimaryEmailAddr", "=", "o'brien@x.com")
            .include_inactive()
            .order_by("Id")
            .page(1, 1000)
        )
        assert str(select) == (
            "SELECT * FROM Customer WHERE PrimaryEmailAddr = 'o\\'brien@x.com' "
            "AND Active IN (true, false) ORDERBY Id STARTPOSITION 1 MAXRESULTS 1000"
        )

    def test_entity_by_name_and_bare_select(self) -> None:
        assert str(Select("Invoice")) == "SELECT * FROM Invoice"

    def test_every_operator(self) -> None:
        select = (
            Select("Invoice")
            .where("TotalAmt", ">", Decimal("300.00"))
            .where("TotalAmt", "<", 1000)
            .where("Balance", ">=", 0)
            .where("Balance", "<=", Decimal("5"))
            .where("MetaData.LastUpdatedTime", ">", datetime(2024, 6, 1, tzinfo=UTC))
            .where("DocNumber", "LIKE", "INV-%")
            .where("Id", "IN", ["1", "2", "3"])
            .order_by("TxnDate", desc=True)
        )
        assert str(select) == (
            "SELECT * FROM Invoice WHERE TotalAmt > 300.00 AND TotalAmt < 1000 AND Balance >= 0 "
            "AND Balance <= 5 AND MetaData.LastUpdatedTime > '2024-06-01T00:00:00+00:00' "
            "AND DocNumber LIKE 'INV-%' AND Id IN ('1', '2', '3') ORDERBY TxnDate DESC"
        )

    def test_in_escapes_every_member(self) -> None:
        select = Select(Customer).where("DisplayName", "IN", ["a'b", "c\\d"])
        assert str(select).endswith("DisplayName IN ('a\\'b', 'c\\\\d')")

    def test_count_drops_order_and_paging(self) -> None:
        select = Select(Customer).include_inactive().order_by("Id").page(1001, 1000).count()
        assert str(select) == "SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)"

    def test_builder_is_immutable(self) -> None:
        base = Select(Customer)
        base.where("Active", "=", True)
        base.page(1, 10)
        assert str(base) == "SELECT * FROM Customer"

    @pytest.mark.parametrize(
        "field", ["Name; DELETE", "1abc", "", "a b", "Display'Name", "a..b", "x)"]
    )
    def test_field_names_are_checked(self, field: str) -> None:
        with pytest.raises(ValueError, match="name"):
            Select(Customer).where(field, "=", "x")
        with pytest.raises(ValueError, match="name"):
            Select(Customer).order_by(field)

    def test_entity_names_are_checked(self) -> None:
        with pytest.raises(ValueError, match="name"):
            Select("Customer WHERE 1=1")
        with pytest.raises(ValueError, match="name"):
            Select(int)

    def test_unknown_operator_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="operator"):
            Select(Customer).where("Id", "!=", "1")  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("op", "value", "error"),
        [
            ("IN", "abc", TypeError),
            ("IN", [], ValueError),
            ("=", ["a"], TypeError),
            ("LIKE", 5, TypeError),
            ("=", "bad\nvalue", ValueError),
        ],
    )
    def test_bad_values_fail_at_where(self, op: str, value: object, error: type[Exception]) -> None:
        with pytest.raises(error):
            Select(Customer).where("DisplayName", op, value)  # type: ignore[arg-type]

    @pytest.mark.parametrize(("start", "size"), [(0, 10), (1, 0), (1, 1001), (-5, 10)])
    def test_page_bounds(self, start: int, size: int) -> None:
        with pytest.raises(ValueError, match=r"STARTPOSITION|MAXRESULTS"):
            Select(Customer).page(start, size)
