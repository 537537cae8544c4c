"""SQL for the per-realm QBO request limits shared by every process."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Serialised per realm by a transaction-scoped advisory lock taken in an earlier statement (a
# READ COMMITTED statement sees rows committed before it began, so the lock must come first):
# two processes can never both see "9 in flight" and both start a tenth and an eleventh request.
_LOCK = text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:realm))")
_ACQUIRE = text(
    """
    WITH purge AS (
        DELETE FROM qbo_request_slots
        WHERE realm_id = :realm AND started_at < clock_timestamp() - interval '2 minutes'
          AND (finished_at IS NOT NULL OR lease_until < clock_timestamp())
    ),
    usage AS (
        SELECT
            count(*) FILTER (
                WHERE finished_at IS NULL AND lease_until > clock_timestamp()
            ) AS in_flight,
            count(*) FILTER (
                WHERE started_at > clock_timestamp() - interval '60 seconds'
            ) AS last_minute,
            min(started_at) FILTER (
                WHERE started_at > clock_timestamp() - interval '60 seconds'
            ) AS oldest,
            count(*) FILTER (
                WHERE started_at > clock_timestamp() - make_interval(secs => :second_s)
            ) AS last_second,
            min(started_at) FILTER (
                WHERE started_at > clock_timestamp() - make_interval(secs => :second_s)
            ) AS second_oldest
        FROM qbo_request_slots
        WHERE realm_id = :realm
    ),
    taken AS (
        INSERT INTO qbo_request_slots (realm_id, started_at, lease_until)
        SELECT :realm, clock_timestamp(), clock_timestamp() + make_interval(secs => :lease_s)
        FROM usage
        WHERE in_flight < :max_in_flight AND last_minute < :per_minute
          AND last_second < :per_second
        RETURNING id
    )
    SELECT
        (SELECT id FROM taken) AS slot_id,
        usage.in_flight,
        usage.last_minute,
        usage.last_second,
        extract(epoch FROM usage.oldest + interval '60 seconds' - clock_timestamp())
            AS window_wait_s,
        extract(
            epoch FROM usage.second_oldest + make_interval(secs => :second_s) - clock_timestamp()
        ) AS second_wait_s
    FROM usage
    """
)

_RELEASE = text("UPDATE qbo_request_slots SET finished_at = clock_timestamp() WHERE id = :slot_id")

LOCK_NAMESPACE = 7101


async def try_acquire(
    session: AsyncSession,
    realm_id: str,
    *,
    max_in_flight: int,
    per_minute: int,
    per_second: int,
    second_s: float,
    lease_s: float,
) -> tuple[int | None, float]:
    """Take a slot if the realm has room (in flight, started in the last minute and in the last
    `second_s`); returns (slot id or None, seconds worth waiting).

    Call in a transaction of its own and commit at once: the lock is held until then.
    """
    await session.execute(_LOCK, {"namespace": LOCK_NAMESPACE, "realm": realm_id})
    row = (
        await session.execute(
            _ACQUIRE,
            {
                "realm": realm_id,
                "max_in_flight": max_in_flight,
                "per_minute": per_minute,
                "per_second": per_second,
                "second_s": second_s,
                "lease_s": lease_s,
            },
        )
    ).one()
    if row.slot_id is not None:
        return int(row.slot_id), 0.0
    wait_s = 0.0
    if row.last_minute >= per_minute and row.window_wait_s is not None:
        wait_s = float(row.window_wait_s)
    if row.last_second >= per_second and row.second_wait_s is not None:
        wait_s = max(wait_s, float(row.second_wait_s))
    return None, max(wait_s, 0.01) if wait_s else 0.0


async def release(session: AsyncSession, slot_id: int) -> None:
    await session.execute(_RELEASE, {"slot_id": slot_id})
