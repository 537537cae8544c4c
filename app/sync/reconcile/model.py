"""What a reconciliation report says: one line per CRM document, and the sums at the top."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

Verdict = Literal["matched", "mismatch", "missing_in_qbo", "changed_in_qbo", "skipped"]
VERDICTS: tuple[Verdict, ...] = (
    "matched",
    "mismatch",
    "missing_in_qbo",
    "changed_in_qbo",
    "skipped",
)
# Lines a Re-sync can put right: the CRM's newest snapshot applied again.
RESYNCABLE: frozenset[str] = frozenset({"mismatch", "missing_in_qbo", "changed_in_qbo"})


def money_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@dataclass(frozen=True, slots=True)
class Document:
    """A CRM document as its newest snapshot describes it, and what QBO should hold for it."""

    # The sync-log subject kind: invoice | sales_receipt | refund.
    kind: str
    crm_id: str
    # What a person recognises it by: the invoice number, the payment's reference, the refund id.
    label: str
    day: date
    currency: str
    # The total QBO should show (0 for a voided or deleted invoice: QBO voids zero the amounts).
    total: Decimal
    # Invoices only: what the CRM says is paid and still due.
    amount_paid: Decimal | None = None
    balance: Decimal | None = None
    voided: bool = False


@dataclass(frozen=True, slots=True)
class QboDocument:
    """The QuickBooks side of a line, as read now."""

    entity: str
    qbo_id: str
    doc_number: str | None
    total: Decimal | None
    balance: Decimal | None
    sync_token: str | None
    updated_at: datetime | None

    @property
    def amount_paid(self) -> Decimal | None:
        if self.total is None or self.balance is None:
            return None
        return self.total - self.balance


@dataclass(frozen=True, slots=True)
class Difference:
    field: str
    crm: str | None
    qbo: str | None

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "crm": self.crm, "qbo": self.qbo}


@dataclass(frozen=True, slots=True)
class Line:
    document: Document
    verdict: Verdict
    # The QBO object the link names (kept for a deleted one, whose read is None).
    qbo_entity: str | None = None
    qbo_id: str | None = None
    qbo: QboDocument | None = None
    differences: tuple[Difference, ...] = ()
    reason: str | None = None

    @property
    def resync(self) -> bool:
        return self.verdict in RESYNCABLE

    def as_json(self) -> dict[str, Any]:
        doc, qbo = self.document, self.qbo
        return {
            "kind": doc.kind,
            "crm_id": doc.crm_id,
            "label": doc.label,
            "date": doc.day.isoformat(),
            "currency": doc.currency,
            "verdict": self.verdict,
            "reason": self.reason,
            "differences": [d.as_json() for d in self.differences],
            "crm": {
                "total": money_text(doc.total),
                "amount_paid": money_text(doc.amount_paid),
                "balance": money_text(doc.balance),
            },
            "qbo": {
                "entity": self.qbo_entity,
                "id": self.qbo_id,
                "doc_number": qbo.doc_number if qbo else None,
                "total": money_text(qbo.total) if qbo else None,
                "amount_paid": money_text(qbo.amount_paid) if qbo else None,
                "balance": money_text(qbo.balance) if qbo else None,
                "sync_token": qbo.sync_token if qbo else None,
                "updated_at": qbo.updated_at.isoformat() if qbo and qbo.updated_at else None,
            },
            "resync": self.resync,
        }


@dataclass(slots=True)
class Sums:
    count: int = 0
    crm_total: Decimal = Decimal(0)
    qbo_total: Decimal = Decimal(0)

    def add(self, line: Line) -> None:
        self.count += 1
        self.crm_total += line.document.total
        if line.qbo is not None and line.qbo.total is not None:
            self.qbo_total += line.qbo.total

    def as_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "crm_total": money_text(self.crm_total),
            "qbo_total": money_text(self.qbo_total),
        }


@dataclass(slots=True)
class Summary:
    """Counts and totals per verdict and per currency (totals of different currencies are
    never added together: each verdict's sums are split by currency)."""

    by_verdict: dict[str, dict[str, Sums]] = field(default_factory=dict)
    by_currency: dict[str, Sums] = field(default_factory=dict)

    @classmethod
    def of(cls, lines: list[Line]) -> Summary:
        summary = cls({verdict: {} for verdict in VERDICTS})
        for line in lines:
            currency = line.document.currency
            summary.by_verdict[line.verdict].setdefault(currency, Sums()).add(line)
            summary.by_currency.setdefault(currency, Sums()).add(line)
        return summary

    def count(self, verdict: str) -> int:
        return sum(sums.count for sums in self.by_verdict.get(verdict, {}).values())

    def as_json(self) -> dict[str, Any]:
        return {
            "by_verdict": {
                verdict: {
                    "count": self.count(verdict),
                    "by_currency": {c: s.as_json() for c, s in sorted(per.items())},
                }
                for verdict, per in self.by_verdict.items()
            },
            "by_currency": {c: s.as_json() for c, s in sorted(self.by_currency.items())},
        }


@dataclass(frozen=True, slots=True)
class Report:
    location_id: str
    run_id: int
    period_from: date
    period_to: date
    state: str
    started_at: datetime
    finished_at: datetime | None
    done: int
    total: int
    summary: dict[str, Any]
    lines: list[dict[str, Any]]
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "run_id": self.run_id,
            "from": self.period_from.isoformat(),
            "to": self.period_to.isoformat(),
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "progress": {"done": self.done, "total": self.total},
            "error": self.error,
            "summary": self.summary,
            "lines": self.lines,
        }
