"""QBO batch requests: up to 30 independent operations in one call (qbo-api.md §9).

Items run in no guaranteed order and each succeeds or faults on its own (HTTP 200 overall), so
results are matched to operations by `bId`, never by position. With a `requestid` QBO wants
`bId` ≤ 10 characters and the requestid ≤ 36; both are enforced always.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.integrations.quickbooks.entities import QboEntity, to_qbo_json
from app.integrations.quickbooks.errors import QboError, QboTransientError, error_from_fault
from app.integrations.quickbooks.query import QueryPage, Select, parse_entity, query_page

MAX_BATCH_ITEMS = 30
MAX_BID_LENGTH = 10
MAX_BATCH_REQUEST_ID_LENGTH = 36
# Name-list entities (Customer, Item, ...) cannot be deleted, only made inactive.
DELETABLE_ENTITIES = frozenset({"Invoice", "SalesReceipt", "Payment"})

BatchVerb = Literal["create", "update", "delete", "query"]


def require_deletable(entity: type[QboEntity]) -> None:
    if entity.entity_name not in DELETABLE_ENTITIES:
        raise ValueError(
            f"{entity.entity_name} cannot be deleted in QBO; send a sparse update with "
            "Active=false instead"
        )


@dataclass(frozen=True)
class BatchOperation:
    """One item of a batch. Build it with `create`, `update`, `delete` or `select`."""

    bid: str
    operation: BatchVerb
    entity: type[QboEntity]
    body: dict[str, Any] = field(default_factory=dict)
    query: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.bid) <= MAX_BID_LENGTH:
            raise ValueError(f"bId must be 1..{MAX_BID_LENGTH} characters: {self.bid!r}")

    @classmethod
    def create(cls, bid: str, obj: QboEntity) -> BatchOperation:
        return cls(bid, "create", type(obj), to_qbo_json(obj, sparse=False))

    @classmethod
    def update(cls, bid: str, obj: QboEntity) -> BatchOperation:
        """A sparse update; `obj` needs Id and SyncToken."""
        if obj.Id is None or obj.SyncToken is None:
            raise ValueError("a sparse update needs Id and SyncToken")
        return cls(bid, "update", type(obj), to_qbo_json(obj, sparse=True))

    @classmethod
    def delete(
        cls, bid: str, entity: type[QboEntity], entity_id: str, sync_token: str
    ) -> BatchOperation:
        require_deletable(entity)
        return cls(bid, "delete", entity, {"Id": entity_id, "SyncToken": sync_token})

    @classmethod
    def select(cls, bid: str, select: Select, entity: type[QboEntity]) -> BatchOperation:
        return cls(bid, "query", entity, query=str(select))

    def item(self) -> dict[str, Any]:
        """This operation as a `BatchItemRequest` entry."""
        if self.operation == "query":
            return {"bId": self.bid, "Query": self.query}
        return {"bId": self.bid, "operation": self.operation, self.entity.entity_name: self.body}


@dataclass(frozen=True)
class BatchResult:
    """What QBO answered for one operation: `error`, or `entity` / `query_page`."""

    bid: str
    operation: BatchVerb
    entity: QboEntity | None = None
    query_page: QueryPage[QboEntity] | None = None
    error: QboError | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def batch_body(operations: Sequence[BatchOperation]) -> dict[str, Any]:
    if not 1 <= len(operations) <= MAX_BATCH_ITEMS:
        raise ValueError(f"a batch takes 1..{MAX_BATCH_ITEMS} operations, got {len(operations)}")
    bids = [op.bid for op in operations]
    if len(set(bids)) != len(bids):
        raise ValueError("bIds in one batch must be unique")
    return {"BatchItemRequest": [op.item() for op in operations]}


def batch_results(
    operations: Sequence[BatchOperation], body: dict[str, Any], intuit_tid: str | None
) -> list[BatchResult]:
    """One result per operation, in the order the operations were given."""
    raw_items = body.get("BatchItemResponse")
    items = raw_items if isinstance(raw_items, list) else []
    by_bid = {item.get("bId"): item for item in items if isinstance(item, dict)}
    return [_result(op, by_bid.get(op.bid), intuit_tid) for op in operations]


def _result(op: BatchOperation, item: dict[str, Any] | None, tid: str | None) -> BatchResult:
    if item is None:
        # The outcome is unknown (the item may have run); retrying the batch is the remedy.
        missing = QboTransientError(f"QBO sent no result for batch item {op.bid}", intuit_tid=tid)
        return BatchResult(op.bid, op.operation, error=missing)
    fault = item.get("Fault") or item.get("fault")
    if isinstance(fault, dict):
        error = error_from_fault(fault, status=None, intuit_tid=tid)
        return BatchResult(op.bid, op.operation, error=error, raw=item)
    try:
        if op.operation == "query":
            page = query_page(item.get("QueryResponse"), op.entity)
            return BatchResult(op.bid, op.operation, query_page=page, raw=item)
        entity = parse_entity(op.entity, item.get(op.entity.entity_name))
    except QboTransientError as error:
        return BatchResult(op.bid, op.operation, error=error, raw=item)
    return BatchResult(op.bid, op.operation, entity=entity, raw=item)
