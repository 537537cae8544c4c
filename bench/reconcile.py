"""Reconciliation report: wall time for a period of 10,000 CRM invoices against the emulator.

Run: uv run python bench/reconcile.py [--invoices 10000]

Set up like bench/import.py (whose helpers it reuses): a PostgreSQL, the QBO emulator in a
process of its own (real limits, 0 ms latency), the service in this process. The emulator's
company is seeded with N invoices and imported (so each has an entity link); the links are then
turned into CRM-made ones and each gets a stored CRM `invoice.sent` snapshot dated in 2026 (a
synthetic input: the bench measures reading and comparing, not syncing). The clock runs around
one `GET /v1/connections/{loc}/reconciliation` for 2026. Reported: seconds, QBO queries sent for
the report (from the emulator's request log), verdict counts.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qbo_calls import (  # noqa: E402
    API_KEY,
    database,
    emulator_process,
    free_port,
    reset,
    serve,
    settings_for,
)

from app.db.provision import Database  # noqa: E402
from app.logging import configure_logging  # noqa: E402
from app.main import create_app  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_import", ROOT / "bench" / "import.py")
assert _spec is not None
assert _spec.loader is not None
bench_import = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_import)

LOCATION = "loc_import"


def snapshot(n: int, qbo_id: str) -> dict[str, Any]:
    total = "100.00"
    return {
        "id": f"evt_rec_{n}",
        "type": "invoice.sent",
        "occurred_at": "2026-06-01T00:00:00Z",
        "location_id": LOCATION,
        "data": {
            "id": f"inv_{qbo_id}",
            "number": f"R-{n}",
            "status": "sent",
            "issue_date": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "currency": "USD",
            "contact": {"id": f"c{n}", "email": None},
            "line_items": [{"name": "Work", "quantity": 1, "unit_price": total, "taxes": []}],
            "totals": {"subtotal": total, "discount": "0.00", "tax": "0.00", "total": total,
                       "amount_paid": "0.00", "amount_due": total},
        },
    }  # fmt: skip


def make_crm_documents(url: str) -> int:
    with psycopg.connect(url) as conn:
        links = conn.execute(
            "SELECT l.id, l.qbo_id FROM entity_links l JOIN connections c ON c.id = l.connection_id"
            " WHERE c.location_id = %s AND l.kind = 'invoice'",
            (LOCATION,),
        ).fetchall()
        for n, (link_id, qbo_id) in enumerate(links):
            conn.execute(
                "UPDATE entity_links SET origin = 'crm', crm_id = %s WHERE id = %s",
                (f"inv_{qbo_id}", link_id),
            )
            body = snapshot(n, qbo_id)
            conn.execute(
                "INSERT INTO crm_events (location_id, event_id, type, occurred_at, body_hash,"
                " payload, object_kind, object_id, state, attempts)"
                " VALUES (%s, %s, 'invoice.sent', now(), 'x', %s, 'invoice', %s, 'done', 1)",
                (LOCATION, body["id"], json.dumps(body), body["data"]["id"]),
            )
    return len(links)


async def run(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, Any]:
    import httpx

    emu_port, svc_port = free_port(), free_port()
    settings = settings_for(url, f"http://127.0.0.1:{emu_port}", svc_port, tmp)
    receiver = bench_import.Receiver()
    with bench_import.receiver_server(receiver) as callback_url:
        settings.crm.callback_url = callback_url
        app = create_app(settings, run_worker=True, database=Database(url))
        with emulator_process(emu_port) as emulator, serve(app, svc_port) as service:
            bench = bench_import.ImportBench(service, emulator, url)
            realm = await bench.company(100, args.invoices)
            await bench.connect(LOCATION)
            await bench.until(
                "SELECT import_state FROM connections WHERE location_id = 'loc_import'", "done"
            )
            documents = make_crm_documents(url.replace("+psycopg", ""))
            before = (await bench.request_log(realm))["total"]
            async with httpx.AsyncClient(timeout=900) as http:
                started = time.perf_counter()
                response = await http.get(
                    f"{service}/v1/connections/{LOCATION}/reconciliation",
                    params={"from": "2026-01-01", "to": "2026-12-31"},
                    headers={"Authorization": f"Bearer {API_KEY}"},
                )
                seconds = time.perf_counter() - started
            response.raise_for_status()
            after = (await bench.request_log(realm))["total"]
            await bench.http.aclose()
    body = response.json()
    verdicts = {v: s["count"] for v, s in body["summary"]["by_verdict"].items()}
    return {
        "documents": documents,
        "lines": len(body["lines"]),
        "seconds": round(seconds, 2),
        "qbo_requests": after - before,
        "verdicts": verdicts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=10000)
    args = parser.parse_args()
    configure_logging("WARNING")
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        reset(url)
        result = asyncio.run(run(args, url, Path(tmp)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
