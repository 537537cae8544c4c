"""Non-US tax arithmetic: the company's tax codes, picking one per line, and QBO's totals.

`predict` reproduces how QBO totals a non-US sales form (qbo-api.md §6.3/§6.6; real AU
invoices in tests/conformance/samples/, which the emulator's `qbo_emulator/money.py` reproduces):

* subtotal = sum of line amounts; a percent discount is round(subtotal x percent);
* the discount is shared over tax codes in proportion to their lines, each share rounded;
* TaxExcluded: per tax code and per rate, tax = round((lines - discount share) x rate);
  TaxInclusive: tax is backed out of the prices, so the total is subtotal - discount;
* NotApplicable: no tax.

When that total differs from the CRM's (the CRM rounds tax per line, QBO per tax code),
`settle` finds the smallest remedy: a rounding line at the 0 % code, or a line amount changed
by a few minor units. A TotalTax override is not an option: the emulator ignores it outside the
US and qbo-api.md §6.6 lists non-US overrides as UNCONFIRMED.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from app.integrations.crm.schemas import LineItem, Tax
from app.integrations.quickbooks.tax_codes import CompanyTaxCode
from app.sync.mapping.money import (
    HUNDRED,
    ZERO,
    MappingError,
    from_units,
    plain,
    round_money,
    to_units,
)

TaxMode = Literal["TaxExcluded", "TaxInclusive", "NotApplicable"]


@dataclass(frozen=True)
class QboDiscount:
    """The discount line as QBO will read it: percent-based, or a fixed amount."""

    percent: Decimal | None
    amount: Decimal

    def value(self, subtotal: Decimal, currency: str) -> Decimal:
        if self.percent is None:
            return self.amount
        return round_money(subtotal * self.percent / HUNDRED, currency)


@dataclass(frozen=True)
class Prediction:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


# --- the company's tax codes ---------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        # str() first: a float that slipped through keeps its shortest text, not binary noise.
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _sales_rates(code: Mapping[str, Any], rates: Mapping[str, Any]) -> tuple[Decimal, ...] | None:
    """Component rates of a code's sales side; None when the code cannot be used on sales."""
    details = (code.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
    found: list[Decimal] = []
    for detail in details:
        # Tax on tax compounds, so the code's rate is not the sum of its parts: not supported.
        if detail.get("TaxTypeApplicable") == "TaxOnTax":
            return None
        rate = rates.get(str((detail.get("TaxRateRef") or {}).get("value")))
        value = _decimal(rate.get("RateValue")) if rate else None
        if rate is None or rate.get("Active") is False or value is None:
            return None
        found.append(value)
    return tuple(found) or None


def _id_order(code_id: str) -> tuple[int, int | str]:
    return (0, int(code_id)) if code_id.isdigit() else (1, code_id)


def company_tax_codes(
    tax_codes: Sequence[Mapping[str, Any]], tax_rates: Sequence[Mapping[str, Any]]
) -> list[CompanyTaxCode]:
    """Active sales tax codes with their rates, from raw QBO TaxCode and TaxRate JSON.

    Inactive codes, purchase-only codes (no SalesTaxRateList rates), codes that point at a
    missing or inactive rate, and tax-on-tax codes are left out. Ordered by Id.
    """
    by_id = {str(rate.get("Id")): rate for rate in tax_rates}
    found: list[CompanyTaxCode] = []
    for code in tax_codes:
        components = _sales_rates(code, by_id) if code.get("Active") is not False else None
        if components is None or code.get("Id") is None:
            continue
        rate = sum(components, ZERO)
        code_id = str(code["Id"])
        found.append(CompanyTaxCode(code_id, str(code.get("Name") or code_id), rate, components))
    return sorted(found, key=lambda code: _id_order(code.id))


def _preference(
    code: CompanyTaxCode, taxes: Sequence[Tax]
) -> tuple[int, int, tuple[int, int | str]]:
    # Among codes with the right rate: the one made of the same rates (QBO rounds per rate),
    # then the one named like the CRM tax, then the lowest Id.
    wanted = sorted(tax.rate for tax in taxes if tax.rate != 0)
    same_parts = sorted(rate for rate in code.components if rate != 0) == wanted
    names = {tax.name.strip().casefold() for tax in taxes}
    return (0 if same_parts else 1, 0 if code.name.strip().casefold() in names else 1,
            _id_order(code.id))  # fmt: skip


def choose_code(taxes: Sequence[Tax], codes: Sequence[CompanyTaxCode]) -> CompanyTaxCode | None:
    """The code whose rate equals the sum of the line's tax rates (0 for an untaxed line)."""
    rate = sum((tax.rate for tax in taxes), ZERO)
    matches = [code for code in codes if code.rate == rate]
    return min(matches, key=lambda code: _preference(code, taxes), default=None)


def tax_mode(lines: Sequence[LineItem], codes: Sequence[CompanyTaxCode]) -> TaxMode:
    """One tax mode for the document: QBO applies GlobalTaxCalculation to all its lines."""
    taxed = [tax for line in lines for tax in line.taxes if tax.rate != 0]
    inclusive = [tax for tax in taxed if tax.inclusive]
    if inclusive and len(inclusive) < len(taxed):
        exclusive = next(tax for tax in taxed if not tax.inclusive)
        raise MappingError(
            f"The CRM document mixes tax-inclusive ('{inclusive[0].name}') and tax-exclusive "
            f"('{exclusive.name}') taxes, but QuickBooks applies one tax mode to a whole "
            "document; make its taxes all inclusive or all exclusive in the CRM"
        )
    if inclusive:
        return "TaxInclusive"
    has_zero_code = any(code.rate == 0 for code in codes)
    if taxed or has_zero_code or any(line.taxes for line in lines):
        return "TaxExcluded"
    # Nothing taxed and no 0 % code to put on the lines: the company may not charge tax at all.
    return "NotApplicable"


def _rates_text(taxes: Sequence[Tax]) -> str:
    return " + ".join(f"'{tax.name}' {plain(tax.rate)} %" for tax in taxes)


def _line_code(line: LineItem, number: int, codes: Sequence[CompanyTaxCode]) -> CompanyTaxCode:
    code = choose_code(line.taxes, codes)
    if code is not None:
        return code
    if not line.taxes:
        raise MappingError(
            f"Line {number} '{line.name}' has no tax in the CRM and QuickBooks has no 0 % tax "
            "code to mark it untaxed; create a 0 % (zero-rated or exempt) tax code in "
            "QuickBooks or add the tax to the line in the CRM"
        )
    rate = plain(sum((tax.rate for tax in line.taxes), ZERO))
    if len(line.taxes) == 1:
        what, kind = f"rate {rate} % (CRM tax '{line.taxes[0].name}')", "one"
    else:
        what = f"the combined rate {rate} % (CRM taxes {_rates_text(line.taxes)} on '{line.name}')"
        kind = "a combined tax code (tax group) with that rate"
    raise MappingError(
        f"No QuickBooks tax code has {what}; create {kind} in QuickBooks or change the rate "
        "in the CRM"
    )


def line_codes(
    lines: Sequence[LineItem], codes: Sequence[CompanyTaxCode], mode: TaxMode
) -> list[CompanyTaxCode | None]:
    """Each line's tax code (none when the document's tax is NotApplicable)."""
    if mode == "NotApplicable":
        return [None] * len(lines)
    return [_line_code(line, number, codes) for number, line in enumerate(lines, start=1)]


# --- QBO's totals ----------------------------------------------------------------------------


def _code_tax(
    rates: tuple[Decimal, ...], amount: Decimal, share: Decimal, currency: str
) -> Decimal:
    net = amount - share
    return sum((round_money(net * rate / HUNDRED, currency) for rate in rates), ZERO)


def predict(
    amounts: Sequence[Decimal],
    codes: Sequence[CompanyTaxCode | None],
    discount: QboDiscount | None,
    mode: TaxMode,
    currency: str,
) -> Prediction:
    """The totals QBO computes for these lines (see the module docstring)."""
    subtotal = sum(amounts, ZERO)
    taken = discount.value(subtotal, currency) if discount else ZERO
    groups: dict[str, tuple[tuple[Decimal, ...], Decimal]] = {}
    for amount, code in zip(amounts, codes, strict=True):
        if code is not None:
            rates, running = groups.get(code.id, (code.components, ZERO))
            groups[code.id] = (rates, running + amount)
    tax = ZERO
    if mode == "TaxExcluded":
        for rates, amount in groups.values():
            share = round_money(taken * amount / subtotal, currency) if subtotal else ZERO
            tax += _code_tax(rates, amount, share, currency)
    total = subtotal - taken + tax
    if mode == "TaxInclusive":
        tax = _inclusive_tax(groups.values(), taken, subtotal, currency)
    return Prediction(subtotal, taken, tax, total)


def _inclusive_tax(
    groups: Iterable[tuple[tuple[Decimal, ...], Decimal]],
    taken: Decimal,
    subtotal: Decimal,
    currency: str,
) -> Decimal:
    # Informational only (it does not change the total): gross - round(gross / (1 + rate)).
    tax = ZERO
    for rates, amount in groups:
        share = round_money(taken * amount / subtotal, currency) if subtotal else ZERO
        gross = amount - share
        rate = sum(rates, ZERO)
        tax += gross - round_money(gross * HUNDRED / (HUNDRED + rate), currency)
    return tax


@dataclass(frozen=True)
class Correction:
    index: int
    delta: Decimal


# How many minor units beyond the residue a remedy may go: a near miss first, then further.
REACHES = (2, 12)


@dataclass(frozen=True)
class Settlement:
    """What it took to make QBO's total equal the CRM's."""

    amounts: list[Decimal]  # the lines' amounts, one of them changed if ``fix`` says so
    discount: QboDiscount | None
    rounding: Decimal | None = None  # amount of an extra line at the 0 % code
    fix: Correction | None = None  # a line's amount changed by a few minor units


@dataclass(frozen=True)
class _Form:
    """One way of sending the document, and what QBO must compute for it to be right."""

    amounts: Sequence[Decimal]
    codes: Sequence[CompanyTaxCode | None]
    discount: QboDiscount | None
    mode: TaxMode
    currency: str
    target: Decimal

    def exact(self, amounts: Sequence[Decimal], codes: Sequence[CompanyTaxCode | None]) -> bool:
        # The discount QBO computes must stay the CRM's amount: only the remedy may differ.
        after = predict(amounts, codes, self.discount, self.mode, self.currency)
        taken = self.discount.amount if self.discount else ZERO
        return after.total == self.target and after.discount == taken

    def residue(self) -> int:
        predicted = predict(self.amounts, self.codes, self.discount, self.mode, self.currency)
        return to_units(self.target - predicted.total, self.currency)

    def attempt(
        self, rounding: int, fix: tuple[int, int] | None, zero: CompanyTaxCode | None
    ) -> Settlement | None:
        """Settlement with a rounding line of ``rounding`` units and/or (line, units) changed."""
        amounts, codes = list(self.amounts), list(self.codes)
        correction = None
        if fix is not None:
            index, units = fix
            correction = Correction(index, from_units(units, self.currency))
            amounts[index] += correction.delta
            if amounts[index] < 0:
                return None
        extra = from_units(rounding, self.currency) if rounding else None
        if extra is not None:
            amounts.append(extra)
            codes.append(zero)
        if not self.exact(amounts, codes):
            return None
        lines = amounts[: len(self.amounts)]
        return Settlement(lines, self.discount, rounding=extra, fix=correction)


def _steps(residue: int, reach: int) -> list[int]:
    """Non-zero unit changes up to ``reach`` beyond the residue, nearest the residue first."""
    steps = (residue + d * sign for d in range(abs(residue) + reach + 1) for sign in (1, -1))
    return [step for step in dict.fromkeys(steps) if step]


def _remedies(form: _Form, zero: CompanyTaxCode | None, reach: int) -> Iterator[Settlement]:
    """Exact settlements, preferred first.

    A rounding line at the 0 % code (the CRM's prices stay as they are); else one line's amount
    changed (largest line first, never below zero); else both. A line change alone cannot
    always work: with one tax code QBO's total is G + round(G x rate), which skips values;
    and a rounding line alone shifts how QBO shares the discount over the tax codes.
    """
    steps = _steps(form.residue(), reach)
    roundings = steps if zero is not None and form.mode != "NotApplicable" else []
    order = sorted(
        (i for i, amount in enumerate(form.amounts) if amount > 0),
        key=lambda i: (-form.amounts[i], i),
    )
    fixes = [(i, step) for step in sorted(steps, key=abs) for i in order]
    tries = itertools.chain(
        ((rounding, None) for rounding in roundings),
        ((0, fix) for fix in fixes),
        ((rounding, fix) for rounding in roundings for fix in fixes),
    )
    for rounding, fix in tries:
        settled = form.attempt(rounding, fix, zero)
        if settled is not None:
            yield settled


def qbo_discount(
    percent: Decimal | None, taken: Decimal, subtotal: Decimal, currency: str
) -> QboDiscount | None:
    """Percent-based when QBO's rounding of the percent gives the CRM's amount, else the amount."""
    if taken == 0:
        return None
    if percent is not None and QboDiscount(percent, taken).value(subtotal, currency) == taken:
        return QboDiscount(percent, taken)
    return QboDiscount(None, taken)


def settle(
    amounts: Sequence[Decimal],
    codes: Sequence[CompanyTaxCode | None],
    discount: QboDiscount | None,
    mode: TaxMode,
    currency: str,
    target: Decimal,
    zero: CompanyTaxCode | None,
) -> Settlement | None:
    """Make QBO's total equal ``target``, changing as little as possible (see `_remedies`).

    A percent discount is tried as a percent, then as its amount (which no remedy can move).
    ``zero`` is the company's 0 % code, for a rounding line. None when nothing works: the
    caller reports the document instead of pushing it.
    """
    forms = [_Form(amounts, codes, discount, mode, currency, target)]
    if discount is not None and discount.percent is not None:
        fixed = QboDiscount(None, discount.amount)
        forms.append(_Form(amounts, codes, fixed, mode, currency, target))
    for form in forms:
        if form.exact(amounts, codes):
            return Settlement(list(amounts), form.discount)
    # Near a 100 % discount QBO's rounding of the discount shares gets erratic: look further.
    for reach, form in itertools.product(REACHES, forms):
        found = next(_remedies(form, zero, reach), None)
        if found is not None:
            return found
    return None
