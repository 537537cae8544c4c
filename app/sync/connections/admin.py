"""What the CRM can see and change about a connection: describe, toggle, disconnect.

The API, the card and the CLI all call these: each operator action is implemented once here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionFactory, session_scope
from app.errors import PermanentError, TransientError
from app.logging import get_logger
from app.models.states import SyncState
from app.repositories import company_releases, crm_events, sync_log
from app.services.container import Services
from app.services.locations import require_connection
from app.sync.connections import status as connection_status
from app.sync.mapping.us import US_TAX_MODES, UsTaxMode

log = get_logger(__name__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def describe(session: AsyncSession, location_id: str) -> dict[str, Any]:
    connection = await require_connection(session, location_id)
    return {
        "location_id": connection.location_id,
        "realm_id": connection.realm_id,
        "status": connection.status.value,
        "status_reason": connection.status_reason,
        "import_invoices": connection.import_invoices,
        "review_automation": connection.review_automation,
        "us_tax_mode": connection.us_tax_mode,
        # None: QBO's default, Undeposited Funds / processor fees not recorded.
        "deposit_account_id": connection.deposit_account_id,
        "fee_expense_account_id": connection.fee_expense_account_id,
        "connected_at": _iso(connection.connected_at),
        "disconnected_at": _iso(connection.disconnected_at),
        "company": {
            "name": connection.company_name,
            "country": connection.country,
            "home_currency": connection.home_currency,
            "multicurrency": connection.multicurrency,
            "sales_tax_mode": connection.sales_tax_mode,
            "custom_txn_numbers": connection.custom_txn_numbers,
        },
        "import": {"state": connection.import_state, "progress": connection.import_progress},
        "crm_events": await crm_events.count_by_state(session, location_id),
        "sync": await sync_log.counts(session, connection.id),
        "last_errors": [
            {
                "id": e.id,
                "kind": e.kind,
                "crm_id": e.crm_id,
                "message": e.message,
                "action": e.action,
            }
            for e in await sync_log.search(session, connection.id, state=SyncState.FAILED, limit=5)
        ],
        # Companies this location let go of (DELETE ...?release_company=true), newest first.
        "released_companies": [
            {
                "realm_id": r.realm_id,
                "company_name": r.company_name,
                "released_at": _iso(r.released_at),
                "links_archived": r.link_count,
                "restored_at": _iso(r.restored_at),
            }
            for r in await company_releases.summaries(session, connection.id)
        ],
    }


async def set_review_automation(session: AsyncSession, location_id: str, enabled: bool) -> None:
    connection = await require_connection(session, location_id)
    connection.review_automation = enabled
    log.info("connection.review_automation.set", location_id=location_id, enabled=enabled)


async def set_us_tax_mode(session: AsyncSession, location_id: str, mode: UsTaxMode) -> None:
    """How a US company's documents carry the CRM's tax from now on (app/sync/mapping/us.py)."""
    if mode not in US_TAX_MODES:
        raise ValueError(f"unknown US tax mode {mode!r}")
    connection = await require_connection(session, location_id)
    connection.us_tax_mode = mode
    log.info("connection.us_tax_mode.set", location_id=location_id, mode=mode)


@dataclass(frozen=True, slots=True)
class DisconnectResult:
    realm_id: str | None
    revoked: bool


async def disconnect(
    factory: SessionFactory, services: Services, location_id: str
) -> DisconnectResult:
    """Revoke the tokens at Intuit and mark the connection disconnected; events still wait.

    No transaction is open while Intuit is called: read, call, then write."""
    oauth, cipher = services.oauth, services.cipher
    async with session_scope(factory) as session:
        connection = await require_connection(session, location_id)
        realm_id, refresh = connection.realm_id, connection.refresh_token_enc
    revoked = False
    if refresh is not None:
        try:
            await oauth.revoke(cipher.decrypt(refresh))
            revoked = True
        except (PermanentError, TransientError) as exc:
            # Our side stops either way; the operator can still revoke in Intuit's portal.
            log.warning("qbo.token.revoke_failed", location_id=location_id, error=str(exc))
    async with session_scope(factory) as session:
        connection = await require_connection(session, location_id)
        await connection_status.disconnect(session, connection, "disconnected by the CRM")
    log.info("connection.disconnected", location_id=location_id, revoked=revoked)
    # This process's cached access token must not outlive the connection.
    services.tokens.forget(realm_id or "")
    return DisconnectResult(realm_id=realm_id, revoked=revoked)
