"""Per-process cache of each company's sales tax codes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.integrations.quickbooks.tax_codes import CompanyTaxCode

_TAX_CODES_TTL_S = 600.0


@dataclass
class TaxCodeCache:
    """A company's tax codes change rarely; reading them per document would double its cost."""

    ttl_s: float = _TAX_CODES_TTL_S
    _entries: dict[str, tuple[float, list[CompanyTaxCode]]] = field(default_factory=dict)

    def get(self, realm_id: str) -> list[CompanyTaxCode] | None:
        entry = self._entries.get(realm_id)
        if entry is None or time.monotonic() - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def put(self, realm_id: str, codes: list[CompanyTaxCode]) -> None:
        self._entries[realm_id] = (time.monotonic(), codes)
