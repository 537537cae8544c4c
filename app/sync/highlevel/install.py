"""A HighLevel Marketplace install finished: the code exchanged, the location and tokens kept.

HighLevel sends the browser back to our redirect URL with `code` (docs/oauth/Authorization.md);
the code is exchanged for a sub-account token (`user_type=Location`, whose answer carries the
`locationId`, apps/oauth.json) before any transaction opens, then the location is registered
(also as a row of `connections`, so the card and `GET /v1/connections/{id}` know it) and its
tokens are stored encrypted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.session import SessionFactory, session_scope
from app.errors import PermanentError
from app.logging import get_logger
from app.repositories import highlevel_locations
from app.services.highlevel import HighLevelApi

log = get_logger(__name__)


class HighLevelInstallError(PermanentError):
    """The install cannot finish here (no app configured, or no sub-account in the answer)."""

    http_status = 400
    public_code = "highlevel_install_failed"


async def complete_install(factory: SessionFactory, api: HighLevelApi, code: str) -> str:
    """Exchange the code, register the location, keep its tokens; returns the location id."""
    if api.oauth is None:
        raise HighLevelInstallError("HIGHLEVEL_CLIENT_ID is not set: this service has no app")
    tokens = await api.oauth.exchange_code(code)
    location_id = tokens.location_id
    if not location_id:
        raise HighLevelInstallError(
            "HighLevel answered without a sub-account (an agency-level install); install the app "
            "on each sub-account"
        )
    async with session_scope(factory) as session:
        await highlevel_locations.register(
            session, location_id, tokens.company_id, datetime.now(UTC)
        )
    await api.tokens.store(location_id, tokens)
    log.info("highlevel.install.completed", location_id=location_id, scopes=tokens.scope)
    return location_id
