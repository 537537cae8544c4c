from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sync.mapping.money import (
    apportion,
    check_places,
    from_units,
    minor_unit,
    plain,
    round_money,
    round_places,
    to_units,
    totals_match,
    unit_price_for,
)


class TestMinorUnit:
    @pytest.mark.parametrize(
        ("currency", "places"),
        [
            ("USD", 2),
            ("GBP", 2),
            ("EUR", 2),
            ("JPY", 0),
            ("KRW", 0),
            ("BHD", 3),
            ("KWD", 3),
            ("OMR", 3),
            ("TND", 3),
            ("JOD", 3),
            ("jpy", 0),
            ("XYZ", 2),
        ],
    )
    def test_places(self, currency: str, places: int) -> None:
        assert minor_unit(currency) == places


class TestRoundMoney:
    @pytest.mark.parametrize(
        ("value", "currency", "rounded"),
        [
            ("0.125", "USD", "0.13"),
            ("1861.075", "USD", "1861.08"),  # 128.35 kg x 14.50: qbo-api.md §10 pitfall 7
            ("0.124999", "USD", "0.12"),
            ("2.5", "JPY", "3"),
            ("1.0005", "BHD", "1.001"),
            ("-0.125", "USD", "-0.13"),
        ],
    )
    def test_half_up_at_the_minor_unit(self, value: str, currency: str, rounded: str) -> None:
        result = round_money(Decimal(value), currency)
        assert result == Decimal(rounded)
        assert str(result) == rounded


class TestUnits:
    def test_round_trip(self) -> None:
        assert to_units(Decimal("12.34"), "USD") == 1234
        assert to_units(Decimal("1234"), "JPY") == 1234
        assert from_units(-5, "USD") == Decimal("-0.05")
        assert from_units(1234, "BHD") == Decimal("1.234")

    def test_refuses_amounts_off_the_grid(self) -> None:
        with pytest.raises(ValueError, match="more places"):
            to_units(Decimal("1.5"), "JPY")


class TestApportion:
    def test_ties_go_to_the_earlier_position(self) -> None:
        assert apportion(1, [Decimal(1)] * 3) == [1, 0, 0]
        assert apportion(2, [Decimal(1)] * 3) == [1, 1, 0]

    def test_largest_remainder_wins(self) -> None:
        # Quotas 1.6667, 3.3333, 5: the 0.6667 remainder gets the unit.
        assert apportion(10, [Decimal(1), Decimal(2), Decimal(3)]) == [2, 3, 5]

    def test_negative_total_mirrors_the_positive_one(self) -> None:
        assert apportion(-1, [Decimal(1), Decimal(1)]) == [-1, 0]

    def test_zero_total_and_zero_weights(self) -> None:
        assert apportion(0, [Decimal(0), Decimal(0)]) == [0, 0]
        with pytest.raises(ValueError, match="zero weights"):
            apportion(1, [Decimal(0)])
        with pytest.raises(ValueError, match="negative"):
            apportion(1, [Decimal(-1), Decimal(2)])

    @settings(max_examples=300)
    @given(
        st.integers(-10_000, 10_000),
        st.lists(st.integers(0, 10_000), min_size=1, max_size=12).filter(any),
    )
    def test_sums_exactly_and_stays_within_a_unit_of_the_quota(
        self, total: int, raw: list[int]
    ) -> None:
        weights = [Decimal(w) for w in raw]
        shares = apportion(total, weights)
        assert sum(shares) == total
        whole = sum(weights)
        for share, weight in zip(shares, weights, strict=True):
            assert abs(Decimal(share) - total * weight / whole) < 1


class TestUnitPriceFor:
    @pytest.mark.parametrize(
        ("amount", "qty", "currency", "price"),
        [
            ("29.97", "3", "USD", "9.99"),  # the CRM price still fits
            ("32.44", "3", "USD", "10.813"),  # 3 x 9.99 + 8.25 % tax folded in
            ("14.99", "1.5", "USD", "9.99"),  # 14.985 rounds half-up to 14.99
            ("1099", "3", "JPY", "366.333"),  # right to the cent, so right to the yen too
            ("0.00", "4", "USD", "0.00"),
            ("1.234", "2", "BHD", "0.617"),
        ],
    )
    def test_fewest_places_that_satisfy_qbo(
        self, amount: str, qty: str, currency: str, price: str
    ) -> None:
        found = unit_price_for(Decimal(amount), Decimal(qty), currency)
        assert found == Decimal(price)
        assert found is not None
        assert round_places(Decimal(qty) * found, check_places(currency)) == Decimal(amount)

    def test_none_when_no_price_with_seven_places_fits(self) -> None:
        # 1.00 over 123,456,789 units needs a price finer than 0.0000001.
        assert unit_price_for(Decimal("1.00"), Decimal("123456789"), "USD") is None

    def test_none_for_a_non_positive_quantity(self) -> None:
        assert unit_price_for(Decimal("1.00"), Decimal(0), "USD") is None
        assert unit_price_for(Decimal("0"), Decimal(0), "USD") == Decimal(0)


class TestTotalsMatch:
    def test_exact_decimal_equality(self) -> None:
        assert totals_match(Decimal("1.5"), Decimal("1.50"))
        assert not totals_match(Decimal("1.50"), Decimal("1.51"))

    def test_refuses_floats(self) -> None:
        with pytest.raises(TypeError, match="Decimal"):
            totals_match(Decimal("1.5"), 1.5)  # type: ignore[arg-type]


def test_plain_drops_trailing_zeros() -> None:
    assert plain(Decimal("7.500000")) == "7.5"
    assert plain(Decimal("20.0")) == "20"
    assert plain(Decimal("1E+2")) == "100"
    assert plain(Decimal("9.975")) == "9.975"
