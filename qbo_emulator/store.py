"""Per-company (realm) in-memory state: records, indexes, request log, limits and faults."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qbo_emulator.jsonutil import JSON

NAME_HOLDERS = ("Customer", "Vendor", "Employee")
NAME_LIST = frozenset(
    {"Customer", "Vendor", "Employee", "Item", "Account", "TaxCode", "TaxRate", "PaymentMethod"}
)
TRANSACTIONS = frozenset(
    {"Invoice", "SalesReceipt", "Payment", "RefundReceipt", "CreditMemo", "Purchase"}
)
SINGLETONS = frozenset({"CompanyInfo", "Preferences"})
ALL_ENTITIES = NAME_LIST | TRANSACTIONS | SINGLETONS
BY_LOWER = {name.lower(): name for name in ALL_ENTITIES}


# Settings given when creating a company and changed by PATCH /_emulator/companies/{realm}:
# name -> type. Each one is an attribute of Company.
COMPANY_SETTINGS: dict[str, type] = {
    "name": str,
    "multicurrency": bool,
    "custom_txn_numbers": bool,
    "honor_requestid": bool,
    "warn_duplicate_doc_number": bool,
    # Preferences (qbo_emulator/companies.py `sync_preferences`): TaxPrefs.UsingSalesTax,
    # TaxPrefs.PartnerTaxEnabled, AccountingInfoPrefs.BookCloseDate ("YYYY-MM-DD", "" = none).
    "sales_tax": bool,
    "automated_sales_tax": bool,
    "book_close_date": str,
}


@dataclass
class Record:
    data: JSON
    updated: float
    deleted: bool = False
    voided: bool = False


@dataclass
class FaultRule:
    kind: str
    count: int | None = None
    probability: float | None = None
    delay_ms: int = 3000
    fmt: str | None = None

    def public(self) -> JSON:
        return {
            "kind": self.kind,
            "count": self.count,
            "probability": self.probability,
            "delay_ms": self.delay_ms,
            "format": self.fmt,
        }


@dataclass
class Company:
    realm_id: str
    name: str
    country: str
    currency: str
    multicurrency: bool
    sales_tax_rate: Decimal
    custom_txn_numbers: bool
    created: float
    entities: dict[str, dict[str, Record]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    display_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    item_names: dict[str, str] = field(default_factory=dict)
    doc_numbers: dict[str, dict[str, str]] = field(default_factory=dict)
    next_doc_number: int = 1001
    requestids: collections.OrderedDict[str, tuple[int, bytes, str]] = field(
        default_factory=collections.OrderedDict
    )
    requestids_running: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    request_log: collections.deque[JSON] = field(default_factory=collections.deque)
    request_counts: collections.Counter[str] = field(default_factory=collections.Counter)
    request_total: int = 0
    faults: list[FaultRule] = field(default_factory=list)
    # Throttle state (qbo_emulator/limits.py): request times in the last minute (realm) and
    # second (per app = OAuth client id), batch request times, requests running, 429s by kind.
    window: collections.deque[float] = field(default_factory=collections.deque)
    second_windows: dict[str, collections.deque[float]] = field(default_factory=dict)
    batch_window: collections.deque[float] = field(default_factory=collections.deque)
    batch_windows_by_app: dict[str, collections.deque[float]] = field(default_factory=dict)
    in_flight: int = 0
    in_flight_by_app: collections.Counter[str] = field(default_factory=collections.Counter)
    throttled: collections.Counter[str] = field(default_factory=collections.Counter)
    # invoice id -> payment id -> amount applied; the source of truth for Invoice.Balance
    applied: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    # credit memo or A/R expense id -> payment id -> amount a Payment used (qbo_emulator/refunds.py)
    linked: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    ast_tax_code_id: str = ""
    ast_tax_rate_id: str = ""
    # Company settings a test changes with PATCH /_emulator/companies/{realm} (COMPANY_SETTINGS).
    honor_requestid: bool = True
    warn_duplicate_doc_number: bool = True
    sales_tax: bool = True
    automated_sales_tax: bool = False
    book_close_date: str = ""

    @property
    def is_us(self) -> bool:
        return self.country == "US"

    def table(self, entity: str) -> dict[str, Record]:
        return self.entities.setdefault(entity, {})

    def new_id(self, entity: str) -> str:
        value = self.next_ids.get(entity, 1)
        self.next_ids[entity] = value + 1
        return str(value)

    def get(self, entity: str, entity_id: str) -> Record | None:
        record = self.table(entity).get(str(entity_id))
        if record is None or record.deleted:
            return None
        return record

    def live(self, entity: str) -> Iterator[Record]:
        return (r for r in self.table(entity).values() if not r.deleted)

    def put(self, entity: str, data: JSON, now: float) -> Record:
        record = Record(data=data, updated=now)
        self.table(entity)[str(data["Id"])] = record
        return record

    def name_owner(self, name: str) -> tuple[str, str] | None:
        return self.display_names.get(normalise_name(name))

    def record_request(self, entry: JSON, key: str, cap: int) -> None:
        self.request_total += 1
        self.request_counts[key] += 1
        self.request_log.append(entry)
        while len(self.request_log) > cap:
            self.request_log.popleft()

    def remember_response(self, request_id: str, value: tuple[int, bytes, str], cap: int) -> None:
        self.requestids[request_id] = value
        while len(self.requestids) > cap:
            self.requestids.popitem(last=False)


def normalise_name(name: Any) -> str:
    # QBO compares names case-insensitively and ignores surrounding blanks.
    return " ".join(str(name).split()).casefold()
