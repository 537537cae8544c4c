"""Replaying real stored QBO documents through the emulator, in-process over ASGI.

Each stored document is POSTed to a fresh AU emulator company in the shape QBO stores it
(lines with their stored Amount, UnitPrice, Qty, TaxInclusiveAmt and tax code), with the
stored tax code and tax rate ids mapped to the emulator company's ids by percent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from qbo_emulator.app import create_app
from qbo_emulator.config import EmulatorConfig
from qbo_emulator.jsonutil import dumps

SAMPLES = Path(__file__).parent / "samples"
LINE_KEYS = ("Qty", "UnitPrice", "TaxInclusiveAmt")


def load(name: str) -> list[dict[str, Any]]:
    invoices: list[dict[str, Any]] = json.loads((SAMPLES / name).read_text(), parse_float=Decimal)[
        "Invoice"
    ]
    return invoices


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def sales_lines(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for line in doc["Line"] if line["DetailType"] == "SalesItemLineDetail"]


def code_rates(doc: dict[str, Any]) -> dict[str, Decimal]:
    """Stored tax code -> percent. Every sample document has one code and one tax line."""
    (tax_line,) = doc["TxnTaxDetail"]["TaxLine"]
    codes = {line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in sales_lines(doc)}
    return dict.fromkeys(codes, dec(tax_line["TaxLineDetail"]["TaxPercent"]))


class Company:
    """One emulator company (country AU) with a tax code per percent the document uses."""

    def __init__(self, http: httpx.AsyncClient, realm: str, token: str) -> None:
        self.http, self.realm, self.token = http, realm, token
        self.code_of: dict[Decimal, str] = {}
        self.rate_of: dict[Decimal, str] = {}

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    async def post(self, entity: str, body: dict[str, Any]) -> httpx.Response:
        url = f"/v3/company/{self.realm}/{entity.lower()}"
        # jsonutil.dumps writes Decimals as JSON numbers (92.5633333 stays 92.5633333).
        headers = self.headers | {"Content-Type": "application/json"}
        return await self.http.post(url, content=dumps(body), headers=headers)

    async def query(self, statement: str) -> list[dict[str, Any]]:
        url = f"/v3/company/{self.realm}/query"
        response = await self.http.get(url, params={"query": statement}, headers=self.headers)
        entity = statement.split()[3]
        result: list[dict[str, Any]] = response.json()["QueryResponse"][entity]
        return result

    async def load_tax_ids(self) -> None:
        rates = {r["Id"]: dec(r["RateValue"]) for r in await self.query("select * from TaxRate")}
        for code in await self.query("select * from TaxCode"):
            (detail,) = code["SalesTaxRateList"]["TaxRateDetail"]
            rate_id = detail["TaxRateRef"]["value"]
            self.code_of.setdefault(rates[rate_id], code["Id"])
            self.rate_of.setdefault(rates[rate_id], rate_id)


async def new_company(http: httpx.AsyncClient, percents: set[Decimal]) -> Company:
    spec = {
        "country": "AU",
        "tax_codes": [{"name": f"GST {p}%", "rate": str(p)} for p in sorted(percents)],
    }
    created = await http.post("/_emulator/companies", json=spec)
    assert created.status_code == 201, created.text
    realm = created.json()["realm_id"]
    tokens = (await http.post(f"/_emulator/companies/{realm}/tokens")).json()
    company = Company(http, realm, tokens["access_token"])
    await company.load_tax_ids()
    customer = await company.post("Customer", {"DisplayName": "Conformance buyer"})
    assert customer.status_code == 200, customer.text
    return company


def create_body(doc: dict[str, Any], company: Company, keys: tuple[str, ...]) -> dict[str, Any]:
    """The stored document as a create: its sales lines with `keys` of their detail, `Amount`
    only when "Amount" is in keys, the tax code mapped to the emulator's id."""
    rates = code_rates(doc)
    lines = []
    for stored in sales_lines(doc):
        detail = stored["SalesItemLineDetail"]
        code = detail["TaxCodeRef"]["value"]
        sent = {k: detail[k] for k in keys if k in detail}
        sent["TaxCodeRef"] = {"value": company.code_of[rates[code]]}
        line: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": sent}
        if "Amount" in keys:
            line["Amount"] = stored["Amount"]
        if "Description" in stored:
            line["Description"] = stored["Description"]
        lines.append(line)
    return {
        "CustomerRef": {"value": "1"},
        "GlobalTaxCalculation": doc["GlobalTaxCalculation"],
        "Line": lines,
    }


async def replay(
    http: httpx.AsyncClient, doc: dict[str, Any], keys: tuple[str, ...]
) -> tuple[Company, dict[str, Any]]:
    company = await new_company(http, set(code_rates(doc).values()))
    response = await company.post("Invoice", create_body(doc, company, keys))
    assert response.status_code == 200, response.text
    created: dict[str, Any] = json.loads(response.content, parse_float=Decimal)["Invoice"]
    return company, created


def money_view(doc: dict[str, Any], code_ids: dict[str, str], rate_ids: dict[str, str]) -> Any:
    """The money fields of a document, ids translated, numbers as Decimals for comparison."""
    lines = []
    for line in doc["Line"]:
        view: dict[str, Any] = {"DetailType": line["DetailType"], "Amount": dec(line["Amount"])}
        detail = line.get("SalesItemLineDetail")
        if detail is not None:
            view |= {k: dec(detail[k]) for k in LINE_KEYS if k in detail}
            view["TaxCode"] = code_ids.get(detail["TaxCodeRef"]["value"])
        lines.append(view)
    taxes = [
        {
            "Amount": dec(t["Amount"]),
            "TaxPercent": dec(t["TaxLineDetail"]["TaxPercent"]),
            "NetAmountTaxable": dec(t["TaxLineDetail"]["NetAmountTaxable"]),
            "TaxRate": rate_ids.get(t["TaxLineDetail"]["TaxRateRef"]["value"]),
            "PercentBased": t["TaxLineDetail"]["PercentBased"],
        }
        for t in doc["TxnTaxDetail"]["TaxLine"]
    ]
    return {
        "Line": lines,
        "TaxLine": taxes,
        "TotalTax": dec(doc["TxnTaxDetail"]["TotalTax"]),
        "TotalAmt": dec(doc["TotalAmt"]),
        "GlobalTaxCalculation": doc.get("GlobalTaxCalculation"),
        "TxnTaxCodeRef": doc["TxnTaxDetail"].get("TxnTaxCodeRef"),
    }


def stored_id_maps(doc: dict[str, Any], company: Company) -> tuple[dict[str, str], dict[str, str]]:
    """Stored code id -> emulator code id, stored rate id -> emulator rate id (by percent)."""
    codes = {code: company.code_of[pct] for code, pct in code_rates(doc).items()}
    rates = {
        t["TaxLineDetail"]["TaxRateRef"]["value"]: company.rate_of[
            dec(t["TaxLineDetail"]["TaxPercent"])
        ]
        for t in doc["TxnTaxDetail"]["TaxLine"]
    }
    return codes, rates


def identity(company: Company) -> tuple[dict[str, str], dict[str, str]]:
    codes = {v: v for v in company.code_of.values()}
    rates = {v: v for v in company.rate_of.values()}
    return codes, rates


async def emulator_client() -> AsyncIterator[httpx.AsyncClient]:
    config = EmulatorConfig(
        base_url="http://emu.test",
        seed=1234,
    )
    application = create_app(config)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://emu.test") as client:
            yield client
