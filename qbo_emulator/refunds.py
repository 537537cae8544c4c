"""RefundReceipt: money paid back to a customer for a sale.

Sources:
- Intuit's API reference, RefundReceipt
  (developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/refundreceipt):
  `Line` and `DepositToAccountRef` are required; DepositToAccountRef is "Account from which
  payment money is refunded ... where Account.AccountType is Other Current Asset or Bank";
  the read sample (copied to tests/emulator/samples/refundreceipt-read-intuit-doc.json) has
  `Balance` 0, `PrintStatus` NotSet, `PaymentRefNum` absent, the lines and subtotal line of a
  sales form, `TxnTaxDetail.TotalTax`, `ApplyTaxAfterDiscount` (US company) and a DocNumber.
- Lines, tax, currency and numbering follow the sales forms' rules (qbo_emulator/sales.py):
  the reference lists the same line types (SalesItemLine, GroupLine, DescriptionOnlyLine,
  DiscountLine, SubTotalLine) and the same tax fields as SalesReceipt.
- Void: qbo-api.md §12 (webhook operations: `Void` exists for RefundReceipt) with the sales
  forms' void (amounts zeroed, "Voided" memo).

UNKNOWN (verify-qbo "refund receipt from Undeposited Funds"): whether a real company refuses
Undeposited Funds (an Other Current Asset) as the refund account; the reference allows it, so
the emulator does. The code and text of the refusal of another account type are UNKNOWN too
(here 6000, the business-validation code, naming the account).
"""

from __future__ import annotations

from decimal import Decimal

from qbo_emulator import faults, sales
from qbo_emulator.jsonutil import JSON
from qbo_emulator.service import register
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company, Record

ZERO = Decimal(0)
REFUND_ACCOUNT_TYPES = frozenset({"Bank", "Other Current Asset"})


def _prepare_refund(
    emu: Emulator, company: Company, data: JSON, request: JSON, existing: Record | None
) -> None:
    if not data.get("DepositToAccountRef"):
        raise faults.required("DepositToAccountRef")
    # The sales forms' own rules (sales.py is another module's: its helpers are used as-is).
    sales._common(emu, company, "RefundReceipt", data, request, existing)
    sales.resolve_ref(company, data, "PaymentMethodRef", "PaymentMethod", required=False)
    account = sales.resolve_ref(company, data, "DepositToAccountRef", "Account", required=True)
    kind = account.data.get("AccountType") if account is not None else None
    if kind not in REFUND_ACCOUNT_TYPES:
        raise faults.business(
            f"A refund must be paid from a Bank or Other Current Asset account, not {kind}."
        )
    data["Balance"] = ZERO


register("RefundReceipt", sales._sales_handler("RefundReceipt", _prepare_refund))
