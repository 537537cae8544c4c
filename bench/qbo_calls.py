"""QBO requests per synced object, and CRM events synced per second, against the emulator.

Run: uv run python bench/qbo_calls.py [--invoices 100] [--throughput 200] [--webhooks both]

Everything runs on this machine: a PostgreSQL (DATABASE_URL when set, else an embedded one in a
temporary directory), the QBO emulator (0 ms latency, caps lifted: see below) and the service
with its in-process worker, each served by uvicorn on 127.0.0.1. Signed CRM events go in
through the real intake endpoint. QBO requests are counted from the emulator's own request log.

Intuit's per-realm caps (10 requests a second, 500 a minute) are lifted on both sides here, in
the emulator (its flags) and in the service (QBO_REQUESTS_PER_*), and in the bare-create
baseline: this bench measures requests per object and our overhead per event, not Intuit's
throttle; bench/realm_throughput.py measures the service under the real caps.

Webhooks: every real deployment has QBO webhooks on, and each object we write announces itself
through one. The bench runs twice (`--webhooks both`, the default): once with the emulator
sending no webhooks, once with its webhooks delivered to the service's /v1/qbo/webhooks (signed
with the verifier token the service has). With webhooks on, a measure ends when every webhook
was delivered and every change of a synced entity is processed, so the reads they cost (none
for the echoes of our own writes: app/sync/own_echoes.py) are counted.

Reported (per mode, `webhooks_off` and `webhooks_on`):
- requests for a first-time customer's invoice (customer + items + invoice);
- requests per invoice in steady state (known customer and items; target <= 1.05, floor 1),
  sent all at once and sent one at a time (each waits for the last: a webhook then announces
  one object, so a read of it is not shared with others in one query);
- requests per sales receipt and per invoice payment in steady state;
- events synced per second over several locations (one realm each, so QBO's 500 requests a
  minute per realm is not what is measured), as a ratio to the emulator's own rate for the same
  number of bare invoice creates over the same realms (the baseline, measured in the same run).
The emulator runs in a process of its own; the service and its worker share this one.
Results: stdout, and bench/results/qbo_calls-<utc>.json (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import uvicorn
from cryptography.fernet import Fernet
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import CrmSettings, QboSettings, Settings  # noqa: E402
from app.db import migrate  # noqa: E402
from app.db.provision import Database  # noqa: E402
from app.integrations.crm.signatures import sign  # noqa: E402
from app.integrations.quickbooks.change_entities import SYNCED_ENTITIES  # noqa: E402
from app.logging import configure_logging  # noqa: E402
from app.main import create_app  # noqa: E402
from bench.harness import free_port  # noqa: E402
from bench.harness import postgres_server as database  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SECRET = "bench-signing-secret"  # noqa: S105 - a throwaway local value
API_KEY = "bench-api-key"
VERIFIER = "emulator-verifier-token"  # the emulator's well-known default
RETURN_URL = "http://127.0.0.1:9/done"


@contextmanager
def serve(app: Any, port: int) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# Far above what one machine can send: the caps never bind (see the module docstring).
UNCAPPED = 100_000
UNCAPPED_EMULATOR = (
    "--rate-limit-per-second",
    str(UNCAPPED),
    "--rate-limit-per-minute",
    str(UNCAPPED * 60),
)


@contextmanager
def emulator_process(port: int, webhook_url: str | None = None) -> Iterator[str]:
    command = [sys.executable, "-m", "qbo_emulator", "--port", str(port), "--auto-consent"]
    command += [*UNCAPPED_EMULATOR]
    if webhook_url:
        command += ["--webhook-url", webhook_url, "--verifier-token", VERIFIER]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*command, "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/_emulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def reset(url: str) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    migrate.upgrade(url)


def settings_for(url: str, emulator: str, port: int, data_dir: Path) -> Settings:
    return Settings(
        DATABASE_URL=url,
        QBS_DATA_DIR=data_dir,
        QBS_AUTO_MIGRATE=False,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        LOG_LEVEL="WARNING",
        crm=CrmSettings(signing_secret=SecretStr(SECRET), api_key=SecretStr(API_KEY)),
        qbo=QboSettings(
            client_id="emulator-client-id",
            client_secret=SecretStr("emulator-client-secret"),
            webhook_verifier_token=SecretStr(VERIFIER),
            redirect_uri=f"http://127.0.0.1:{port}/v1/oauth/callback",
            api_base_url=emulator,
            oauth_base_url=emulator,
            requests_per_second=UNCAPPED,
            requests_per_minute=UNCAPPED * 60,
        ),
    )


def contact(n: int) -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "email": f"person{n}@example.com",
        "first_name": "Person",
        "last_name": str(n),
    }


def invoice(
    n: int, who: int, paid: str = "0.00", status: str = "sent", location: str = "loc_bench"
) -> dict[str, Any]:
    total = "29.97"
    return {
        "id": f"evt-inv-{n}-{status}",
        "type": "invoice.sent" if status == "sent" else "invoice.partially_paid",
        "occurred_at": "2099-01-01T00:00:00Z",
        "location_id": location,
        "data": {
            "id": f"inv-{n}",
            "number": f"B-{n}",
            "status": status,
            "issue_date": "2099-01-01",
            "due_date": "2099-02-01",
            "created_at": "2099-01-01T00:00:00Z",
            "updated_at": "2099-01-01T00:00:00Z" if status == "sent" else "2099-01-02T00:00:00Z",
            "currency": "USD",
            "contact": contact(who),
            "line_items": [{"name": "Consulting", "quantity": 3, "unit_price": "9.99"}],
            "totals": {
                "subtotal": total,
                "discount": "0.00",
                "tax": "0.00",
                "total": total,
                "amount_paid": paid,
                "amount_due": f"{29.97 - float(paid):.2f}",  # display only; not money math
            },
        },
    }


def receipt(n: int, who: int) -> dict[str, Any]:
    return {
        "id": f"evt-pay-{n}",
        "type": "payment.succeeded",
        "occurred_at": "2099-01-01T00:00:00Z",
        "location_id": "loc_bench",
        "data": {
            "id": f"pay-{n}",
            "source": "order_form",
            "paid_at": "2099-01-01T10:00:00Z",
            "currency": "USD",
            "contact": contact(who),
            "line_items": [{"name": "Consulting", "quantity": 1, "unit_price": "9.99"}],
            "totals": {"subtotal": "9.99", "discount": "0.00", "tax": "0.00", "total": "9.99"},
            "payment_method": "card",
        },
    }


class Bench:
    def __init__(self, service: str, emulator: str, url: str, webhooks: bool) -> None:
        self.service = service
        self.emulator = emulator
        self.url = url
        self.webhooks = webhooks
        self.http = httpx.AsyncClient(timeout=30)
        self.realm = ""

    async def connect(self, location: str = "loc_bench") -> str:
        """Connect the location to a new company (--auto-consent picks the newest)."""
        await self.http.post(f"{self.emulator}/_emulator/companies", json={"country": "US"})
        response = await self.http.post(
            f"{self.service}/v1/connections",
            json={"location_id": location, "return_url": RETURN_URL},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        next_url = response.json()["connect_url"]
        realm = ""
        while not next_url.startswith(RETURN_URL):
            next_url = (await self.http.get(next_url)).headers["location"]
            realm = parse_qs(urlsplit(next_url).query).get("realmId", [realm])[0]
        if location == "loc_bench":
            self.realm = realm
        return realm

    async def post(self, payloads: list[dict[str, Any]]) -> None:
        async def one(payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Signature": sign(SECRET, body, int(time.time())),
            }
            response = await self.http.post(
                f"{self.service}/v1/crm/events", content=body, headers=headers
            )
            assert response.status_code == 202, response.text

        for start in range(0, len(payloads), 20):
            await asyncio.gather(*(one(p) for p in payloads[start : start + 20]))

    async def settle(self, expected: int) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with psycopg.connect(self.url.replace("+psycopg", "")) as conn:
                done = conn.execute(
                    "SELECT count(*) FROM crm_events WHERE state IN ('done','skipped','failed')"
                ).fetchone()
                failed = conn.execute(
                    "SELECT count(*) FROM sync_log WHERE state = 'failed'"
                ).fetchone()
            if failed is not None and failed[0]:
                raise RuntimeError("a sync failed; see the sync log")
            if done is not None and done[0] >= expected:
                break
            await asyncio.sleep(0.05)
        else:
            raise TimeoutError("events not processed in 10 minutes")
        if self.webhooks:
            await self.settle_webhooks()

    async def settle_webhooks(self) -> None:
        """Every webhook delivered (the emulator's flush answers then) and its changes done."""
        await self.http.post(f"{self.emulator}/_emulator/webhooks/flush", timeout=120)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with psycopg.connect(self.url.replace("+psycopg", "")) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM qbo_changes WHERE state IN ('pending','processing') "
                    "AND entity = ANY(%s)",
                    (list(SYNCED_ENTITIES),),
                ).fetchone()
            if row is not None and row[0] == 0:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("QBO changes not processed in 10 minutes")

    async def requests(self) -> int:
        log = (
            await self.http.get(f"{self.emulator}/_emulator/companies/{self.realm}/requests")
        ).json()
        return int(log["total"])

    async def measure(
        self, payloads: list[dict[str, Any]], processed_before: int
    ) -> tuple[int, float]:
        before = await self.requests()
        started = time.perf_counter()
        await self.post(payloads)
        await self.settle(processed_before + len(payloads))
        return await self.requests() - before, time.perf_counter() - started

    async def baseline_creates(self, count: int, realms: list[str]) -> float:
        """The emulator's own rate for bare invoice creates over HTTP: the ceiling for us."""
        calls = [await self._bare_create(realm) for realm in realms]
        started = time.perf_counter()
        for start in range(0, count, 8):
            batch = range(start, min(start + 8, count))
            await asyncio.gather(*(calls[k % len(calls)]() for k in batch))
        return count / (time.perf_counter() - started)

    async def _bare_create(self, realm: str) -> Any:
        control = f"{self.emulator}/_emulator/companies/{realm}"
        token = (await self.http.post(f"{control}/tokens")).json()
        headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
        base = f"{self.emulator}/v3/company/{realm}"
        customer = (await self.http.get(f"{control}/entities/Customer")).json()["Customer"][0]
        item = (await self.http.get(f"{control}/entities/Item")).json()["Item"][0]
        # The JSON number is written as text on purpose: no float is involved.
        body = (
            '{{"CustomerRef": {{"value": "{}"}}, "Line": [{{"DetailType": "SalesItemLineDetail", '
            '"Amount": 29.97, "SalesItemLineDetail": {{"ItemRef": {{"value": "{}"}}, "Qty": 3, '
            '"UnitPrice": 9.99}}}}]}}'.format(customer["Id"], item["Id"])
        )

        async def create() -> None:
            response = await self.http.post(
                f"{base}/invoice",
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            response.raise_for_status()

        return create


async def run(args: argparse.Namespace, url: str, tmp: Path, webhooks: bool) -> dict[str, Any]:
    emu_port, svc_port = free_port(), free_port()
    settings = settings_for(url, f"http://127.0.0.1:{emu_port}", svc_port, tmp)
    settings.worker.poll_interval_s = 0.1
    service_app = create_app(settings, run_worker=True, database=Database(url))
    hook = f"http://127.0.0.1:{svc_port}/v1/qbo/webhooks" if webhooks else None
    with emulator_process(emu_port, hook) as emulator, serve(service_app, svc_port) as service:
        bench = Bench(service, emulator, url, webhooks)
        await bench.connect()
        first, _ = await bench.measure([invoice(0, 0)], 0)
        n = args.invoices
        steady, _ = await bench.measure([invoice(i, 0) for i in range(1, n + 1)], 1)
        receipts, _ = await bench.measure([receipt(i, 0) for i in range(n)], 1 + n)
        paid, _ = await bench.measure(
            [invoice(i, 0, "10.00", "partially_paid") for i in range(1, n + 1)], 1 + 2 * n
        )
        # One at a time, as a CRM sends them at an ordinary pace: no batch shares a read.
        done, k = 1 + 3 * n, args.one_by_one
        alone = 0
        for i in range(k):
            requests, _ = await bench.measure([invoice(30_000 + i, 0)], done + i)
            alone += requests
        done += k
        t = args.throughput
        locations = [f"loc_t{k}" for k in range(args.locations)]
        realms = [await bench.connect(location) for location in locations]
        # Warm each location up (its customer and item), then measure steady-state syncing.
        warm = [invoice(20_000 + k, 1, location=loc) for k, loc in enumerate(locations)]
        await bench.measure(warm, done)
        spread = [invoice(10_000 + i, 1, location=locations[i % len(locations)]) for i in range(t)]
        _, elapsed = await bench.measure(spread, done + len(locations))
        ours = t / elapsed
        baseline = await bench.baseline_creates(t, realms)
        await bench.http.aclose()
    return {
        "first_time_customer_invoice_requests": first,
        "steady_invoice_requests_per_object": steady / n,
        "one_by_one_invoice_requests_per_object": alone / k,
        "steady_sales_receipt_requests_per_object": receipts / n,
        "invoice_payment_requests_per_object": paid / n,
        "events_per_s": round(ours, 1),
        "baseline_bare_invoice_creates_per_s": round(baseline, 1),
        "ratio_to_baseline": round(ours / baseline, 3),
        "sizes": {"steady": n, "one_by_one": k, "throughput": t, "locations": args.locations},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=100)
    parser.add_argument("--throughput", type=int, default=200)
    parser.add_argument("--locations", type=int, default=5)
    parser.add_argument("--one-by-one", type=int, default=20, help="invoices sent one at a time")
    parser.add_argument(
        "--webhooks",
        choices=["off", "on", "both"],
        default="both",
        help="QBO webhooks delivered to the service (on), not sent (off), or a run of each",
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    machine = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.webhooks]
    results: dict[str, dict[str, Any]] = {}
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        machine["postgres"] = row[0] if row else "?"
        for webhooks in modes:
            reset(url)
            name = "webhooks_on" if webhooks else "webhooks_off"
            results[name] = asyncio.run(run(args, url, Path(tmp), webhooks))
    report = {"machine": machine, **results, "at": datetime.now(UTC).isoformat()}
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"qbo_calls-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2))
    names = list(results)
    print("| measure | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for key in results[names[0]]:
        if key != "sizes":
            print(f"| {key} | " + " | ".join(str(results[n][key]) for n in names) + " |")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
