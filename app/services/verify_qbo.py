"""verify-qbo against a real Intuit sandbox: the location's company, reached with its stored token.

The checks (app/integrations/quickbooks/contract) write and then void or deactivate objects, so
this refuses any company that is not a sandbox: QBO_ENVIRONMENT must be `sandbox` and the API
host must not be Intuit's production one. The token comes from the service's TokenService, so a
refresh it needs is stored like any other (no refresh token is lost by running the checks).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from app.config import QboEnvironment, Settings
from app.db.session import SessionFactory, session_scope
from app.errors import AppError
from app.integrations.http import AsyncClient
from app.integrations.quickbooks.contract import Check, Report, SandboxTarget, run_checks
from app.integrations.quickbooks.contract.runner import new_run_id
from app.logging import get_logger
from app.models.states import ConnectionStatus
from app.services.container import qbo_base_url
from app.services.locations import require_connection
from app.services.tokens import TokenService

log = get_logger(__name__)

PRODUCTION_HOST = "quickbooks.api.intuit.com"


class VerifyRefusedError(AppError):
    """verify-qbo would write test objects where it must not, or has no company to run on."""

    http_status = 400
    public_code = "verify_refused"


def refuse_unless_sandbox(settings: Settings) -> str:
    """The sandbox API base URL; VerifyRefusedError for production (never write test objects
    into a live company) or for the emulator setting (that mode starts its own emulator)."""
    environment = settings.qbo.environment
    if environment is QboEnvironment.PRODUCTION:
        raise VerifyRefusedError(
            "QBO_ENVIRONMENT=production: verify-qbo creates and voids test objects and never "
            "runs against a live company; connect a sandbox company with QBO_ENVIRONMENT=sandbox"
        )
    if environment is not QboEnvironment.SANDBOX:
        raise VerifyRefusedError(
            "--location needs QBO_ENVIRONMENT=sandbox (without it verify-qbo runs against a "
            "fresh emulator)"
        )
    base_url = qbo_base_url(settings)
    if urlsplit(base_url).hostname == PRODUCTION_HOST:
        raise VerifyRefusedError(f"QBO_API_BASE_URL {base_url} is Intuit's production API")
    return base_url


async def connected_realm(factory: SessionFactory, location_id: str) -> str:
    """The realm of the location's active connection (made by the normal OAuth connect)."""
    async with session_scope(factory) as session:
        connection = await require_connection(session, location_id)
        realm_id, status = connection.realm_id, connection.status
    if realm_id is None or status is not ConnectionStatus.ACTIVE:
        raise VerifyRefusedError(
            f"location {location_id!r} has no active QuickBooks connection ({status.value}); "
            "connect it to a sandbox company first"
        )
    return realm_id


async def run_on_sandbox(
    settings: Settings,
    factory: SessionFactory,
    tokens: TokenService,
    http: AsyncClient,
    location_id: str,
    checks: Sequence[Check],
) -> Report:
    base_url = refuse_unless_sandbox(settings)
    realm_id = await connected_realm(factory, location_id)

    async def token() -> str:
        return await tokens.access_token(realm_id)

    run_id = new_run_id()
    log.info("verify_qbo.sandbox.started", realm_id=realm_id, run_id=run_id)
    report = await run_checks(SandboxTarget(http, base_url, realm_id, token), checks, run_id)
    log.info("verify_qbo.sandbox.finished", realm_id=realm_id, run_id=run_id, **report.summary())
    return report
