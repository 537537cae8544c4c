"""What a check works with: one company's raw API, its facts, and objects made with the prefix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.integrations.quickbooks.contract.cleanup import Tracker
from app.integrations.quickbooks.contract.raw import Answer, ContractHttpError, RawQbo, entity_of
from app.integrations.quickbooks.query import quote


@dataclass(frozen=True)
class CompanyFacts:
    realm_id: str
    country: str
    custom_txn_numbers: bool


def normalise_country(value: object) -> str:
    country = str(value or "US").upper()
    return "GB" if country == "UK" else country


async def read_facts(qbo: RawQbo) -> CompanyFacts:
    info = entity_of(await qbo.read("companyinfo", qbo.realm_id), "CompanyInfo", "read CompanyInfo")
    prefs = entity_of(await qbo.send("GET", "preferences"), "Preferences", "read Preferences")
    sales = prefs.get("SalesFormsPrefs")
    custom = isinstance(sales, dict) and sales.get("CustomTxnNumbers") is True
    return CompanyFacts(qbo.realm_id, normalise_country(info.get("Country")), custom)


@dataclass
class CheckSession:
    """One check's view of its company. `tag` makes this check's names unique within the run."""

    qbo: RawQbo
    facts: CompanyFacts
    tracker: Tracker
    tag: str
    # "emulator" | "sandbox": a check whose premise the emulator cannot build (a multi-rate tax
    # code) measures nothing there and is skipped on a sandbox company without it.
    target: str = "emulator"
    _names: int = field(default=0, init=False)
    _income_account: str | None = field(default=None, init=False)
    _customer: str | None = field(default=None, init=False)

    @property
    def prefix(self) -> str:
        return self.tracker.prefix

    def name(self, what: str) -> str:
        """A unique name this run made: `qbs-verify-<run>-<tag>-<n>-<what>`."""
        self._names += 1
        return f"{self.prefix}-{self.tag}-{self._names}-{what}"

    async def create(self, entity: str, body: dict[str, Any], **params: str) -> Answer:
        """A create whose object (if QBO makes one) is cleaned up after the check."""
        answer = await self.qbo.create(entity, body, **params)
        self.tracker.note(entity, answer)
        return answer

    async def customer_id(self) -> str:
        if self._customer is None:
            body = {"DisplayName": self.name("customer")}
            made = entity_of(await self.create("Customer", body), "Customer", "create customer")
            self._customer = str(made["Id"])
        return self._customer

    async def income_account_id(self) -> str:
        if self._income_account is None:
            rows = await self.qbo.query_rows(
                "select * from Account where AccountType = 'Income' maxresults 1", "Account"
            )
            if not rows:
                raise LookupError("the company has no Income account for a service item")
            self._income_account = str(rows[0]["Id"])
        return self._income_account

    async def item_id(self, *, taxable: bool | None = None) -> str:
        body: dict[str, Any] = {
            "Name": self.name("item"),
            "Type": "Service",
            "IncomeAccountRef": {"value": await self.income_account_id()},
        }
        if taxable is not None:
            body["Taxable"] = taxable
        made = entity_of(await self.create("Item", body), "Item", "create item")
        return str(made["Id"])

    async def account_id(self, field: str, value: str) -> str:
        """The first account (by Id) whose `field` is `value`, e.g. AccountType 'Bank'."""
        statement = f"select * from Account where {field} = {quote(value)} orderby Id"  # noqa: S608
        rows = await self.qbo.query_rows(statement, "Account")
        if not rows:
            raise LookupError(f"the company has no account with {field} {value!r}")
        return str(rows[0]["Id"])

    async def tax_code_id(self, name: str) -> str:
        rows = await self.rows_where("TaxCode", "Name", name)
        if not rows:
            raise LookupError(f"the company has no tax code named {name!r}")
        return str(rows[0]["Id"])

    async def rows_where(self, entity: str, field: str, value: str) -> list[dict[str, Any]]:
        statement = f"select * from {entity} where {field} = {quote(value)}"  # noqa: S608
        return await self.qbo.query_rows(statement, entity)

    def invoice_body(self, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        """An invoice this run made: PrivateNote starts with the prefix (cleanup reads it)."""
        return {"PrivateNote": f"{self.prefix} {self.tag}", "Line": lines, **fields}

    async def invoice(self, lines: list[dict[str, Any]], **fields: Any) -> Answer:
        body = self.invoice_body(lines, CustomerRef={"value": await self.customer_id()}, **fields)
        return await self.create("Invoice", body)

    async def invoice_ok(self, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        answer = await self.invoice(lines, **fields)
        if not answer.ok:
            raise ContractHttpError("create invoice", answer)
        return answer.entity("Invoice")
