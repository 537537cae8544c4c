"""Every QBO attempt is counted by realm and status, timed, and a 429 counts as a throttle."""

from __future__ import annotations

import httpx
import pytest

from app import metrics
from app.integrations.crm.schemas import metric_label
from app.integrations.quickbooks.entities import Customer
from app.integrations.quickbooks.errors import QboThrottledError
from tests.integrations.quickbooks.test_client import (  # noqa: F401 - fixtures used by name
    REALM,
    THROTTLE_XML,
    Harness,
    api,
    customer_json,
    ok,
    qbo,
)


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_attempts_latency_and_throttles_per_realm(qbo: Harness) -> None:  # noqa: F811
    before = {
        "ok": sample("qbs_qbo_requests_total", realm=REALM, status="200"),
        "throttled": sample("qbs_qbo_requests_total", realm=REALM, status="429"),
        "throttles": sample("qbs_qbo_throttles_total", realm=REALM),
        "timed": sample("qbs_qbo_request_seconds_count", realm=REALM),
    }
    qbo.api.get("/customer/58").mock(
        side_effect=[
            ok(customer_json()),
            httpx.Response(429, text=THROTTLE_XML, headers={"Content-Type": "application/xml"}),
        ]
    )
    await qbo.realm.read(Customer, "58")
    with pytest.raises(QboThrottledError):
        await qbo.realm.read(Customer, "58")
    assert sample("qbs_qbo_requests_total", realm=REALM, status="200") == before["ok"] + 1
    assert sample("qbs_qbo_requests_total", realm=REALM, status="429") == before["throttled"] + 1
    assert sample("qbs_qbo_throttles_total", realm=REALM) == before["throttles"] + 1
    assert sample("qbs_qbo_request_seconds_count", realm=REALM) == before["timed"] + 2


def test_label_values_stay_bounded() -> None:
    assert metric_label("invoice.sent") == "invoice.sent"
    assert metric_label("made.up") == "other"
    assert metric_label(None) == "other"
    assert metrics.status_label(None) == "network"
    assert metrics.status_label(999) == "other"
