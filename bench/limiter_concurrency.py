"""How much of the 10-in-flight QBO budget the Postgres realm limiter lets a realm use.

Run: uv run python bench/limiter_concurrency.py [--callers 50] [--hold-ms 20] [--rounds 5]

A PostgreSQL (DATABASE_URL's server when set, else an embedded one in a temporary directory; a
fresh database), two limiter instances standing for two processes, and `callers` concurrent
callers of one realm each holding a slot for `hold-ms`. Reported per round: the peak in flight
(never above 10: the test suite asserts that bound; how close to 10 it gets depends on the
machine's load, hence measured here rather than asserted) and the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import migrate  # noqa: E402
from app.db.session import create_engine, create_session_factory  # noqa: E402
from app.services.qbo_limiter import PostgresRealmLimiter  # noqa: E402
from bench.harness import fresh_database, postgres_server  # noqa: E402


async def one_round(url: str, callers: int, hold_s: float, realm: str) -> tuple[int, float]:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    limiters = [PostgresRealmLimiter(factory), PostgresRealmLimiter(factory)]
    in_flight = 0
    peak = 0

    async def call(limiter: PostgresRealmLimiter) -> None:
        nonlocal in_flight, peak
        async with limiter.slot(realm):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(hold_s)
            in_flight -= 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(call(limiters[n % 2]) for n in range(callers)))
    finally:
        await engine.dispose()
    return peak, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--hold-ms", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with postgres_server() as admin_url, fresh_database(admin_url, "qbs_bench_limiter") as url:
        migrate.upgrade(url)
        for n in range(args.rounds):
            peak, took = asyncio.run(
                one_round(url, args.callers, args.hold_ms / 1000, f"realm-{n}")
            )
            print(
                f"round {n + 1}: peak in flight {peak} of 10, {args.callers} calls in {took:.2f} s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
