"""Changes of a connection's status, each told to the CRM by a `connection.status` callback."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Connection
from app.models.states import ConnectionStatus
from app.repositories import crm_callbacks
from app.sync.mapping.crm_payloads import connection_status


async def _announce(session: AsyncSession, connection: Connection) -> None:
    await crm_callbacks.enqueue(session, connection.location_id, connection_status(connection))


async def needs_reconnect(session: AsyncSession, connection: Connection, reason: str) -> None:
    connection.status = ConnectionStatus.NEEDS_RECONNECT
    connection.status_reason = (
        f"QuickBooks refused our access ({reason}); reconnect the company to resume syncing"
    )
    await _announce(session, connection)


async def activate(session: AsyncSession, connection: Connection) -> None:
    connection.status = ConnectionStatus.ACTIVE
    connection.status_reason = None
    connection.disconnected_at = None
    await _announce(session, connection)


async def disconnect(session: AsyncSession, connection: Connection, reason: str) -> None:
    connection.status = ConnectionStatus.DISCONNECTED
    connection.status_reason = reason
    connection.disconnected_at = datetime.now(UTC)
    connection.access_token_enc = None
    connection.refresh_token_enc = None
    connection.access_token_expires_at = None
    await _announce(session, connection)
