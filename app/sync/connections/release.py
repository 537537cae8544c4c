"""Releasing a location's QuickBooks company, so either side can be connected elsewhere.

A connection binds one location to one company (realm). Disconnecting stops syncing but keeps
the binding, so a location connected to the wrong company could never move. A release ends the
binding: the company's links and review decisions move into a `company_releases` record (kept
for audit), the company facts are forgotten, and the location is "not connected" again. The
sync log, the CRM events and their callbacks stay where they are: they are the location's
history, and waiting CRM events sync to whichever company is connected next.

Links are keyed by connection, and a connection belongs to one location, so another location
never sees them (a CRM id of one location means nothing in another). If the same company later
comes back to the same location, `restore_links` puts them back, so invoices synced before are
updated, not created twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.locking import LockNamespace, advisory_xact_lock
from app.db.session import SessionFactory, session_scope
from app.errors import AppError
from app.logging import get_logger
from app.models import Connection
from app.models.states import ConnectionStatus
from app.repositories import company_releases, connections
from app.services.container import Services
from app.services.locations import UnknownLocationError
from app.sync.connections import admin as connections_admin
from app.sync.connections import status as connection_status

log = get_logger(__name__)


class NoCompanyError(AppError):
    """The location has no company to release: never connected, or released already."""

    http_status = 409
    public_code = "no_company"

    def __init__(self, location_id: str) -> None:
        super().__init__(
            f"location {location_id!r} is not bound to a QuickBooks company (never connected, "
            "or released already); there is nothing to release"
        )


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    realm_id: str
    revoked: bool
    links_archived: int


def _forget_company(connection: Connection) -> None:
    """Everything that belonged to the company; the location's own settings stay."""
    connection.realm_id = None
    connection.company_name = None
    connection.country = None
    connection.home_currency = None
    connection.multicurrency = None
    connection.sales_tax_mode = None
    connection.custom_txn_numbers = None
    connection.income_account_id = None
    # Accounts of the released company: the next company starts from QBO's defaults.
    connection.deposit_account_id = None
    connection.fee_expense_account_id = None
    connection.set_import_state(None)
    connection.import_progress = {}
    connection.cdc_watermark = None
    connection.connected_at = None
    connection.token_refreshed_at = None
    connection.access_token_expires_at = None
    connection.refresh_token_expires_at = None


async def _bound_realm(factory: SessionFactory, location_id: str) -> tuple[str, bool]:
    async with session_scope(factory) as session:
        connection = await connections.get_by_location(session, location_id)
        if connection is None:
            raise UnknownLocationError(location_id)
        if connection.realm_id is None:
            raise NoCompanyError(location_id)
        return connection.realm_id, connection.status is not ConnectionStatus.DISCONNECTED


async def release_company(
    factory: SessionFactory, services: Services, location_id: str
) -> ReleaseResult:
    """Disconnect (revoking the tokens) if still connected, then release the company.

    The operator action behind DELETE ...?release_company=true and the card's Release."""
    realm_id, connected = await _bound_realm(factory, location_id)
    revoked = False
    if connected:
        revoked = (await connections_admin.disconnect(factory, services, location_id)).revoked
    async with session_scope(factory) as session:
        # The connect flow's order: the realm's lock first, then the row.
        await advisory_xact_lock(session, LockNamespace.CONNECT, realm_id)
        connection = await connections.get_by_location_for_update(session, location_id)
        if connection is None or connection.realm_id != realm_id:
            raise NoCompanyError(location_id)  # released (or reconnected) meanwhile
        release = await company_releases.archive(session, connection)
        _forget_company(connection)
        await connection_status.disconnect(
            session,
            connection,
            f"QuickBooks company {realm_id} was released; connect a company to resume syncing",
        )
    log.info(
        "connection.company.released",
        location_id=location_id,
        realm_id=realm_id,
        links_archived=release.link_count,
        revoked=revoked,
    )
    services.tokens.forget(realm_id)
    return ReleaseResult(realm_id=realm_id, revoked=revoked, links_archived=release.link_count)


async def restore_links(session: AsyncSession, connection: Connection, realm_id: str) -> None:
    """On connecting a company to a location with none: its own old links come back, if any.

    A job that was already running when the company was released can still have written a
    link of the old company; it joins that release's archive first, never the new company."""
    strays = await company_releases.sweep_strays(session, connection.id)
    if strays:
        log.warning(
            "connection.company.stray_links_archived",
            location_id=connection.location_id,
            rows=strays,
        )
    release = await company_releases.restore(session, connection.id, realm_id)
    if release is not None:
        log.info(
            "connection.company.links_restored",
            location_id=connection.location_id,
            realm_id=realm_id,
            links=release.link_count,
        )
