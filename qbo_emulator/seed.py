"""Bulk data for tests and benchmarks: thousands of customers and invoices in seconds."""

from __future__ import annotations

from decimal import Decimal

from qbo_emulator import service
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company

FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
)


def seed(emu: Emulator, company: Company, customers: int, invoices: int) -> tuple[int, int]:
    """Create through the normal service path (same rules, same shapes) with webhooks muted,
    since seeded data stands for what existed before the app connected."""
    emu.webhooks.muted = True
    try:
        ids = [_customer(emu, company) for _ in range(customers)]
        if not ids:
            ids = [r.data["Id"] for r in company.live("Customer")]
        if invoices and not ids:
            ids = [_customer(emu, company)]
        for n in range(invoices):
            _invoice(emu, company, ids[emu.rng.randrange(len(ids))], n)
    finally:
        emu.webhooks.muted = False
    return customers, invoices


def _customer(emu: Emulator, company: Company) -> str:
    number = company.next_ids.get("Customer", 1)
    given, family = FIRST[number % len(FIRST)], LAST[number % len(LAST)]
    name = f"{given} {family} {number:05d}"
    while company.name_owner(name) is not None:
        name += "+"
    body = {
        "DisplayName": name,
        "GivenName": given,
        "FamilyName": family,
        "CompanyName": f"{family} Holdings {number}",
        "PrimaryEmailAddr": {"Address": f"{given.lower()}.{family.lower()}.{number}@example.com"},
        "PrimaryPhone": {"FreeFormNumber": f"(555) {number % 1000:03d}-{number % 10000:04d}"},
    }
    return str(service.create(emu, company, "Customer", body)["Id"])


def _invoice(emu: Emulator, company: Company, customer_id: str, n: int) -> None:
    rng = emu.rng
    lines = []
    for _ in range(rng.randint(1, 3)):
        qty = Decimal(rng.randint(1, 5))
        price = Decimal(rng.randint(500, 50000)) / 100
        detail = {"ItemRef": {"value": "1"}, "Qty": qty, "UnitPrice": price}
        if company.is_us:
            detail["TaxCodeRef"] = {"value": "TAX" if rng.random() < 0.5 else "NON"}
        else:
            detail["TaxCodeRef"] = {"value": _first_tax_code(company)}
        lines.append(
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": qty * price,
                "SalesItemLineDetail": detail,
            }
        )
    body = {"CustomerRef": {"value": customer_id}, "Line": lines, "PrivateNote": f"seed {n}"}
    service.create(emu, company, "Invoice", body)


def _first_tax_code(company: Company) -> str:
    return next(str(r.data["Id"]) for r in company.live("TaxCode"))
