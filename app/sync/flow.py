"""What every CRM -> QBO flow shares: the connection's QBO client, request counting, request ids."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations.quickbooks.client import QboClient, RealmClient, RequestLimiter
from app.models import Connection
from app.services.container import Services


class CountingLimiter:
    """Counts the QBO requests one flow makes (each passes through the limiter once)."""

    def __init__(self, inner: RequestLimiter) -> None:
        self._inner = inner
        self.count = 0

    @asynccontextmanager
    async def slot(self, realm_id: str) -> AsyncIterator[None]:
        self.count += 1
        async with self._inner.slot(realm_id):
            yield


@dataclass
class FlowContext:
    session: AsyncSession
    connection: Connection
    qbo: RealmClient
    counter: CountingLimiter
    notes: list[str] = field(default_factory=list)
    qbo_ids: dict[str, Any] = field(default_factory=dict)
    # How many times this document's sync already failed for good. QBO answers a repeated
    # requestid with the original answer, a fault included, so a retry after a fix needs a new
    # one, while a retry after an uncertain (transient) failure must reuse the old one.
    generation: int = 0
    document: tuple[str, str] = ("", "")
    # Creates go through this client: it never resends a create itself, since a resent create
    # whose first answer was lost makes a twin when QBO does not replay the requestid; the
    # retry goes through `lookups.create_once`, which looks for the object first.
    qbo_create: RealmClient | None = None
    # Seconds after a create is sent by which it has surely ended in QBO (QboSettings).
    write_settle_s: float = 130.0

    @property
    def realm_id(self) -> str:
        assert self.connection.realm_id is not None
        return self.connection.realm_id

    def request_id(self, *parts: str) -> str:
        return request_id(self.realm_id, *self.document, str(self.generation), *parts)


def flow_context(session: AsyncSession, services: Services, connection: Connection) -> FlowContext:
    assert connection.realm_id is not None
    counter = CountingLimiter(services.limiter)
    client = QboClient(
        services.http, base_url=services.qbo_base_url, tokens=services.tokens, limiter=counter
    )
    once = QboClient(
        services.http,
        base_url=services.qbo_base_url,
        tokens=services.tokens,
        limiter=counter,
        max_attempts=1,
    )
    return FlowContext(
        session=session,
        connection=connection,
        qbo=client.realm(connection.realm_id),
        counter=counter,
        qbo_create=once.realm(connection.realm_id),
        write_settle_s=services.settings.qbo.write_settle_s,
    )


def request_id(realm_id: str, *parts: str) -> str:
    """A deterministic QBO requestid: a retry of the same write replays instead of duplicating."""
    digest = hashlib.sha256("\x1f".join((realm_id, *parts)).encode()).hexdigest()
    return f"qs-{digest[:44]}"


def marker(kind: str, crm_id: str) -> str:
    """Written into PrivateNote so a document can be recognised as ours after an uncertain write."""
    return f"[qbo-sync {kind} {crm_id}]"
