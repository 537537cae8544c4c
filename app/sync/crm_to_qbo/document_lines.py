"""A CRM document as QBO lines for this company: items resolved, S4 applied, currency checked."""

from __future__ import annotations

from dataclasses import replace

from app.errors import PermanentError
from app.integrations.crm.schemas import InvoiceData, PaymentData
from app.integrations.quickbooks.entities import Ref, TaxCode, TaxRate
from app.integrations.quickbooks.query import Select
from app.services.tax_codes import TaxCodeCache
from app.sync.crm_to_qbo.items import ensure_items
from app.sync.flow import FlowContext
from app.sync.mapping.documents import (
    CompanyTaxCode,
    DocumentInput,
    MappedDocument,
    company_tax_codes,
    map_regional_document,
    map_us_document,
)


def is_us(ctx: FlowContext) -> bool:
    return (ctx.connection.country or "US").upper() in {"US", "USA"}


async def _tax_codes(ctx: FlowContext, cache: TaxCodeCache) -> list[CompanyTaxCode]:
    cached = cache.get(ctx.realm_id)
    if cached is not None:
        return cached
    codes = (await ctx.qbo.query(Select("TaxCode").order_by("Id"), TaxCode)).items
    rates = (await ctx.qbo.query(Select("TaxRate").order_by("Id"), TaxRate)).items
    result = company_tax_codes(
        [code.model_dump(by_alias=True, exclude_none=True) for code in codes],
        [rate.model_dump(by_alias=True, exclude_none=True) for rate in rates],
    )
    cache.put(ctx.realm_id, result)
    return result


def currency_ref(ctx: FlowContext, currency: str) -> Ref | None:
    home = (ctx.connection.home_currency or currency).upper()
    if currency.upper() == home:
        return None
    if not ctx.connection.multicurrency:
        raise PermanentError(
            f"The document is in {currency} but the QuickBooks company works in {home} only; "
            "turn on multicurrency in QuickBooks (Settings → Advanced → Currency) and retry"
        )
    return Ref(value=currency.upper())


def deposit_ref(ctx: FlowContext) -> Ref | None:
    """Where the connection's payments are deposited; None leaves QBO's default, Undeposited
    Funds (Intuit's SalesReceipt and Payment references, DepositToAccountRef)."""
    account = ctx.connection.deposit_account_id
    return Ref(value=account) if account else None


async def map_document(
    ctx: FlowContext, data: InvoiceData | PaymentData, cache: TaxCodeCache
) -> MappedDocument:
    """The document's QBO lines; a document QBO would total differently is refused first.

    The mapping runs once before any item is created (items stand in as "0"), so a document
    known to mismatch fails its entry with the reason before this flow writes anything for it.
    """
    document = DocumentInput(
        currency=data.currency,
        lines=data.line_items,
        discount=data.discount,
        totals_total=data.totals.total,
        totals_tax=data.totals.tax,
        totals_discount=data.totals.discount,
        item_ids=dict.fromkeys((line.name for line in data.line_items), "0"),
    )
    await _map(ctx, document, cache)
    item_ids = await ensure_items(ctx, [line.name for line in data.line_items])
    return await _map(ctx, replace(document, item_ids=item_ids), cache)


async def _map(ctx: FlowContext, document: DocumentInput, cache: TaxCodeCache) -> MappedDocument:
    if is_us(ctx):
        return map_us_document(document, "post" if ctx.connection.us_tax_mode == "post" else "fold")
    return map_regional_document(document, await _tax_codes(ctx, cache))
