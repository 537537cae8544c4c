"""Reads from HighLevel's API that the inbound sync needs (paths and parameters from
GoHighLevel/highlevel-api-docs apps/invoices.json and apps/payments.json)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Protocol, TypeVar

from app.integrations.highlevel.http import HighLevelHttp, HighLevelUnavailableError
from app.integrations.highlevel.webhooks import HlInvoice, HlOrder, HlTransaction

T = TypeVar("T")
PAGE = 100
# A bound on one poll's reading (a million rows, about 17 minutes at HighLevel's 100 requests
# per 10 s), only so a list that never ends cannot loop forever. Reaching it is an error, never
# a silent cut: the poller's watermark must not move past rows it did not read.
MAX_PAGES = 10_000


def _too_many(path: str) -> HighLevelUnavailableError:
    return HighLevelUnavailableError(
        f"HighLevel {path} returned more than {MAX_PAGES * PAGE} rows in one poll; "
        "the watermark stays where it was"
    )


class TokenCaller(Protocol):
    """`HighLevelTokens.call`: run a request with the location's token (one retry after a 401)."""

    def call(self, location_id: str, request: Callable[[str], Awaitable[T]]) -> Awaitable[T]: ...


class HighLevelReads:
    def __init__(self, http: HighLevelHttp, tokens: TokenCaller) -> None:
        self._http = http
        self._tokens = tokens

    async def _get(self, location_id: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        async def request(token: str) -> dict[str, Any]:
            return await self._http.get(path, token=token, params=params, location_id=location_id)

        return await self._tokens.call(location_id, request)

    async def invoice(self, location_id: str, invoice_id: str) -> HlInvoice:
        """GET /invoices/{invoiceId} (GetInvoiceResponseDto: carries totalSummary.tax)."""
        body = await self._get(
            location_id, f"/invoices/{invoice_id}", {"altId": location_id, "altType": "location"}
        )
        return HlInvoice.model_validate(body)

    async def invoices_since(self, location_id: str, start: date) -> list[HlInvoice]:
        """GET /invoices/ (ListInvoicesResponseDto), every page from `startAt` (a day: the API
        filters by day, so the caller keeps only those updated after its watermark)."""
        found: list[HlInvoice] = []
        for page in range(MAX_PAGES):
            body = await self._get(
                location_id,
                "/invoices/",
                {
                    "altId": location_id,
                    "altType": "location",
                    "startAt": start.isoformat(),
                    "limit": str(PAGE),
                    "offset": str(page * PAGE),
                },
            )
            batch = body.get("invoices") or []
            found.extend(HlInvoice.model_validate(item) for item in batch)
            if len(batch) < PAGE:
                return found
        raise _too_many("/invoices/")

    async def order(self, location_id: str, order_id: str) -> HlOrder:
        """GET /payments/orders/{orderId} (the list omits items)."""
        body = await self._get(
            location_id,
            f"/payments/orders/{order_id}",
            {"locationId": location_id, "altId": location_id, "altType": "location"},
        )
        return HlOrder.model_validate(body)

    async def completed_orders_since(self, location_id: str, start: date) -> list[dict[str, Any]]:
        """GET /payments/orders (ListOrdersResponseDto `data`), completed ones from `startAt`."""
        return await self._pages(
            location_id,
            "/payments/orders",
            {
                "locationId": location_id,
                "altId": location_id,
                "altType": "location",
                "status": "completed",
                "startAt": start.isoformat(),
            },
        )

    async def transactions_since(self, location_id: str, start: date) -> list[HlTransaction]:
        """GET /payments/transactions (ListTxnsResponseDto `data`) from `startAt`."""
        rows = await self._pages(
            location_id,
            "/payments/transactions",
            {
                "locationId": location_id,
                "altId": location_id,
                "altType": "location",
                "startAt": start.isoformat(),
            },
        )
        return [HlTransaction.model_validate(row) for row in rows]

    async def _pages(
        self, location_id: str, path: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            body = await self._get(
                location_id, path, {**params, "limit": str(PAGE), "offset": str(page * PAGE)}
            )
            batch = body.get("data") or []
            found.extend(row for row in batch if isinstance(row, dict))
            if len(batch) < PAGE:
                return found
        raise _too_many(path)
