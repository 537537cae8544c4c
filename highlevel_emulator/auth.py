"""Who is calling the API: the Bearer token, the `Version` header, and the rate limits.

Every v2 operation in apps/*.json lists a required `Version` header (enum ["2021-07-28"]) and
Bearer auth. UNKNOWN (README): HighLevel's answer when the header is missing (400 here).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from highlevel_emulator.errors import APIError, forbidden, unauthorized
from highlevel_emulator.oauth import emulator
from highlevel_emulator.state import Grant, HighLevelEmulator

API_VERSION = "2021-07-28"


async def _caller(request: Request) -> Grant:
    emu = emulator(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    grant = emu.store.access_tokens.get(token) if scheme.lower() == "bearer" else None
    if grant is None or grant.expires_at <= emu.now():
        raise unauthorized()
    verdict = emu.limiter.take(grant.location_id)
    if not verdict.allowed:
        # UNKNOWN (README): the 429 body text.
        raise APIError(429, "Too Many Requests", "Too Many Requests", verdict.headers)
    # app.py's middleware puts these on the answer, whichever Response the route builds.
    request.state.ratelimit_headers = verdict.headers
    if emu.config.require_version_header and request.headers.get("version") != API_VERSION:
        raise APIError(400, "Version header was not found or is not supported", "Bad Request")
    return grant


Caller = Annotated[Grant, Depends(_caller)]


def own_location(grant: Grant, location_id: str | None) -> str:
    """The location a call names must be the token's (a Location token acts for one location)."""
    if not location_id:
        raise APIError(422, ["locationId/altId must be given"], "Unprocessable Entity")
    if location_id != grant.location_id:
        raise forbidden()
    return location_id


def emu_of(request: Request) -> HighLevelEmulator:
    return emulator(request)
