"""The typed QBO accounting client: one `QboClient` per process, one `RealmClient` per company.

Queries go out as `POST /query` with `Content-Type: application/text` and the statement as the
body, so the statement is never URL-encoded (and never lands in access logs); python-quickbooks
does the same. Every write carries a `requestid`: the caller's, or a random one made per call
when the caller gives none, so a retried write is replayed by QBO rather than applied twice.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from app.config import DEFAULT_EMULATOR_BASE_URL
from app.integrations.quickbooks.batch import (
    MAX_BATCH_REQUEST_ID_LENGTH,
    BatchOperation,
    BatchResult,
    batch_body,
    batch_results,
    require_deletable,
)
from app.integrations.quickbooks.entities import CompanyInfo, Preferences, to_qbo_json
from app.integrations.quickbooks.errors import QboNotFoundError
from app.integrations.quickbooks.query import (
    MAX_RESULTS_CAP,
    E,
    QueryPage,
    Select,
    parse_entity,
    query_page,
)
from app.integrations.quickbooks.transport import (
    QboResponse,
    RequestLimiter,
    TokenProvider,
    Transport,
    encode_json,
)
from app.logging import get_logger

__all__ = [
    "BatchOperation",
    "BatchResult",
    "QboClient",
    "QueryPage",
    "RealmClient",
    "RequestLimiter",
    "TokenProvider",
    "base_url_for",
]

BASE_URLS = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
    "production": "https://quickbooks.api.intuit.com",
    "emulator": DEFAULT_EMULATOR_BASE_URL,
}
MAX_REQUEST_ID_LENGTH = 50
CDC_MAX_OBJECTS = 1000
# Invoices void with ?operation=void; these void through an update with include=void.
VOID_BY_UPDATE = frozenset({"SalesReceipt", "Payment"})
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]+")


def base_url_for(environment: str, override: str | None) -> str:
    """The accounting API base URL: `override` (e.g. the emulator's) wins over Intuit's."""
    if override:
        return override.rstrip("/")
    try:
        return BASE_URLS[environment.lower()]
    except KeyError:
        raise ValueError(f"no QBO base URL for environment {environment!r}") from None


class QboClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        tokens: TokenProvider,
        limiter: RequestLimiter,
        minor_version: int = 75,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._transport = Transport(
            http,
            base_url=base_url,
            tokens=tokens,
            limiter=limiter,
            minor_version=minor_version,
            max_attempts=max_attempts,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            sleep=sleep,
            rng=rng or random.Random(),  # noqa: S311 - retry jitter, not security
        )

    def realm(self, realm_id: str) -> RealmClient:
        return RealmClient(self._transport, _checked_id(realm_id, "realm id"))


class RealmClient:
    """Calls for one QBO company. Cheap to create; holds no state of its own."""

    def __init__(self, transport: Transport, realm_id: str) -> None:
        self._transport = transport
        self.realm_id = realm_id

    async def read(self, entity: type[E], entity_id: str) -> E:
        path = f"/{_segment(entity)}/{_checked_id(entity_id, 'entity id')}"
        response = await self._get(path)
        return parse_entity(entity, response.body.get(entity.entity_name))

    async def query(self, select: Select | str, entity: type[E]) -> QueryPage[E]:
        return query_page(await self._query_response(select), entity)

    async def query_all(
        self, select: Select, entity: type[E], page_size: int = MAX_RESULTS_CAP
    ) -> AsyncIterator[list[E]]:
        """Non-empty pages until QBO returns a short one. Without an order, ORDERBY Id keeps
        pages stable while objects are added; any paging already on `select` is replaced."""
        if select.order is None:
            select = select.order_by("Id")
        start = 1
        while True:
            page = await self.query(select.page(start, page_size), entity)
            if page.items:
                yield page.items
            if len(page.items) < page_size:
                return
            start += page_size

    async def count(self, select: Select) -> int:
        query_response = await self._query_response(select.count())
        total = query_response.get("totalCount") if isinstance(query_response, dict) else None
        return total if isinstance(total, int) else 0

    async def create(self, obj: E, *, request_id: str) -> E:
        if obj.Id is not None:
            raise ValueError("create takes an object without Id; use sparse_update")
        return await self._write(type(obj), to_qbo_json(obj, sparse=False), {}, request_id)

    async def sparse_update(self, obj: E, *, request_id: str | None = None) -> E:
        """Sends only the fields set on `obj` (see `to_qbo_json`); QBO keeps all the others."""
        if obj.Id is None or obj.SyncToken is None:
            raise ValueError("a sparse update needs Id and SyncToken")
        return await self._write(type(obj), to_qbo_json(obj, sparse=True), {}, request_id)

    async def void(self, entity: type[E], entity_id: str, sync_token: str, *, request_id: str) -> E:
        body: dict[str, Any] = {"Id": entity_id, "SyncToken": sync_token}
        if entity.entity_name == "Invoice":
            params = {"operation": "void"}
        elif entity.entity_name in VOID_BY_UPDATE:
            params = {"operation": "update", "include": "void"}
            body["sparse"] = True
        else:
            raise ValueError(f"{entity.entity_name} cannot be voided through this client")
        return await self._write(entity, body, params, request_id)

    async def delete(self, entity: type[E], entity_id: str, sync_token: str) -> None:
        """Deletes a transaction. Already gone (610) counts as deleted, so retries are safe."""
        require_deletable(entity)
        body = encode_json({"Id": entity_id, "SyncToken": sync_token})
        params = {"operation": "delete", "requestid": _request_id(None, MAX_REQUEST_ID_LENGTH)}
        try:
            await self._transport.send(
                self.realm_id, "POST", f"/{_segment(entity)}", params=params, body=body
            )
        except QboNotFoundError:
            get_logger(__name__).info(
                "qbo.delete.already_gone",
                realm_id=self.realm_id,
                entity=entity.entity_name,
                entity_id=entity_id,
            )

    async def cdc(
        self, entities: Sequence[str], changed_since: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        """Raw changed objects per entity, deleted ones as `{"status": "Deleted", "Id": ...}`.

        QBO returns at most 1000 objects with no paging and looks back at most 30 days; when a
        type comes back with 1000 objects the caller should shrink the window and ask again."""
        if not entities:
            raise ValueError("cdc needs at least one entity name")
        if changed_since.tzinfo is None:
            raise ValueError("changed_since needs a UTC offset")
        params = {
            "entities": ",".join(_checked_id(name, "entity name") for name in entities),
            # Whole seconds: the documented examples carry none, and the overlap is harmless.
            "changedSince": changed_since.replace(microsecond=0).isoformat(),
        }
        response = await self._get("/cdc", params)
        changes = _cdc_changes(response.body, entities)
        if sum(len(rows) for rows in changes.values()) >= CDC_MAX_OBJECTS:
            get_logger(__name__).warning("qbo.cdc.truncated", realm_id=self.realm_id)
        return changes

    async def batch(
        self, operations: Sequence[BatchOperation], *, request_id: str | None = None
    ) -> list[BatchResult]:
        body = encode_json(batch_body(operations))
        request_id = _request_id(request_id, MAX_BATCH_REQUEST_ID_LENGTH)
        response = await self._transport.send(
            self.realm_id, "POST", "/batch", params={"requestid": request_id}, body=body
        )
        return batch_results(operations, response.body, response.intuit_tid)

    async def company_info(self) -> CompanyInfo:
        response = await self._get(f"/companyinfo/{self.realm_id}")
        return parse_entity(CompanyInfo, response.body.get("CompanyInfo"))

    async def preferences(self) -> Preferences:
        response = await self._get("/preferences")
        return parse_entity(Preferences, response.body.get("Preferences"))

    async def _query_response(self, select: Select | str) -> Any:
        response = await self._transport.send(
            self.realm_id,
            "POST",
            "/query",
            body=str(select).encode(),
            content_type="application/text",
        )
        return response.body.get("QueryResponse")

    async def _get(self, path: str, params: dict[str, str] | None = None) -> QboResponse:
        return await self._transport.send(self.realm_id, "GET", path, params=params)

    async def _write(
        self, entity: type[E], body: dict[str, Any], params: dict[str, str], request_id: str | None
    ) -> E:
        params = {**params, "requestid": _request_id(request_id, MAX_REQUEST_ID_LENGTH)}
        response = await self._transport.send(
            self.realm_id, "POST", f"/{_segment(entity)}", params=params, body=encode_json(body)
        )
        return parse_entity(entity, response.body.get(entity.entity_name))


def _segment(entity: type[Any]) -> str:
    name: str = entity.entity_name
    if not name:
        raise ValueError(f"{entity.__name__} is not a QBO entity with an endpoint")
    return name.lower()


def _checked_id(value: str, what: str) -> str:
    # Ids go into URL paths; a strict pattern keeps one realm's call from reaching another path.
    if not _SAFE_ID.fullmatch(value):
        raise ValueError(f"invalid {what}: {value!r}")
    return value


def _request_id(request_id: str | None, limit: int) -> str:
    if request_id is None:
        return uuid.uuid4().hex
    if len(request_id) > limit or not _SAFE_REQUEST_ID.fullmatch(request_id):
        raise ValueError(f"requestid must be 1..{limit} characters of [A-Za-z0-9._:-]")
    return request_id


def _cdc_changes(body: dict[str, Any], entities: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    changes: dict[str, list[dict[str, Any]]] = {name: [] for name in entities}
    lookup = {name.lower(): name for name in entities}
    for cdc in _list(body.get("CDCResponse")):
        for query_response in _list(cdc.get("QueryResponse")):
            for key, rows in query_response.items():
                name = lookup.get(key.lower())
                if name is not None and isinstance(rows, list):
                    changes[name].extend(row for row in rows if isinstance(row, dict))
    return changes


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
