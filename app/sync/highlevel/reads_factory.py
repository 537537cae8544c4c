"""HighLevel's reads built from the shared API parts (one place for the route and the poller)."""

from __future__ import annotations

from app.integrations.highlevel.reads import HighLevelReads
from app.services.highlevel import HighLevelApi


def reads_of(api: HighLevelApi) -> HighLevelReads:
    return HighLevelReads(api.http, api.tokens)
