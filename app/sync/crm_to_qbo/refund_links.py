"""What the refund flows share: the sync-log subject, the link kinds, the wait for a payment."""

from __future__ import annotations

from app.errors import TransientError

KIND = "refund"
# Entity-link kinds, by the QBO object a refund made (QBO ids are unique per entity only).
RECEIPT_LINK = "refund_receipt"
CREDIT_LINK = "refund_credit_memo"
EXPENSE_LINK = "refund_expense"
PAYMENT_LINK = "refund_payment"
# A refund is in QuickBooks once it has one of these (a receipt, or a credit memo).
LINK_KINDS = (RECEIPT_LINK, CREDIT_LINK)


class PaymentNotSyncedError(TransientError):
    """The refunded payment is not in QuickBooks yet: the refund is retried until it is, and
    ends failed with this reason once the retries are spent."""
