"""A CRM location as every operator action finds it: its connection row, or a 404."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError
from app.models import Connection
from app.repositories import connections


class UnknownLocationError(AppError):
    """No connection row for the location: it never started connecting here."""

    http_status = 404
    public_code = "unknown_location"

    def __init__(self, location_id: str) -> None:
        super().__init__(
            f"location {location_id!r} is not known to this service; register it with "
            "POST /v1/connections first"
        )
        self.location_id = location_id


async def require_connection(session: AsyncSession, location_id: str) -> Connection:
    """The location's connection, or UnknownLocationError."""
    connection = await connections.get_by_location(session, location_id)
    if connection is None:
        raise UnknownLocationError(location_id)
    return connection
