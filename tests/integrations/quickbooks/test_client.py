"""The QBO client at its HTTP edge: respx stands in for QBO, so every test sees the wire."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import random
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from app.integrations.quickbooks.batch import BatchOperation
from app.integrations.quickbooks.client import QboClient, base_url_for
from app.integrations.quickbooks.entities import (
    CompanyInfo,
    Customer,
    EmailAddress,
    Preferences,
    Ref,
)
from app.integrations.quickbooks.errors import (
    QboAuthError,
    QboDuplicateDocNumberError,
    QboDuplicateNameError,
    QboNotFoundError,
    QboStaleObjectError,
    QboThrottledError,
    QboTransientError,
    QboValidationError,
)
from app.integrations.quickbooks.query import Select
from app.integrations.quickbooks.transactions import (
    SALES_ITEM,
    Invoice,
    Line,
    Payment,
    SalesItemLineDetail,
    SalesReceipt,
)
from app.integrations.quickbooks.transport import decode_json, encode_json

REALM = "9130357766900456"
BASE = "https://qbo.test"
API = f"{BASE}/v3/company/{REALM}"
OLD_TOKEN = "access-token-old-value"
NEW_TOKEN = "access-token-new-value"
LOCAL_SAMPLES = Path(__file__).resolve().parents[2] / "emulator" / "samples"
REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "qbo-samples"
SAMPLES = LOCAL_SAMPLES if LOCAL_SAMPLES.is_dir() else REFERENCE
THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2024-01-01T00:00:00-08:00">'
    '<Fault type="SERVICE"><Error code="3001">'
    "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
    "<Detail>The request limit was reached.  Try again later</Detail></Error></Fault>"
    "</IntuitResponse>"
)
LOWERCASE_401 = (
    '{"warnings":null,"intuitObject":null,"fault":{"error":[{"message":"message='
    'AuthenticationFailed; errorCode=003200; statusCode=401","detail":"Token expired: AB0x",'
    '"code":"3200","element":null}],"type":"AUTHENTICATION"},"report":null,"queryResponse":null,'
    '"batchItemResponse":[],"attachableResponse":[],"syncErrorResponse":null,"requestId":null,'
    '"time":1730024394085,"status":null,"cdcresponse":[]}'
)


def sample(name: str) -> str:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"sample {name} is not available")
    return path.read_text()


def ok(payload: dict[str, Any], tid: str = "tid-ok") -> httpx.Response:
    return httpx.Response(
        200,
        content=encode_json({**payload, "time": "2024-01-01T00:00:00.000-08:00"}),
        headers={"Content-Type": "application/json", "intuit_tid": tid},
    )


def fault(
    status: int, code: str, message: str, detail: str = "", element: str = ""
) -> httpx.Response:
    error = {"Message": message, "Detail": detail, "code": code, "element": element}
    body = {"Fault": {"Error": [error], "type": "ValidationFault"}, "time": "t"}
    return httpx.Response(status, json=body, headers={"intuit_tid": "tid-fault"})


@dataclass
class FakeTokens:
    calls: list[tuple[str, bool]] = field(default_factory=list)

    async def access_token(
        self, realm_id: str, *, force_refresh: bool = False, refused: str | None = None
    ) -> str:
        self.calls.append((realm_id, force_refresh))
        return NEW_TOKEN if force_refresh else OLD_TOKEN


@dataclass
class FakeLimiter:
    entered: int = 0
    in_flight: int = 0
    realms: list[str] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def slot(self, realm_id: str) -> AsyncIterator[None]:
        self.entered += 1
        self.in_flight += 1
        self.realms.append(realm_id)
        try:
            yield
        finally:
            self.in_flight -= 1


@dataclass
class Harness:
    api: respx.MockRouter
    client: QboClient
    tokens: FakeTokens
    limiter: FakeLimiter
    sleeps: list[float]
    seed: int

    @property
    def realm(self) -> Any:
        return self.client.realm(REALM)

    def expected_jitter(self, *ceilings: float) -> list[float]:
        rng = random.Random(self.seed)
        return [rng.uniform(0.0, ceiling) for ceiling in ceilings]


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def qbo(api: respx.MockRouter) -> AsyncIterator[Harness]:
    tokens, limiter, sleeps = FakeTokens(), FakeLimiter(), []

    async def sleep(seconds: float) -> None:
        assert limiter.in_flight == 0, "backoff must not hold a limiter slot"
        sleeps.append(seconds)

    async with httpx.AsyncClient() as http:
        client = QboClient(
            http,
            base_url=BASE + "/",
            tokens=tokens,
            limiter=limiter,
            sleep=sleep,
            rng=random.Random(7),
        )
        yield Harness(api, client, tokens, limiter, sleeps, seed=7)


def customer_json(**fields: Any) -> dict[str, Any]:
    return {"Customer": {"Id": "58", "SyncToken": "0", "DisplayName": "Ann", **fields}}


def params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


class TestEveryRequest:
    async def test_read_sends_auth_accept_minorversion_through_the_limiter(
        self, qbo: Harness
    ) -> None:
        def reply(request: httpx.Request) -> httpx.Response:
            assert qbo.limiter.in_flight == 1
            return ok(customer_json(Balance=Decimal("85.00")))

        route = qbo.api.get("/customer/58").mock(side_effect=reply)
        customer = await qbo.realm.read(Customer, "58")
        request = route.calls.last.request
        assert request.headers["Authorization"] == f"Bearer {OLD_TOKEN}"
        assert request.headers["Accept"] == "application/json"
        assert params(request) == {"minorversion": "75"}
        assert customer.Balance == Decimal("85.00")
        assert str(customer.Balance) == "85.00"
        assert (qbo.limiter.entered, qbo.limiter.realms) == (1, [REALM])
        assert qbo.tokens.calls == [(REALM, False)]

    async def test_company_info_and_preferences(self, qbo: Harness) -> None:
        qbo.api.get(f"/companyinfo/{REALM}").mock(
            return_value=ok({"CompanyInfo": {"Id": "1", "CompanyName": "Acme", "Country": "US"}})
        )
        qbo.api.get("/preferences").mock(
            return_value=ok({"Preferences": {"CurrencyPrefs": {"HomeCurrency": {"value": "USD"}}}})
        )
        info = await qbo.realm.company_info()
        prefs = await qbo.realm.preferences()
        assert isinstance(info, CompanyInfo)
        assert info.Country == "US"
        assert isinstance(prefs, Preferences)
        assert prefs.CurrencyPrefs is not None
        assert prefs.CurrencyPrefs.HomeCurrency == Ref(value="USD")

    @pytest.mark.parametrize("bad", ["../1", "1/2", "", "1 2", "x" * 65])
    async def test_ids_that_could_leave_the_realm_are_refused(self, qbo: Harness, bad: str) -> None:
        with pytest.raises(ValueError, match="invalid"):
            qbo.client.realm(bad)
        with pytest.raises(ValueError, match="invalid"):
            await qbo.realm.read(Customer, bad)
        assert qbo.limiter.entered == 0


class TestRetries:
    async def test_503_then_success_reuses_the_requestid(self, qbo: Harness) -> None:
        route = qbo.api.post("/customer").mock(
            side_effect=[httpx.Response(503, text="Service Unavailable"), ok(customer_json())]
        )
        created = await qbo.realm.create(Customer(DisplayName="Ann"), request_id="crm-contact-42")
        assert created.Id == "58"
        first, second = (call.request for call in route.calls)
        assert (
            params(first) == params(second) == {"requestid": "crm-contact-42", "minorversion": "75"}
        )
        assert first.content == second.content == b'{"DisplayName":"Ann"}'
        assert qbo.sleeps == qbo.expected_jitter(0.5)
        assert 0 <= qbo.sleeps[0] <= 0.5
        assert qbo.limiter.entered == 2

    async def test_timeouts_are_retried_then_raised_as_transient(self, qbo: Harness) -> None:
        route = qbo.api.get("/customer/58").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(QboTransientError, match="timed out") as caught:
            await qbo.realm.read(Customer, "58")
        assert isinstance(caught.value.__cause__, httpx.TimeoutException)
        assert route.call_count == 4  # max_attempts
        # Capped exponential ceilings 0.5, 1, 2 with full jitter below each.
        assert qbo.sleeps == qbo.expected_jitter(0.5, 1.0, 2.0)

    async def test_connection_errors_are_retried(self, qbo: Harness) -> None:
        route = qbo.api.get("/customer/58").mock(
            side_effect=[httpx.ConnectError("refused"), ok(customer_json())]
        )
        assert (await qbo.realm.read(Customer, "58")).Id == "58"
        assert route.call_count == 2

    async def test_malformed_json_on_200_is_transient(self, qbo: Harness) -> None:
        route = qbo.api.get("/customer/58").mock(
            side_effect=[httpx.Response(200, text='{"Customer": {"Id": '), ok(customer_json())]
        )
        assert (await qbo.realm.read(Customer, "58")).Id == "58"
        assert route.call_count == 2
        assert len(qbo.sleeps) == 1

    async def test_malformed_json_every_time_raises_transient(self, qbo: Harness) -> None:
        qbo.api.get("/customer/58").mock(return_value=httpx.Response(200, text="<html>"))
        with pytest.raises(QboTransientError):
            await qbo.realm.read(Customer, "58")
        assert len(qbo.sleeps) == 3

    async def test_backoff_is_capped(self, api: respx.MockRouter) -> None:
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        api.get("/customer/58").mock(return_value=httpx.Response(502))
        async with httpx.AsyncClient() as http:
            client = QboClient(
                http,
                base_url=BASE,
                tokens=FakeTokens(),
                limiter=FakeLimiter(),
                max_attempts=8,
                backoff_base_s=1.0,
                backoff_cap_s=3.0,
                sleep=sleep,
            )
            with pytest.raises(QboTransientError):
                await client.realm(REALM).read(Customer, "58")
        assert len(sleeps) == 7
        assert all(0 <= s <= 3.0 for s in sleeps)

    async def test_long_retry_after_is_left_to_the_job_runner(self, qbo: Harness) -> None:
        route = qbo.api.get("/customer/58").mock(
            return_value=httpx.Response(503, headers={"Retry-After": "120"})
        )
        with pytest.raises(QboTransientError) as caught:
            await qbo.realm.read(Customer, "58")
        assert caught.value.retry_after_s == 120
        assert route.call_count == 1
        assert qbo.sleeps == []

    async def test_short_retry_after_is_waited_at_least(self, qbo: Harness) -> None:
        qbo.api.get("/customer/58").mock(
            side_effect=[httpx.Response(503, headers={"Retry-After": "3"}), ok(customer_json())]
        )
        await qbo.realm.read(Customer, "58")
        assert qbo.sleeps == [3.0]

    async def test_business_faults_are_not_retried(self, qbo: Harness) -> None:
        route = qbo.api.post("/customer").mock(return_value=fault(400, "6000", "Business"))
        with pytest.raises(QboValidationError):
            await qbo.realm.create(Customer(DisplayName="Ann"), request_id="r1")
        assert route.call_count == 1
        assert qbo.sleeps == []


class TestThrottling:
    async def test_xml_throttle_body_raises_at_once_with_60s(self, qbo: Harness) -> None:
        route = qbo.api.get("/customer/58").mock(
            return_value=httpx.Response(
                429, text=THROTTLE_XML, headers={"Content-Type": "application/xml"}
            )
        )
        with pytest.raises(QboThrottledError) as caught:
            await qbo.realm.read(Customer, "58")
        assert caught.value.retry_after_s == 60
        assert caught.value.code == "3001"
        assert route.call_count == 1
        assert qbo.sleeps == []

    async def test_retry_after_header_is_honoured(self, qbo: Harness) -> None:
        qbo.api.get("/customer/58").mock(
            return_value=httpx.Response(
                429, text="Too Many Requests", headers={"Retry-After": "90"}
            )
        )
        with pytest.raises(QboThrottledError) as caught:
            await qbo.realm.read(Customer, "58")
        assert caught.value.retry_after_s == 90

    async def test_short_retry_after_on_429_is_still_not_retried_here(self, qbo: Harness) -> None:
        route = qbo.api.get("/customer/58").mock(
            return_value=httpx.Response(429, headers={"Retry-After": "1"})
        )
        with pytest.raises(QboThrottledError) as caught:
            await qbo.realm.read(Customer, "58")
        assert caught.value.retry_after_s == 1
        assert route.call_count == 1
        assert qbo.sleeps == []


class TestAuth:
    async def test_401_refreshes_once_then_succeeds(self, qbo: Harness) -> None:
        route = qbo.api.get("/customer/58").mock(
            side_effect=[httpx.Response(401, text=LOWERCASE_401), ok(customer_json())]
        )
        assert (await qbo.realm.read(Customer, "58")).Id == "58"
        assert qbo.tokens.calls == [(REALM, False), (REALM, True)]
        tokens = [call.request.headers["Authorization"] for call in route.calls]
        assert tokens == [f"Bearer {OLD_TOKEN}", f"Bearer {NEW_TOKEN}"]
        assert qbo.sleeps == []

    async def test_transient_retries_after_a_refresh_do_not_refresh_again(
        self, qbo: Harness
    ) -> None:
        qbo.api.get("/customer/58").mock(
            side_effect=[
                httpx.Response(401, text=LOWERCASE_401),
                httpx.Response(503),
                httpx.Response(502),
                ok(customer_json()),
            ]
        )
        await qbo.realm.read(Customer, "58")
        assert qbo.tokens.calls == [(REALM, False), (REALM, True), (REALM, False), (REALM, False)]

    async def test_401_after_a_refresh_and_a_retry_raises(self, qbo: Harness) -> None:
        route = qbo.api.get("/customer/58").mock(
            side_effect=[
                httpx.Response(401, text=LOWERCASE_401),
                httpx.Response(503),
                httpx.Response(401, text=LOWERCASE_401),
            ]
        )
        with pytest.raises(QboAuthError):
            await qbo.realm.read(Customer, "58")
        assert route.call_count == 3
        assert [force for _, force in qbo.tokens.calls] == [False, True, False]

    async def test_second_401_raises_auth_error(self, qbo: Harness) -> None:
        route = qbo.api.post("/customer").mock(return_value=httpx.Response(401, text=LOWERCASE_401))
        with pytest.raises(QboAuthError) as caught:
            await qbo.realm.create(Customer(DisplayName="Ann"), request_id="r-401")
        assert caught.value.code == "3200"
        assert route.call_count == 2
        assert qbo.tokens.calls == [(REALM, False), (REALM, True)]
        assert {params(c.request)["requestid"] for c in route.calls} == {"r-401"}


class TestFaults:
    async def test_stale_object_5010_carries_every_field_and_is_logged(self, qbo: Harness) -> None:
        qbo.api.post("/customer").mock(
            return_value=fault(400, "5010", "Stale Object Error", "You and root", "SyncToken")
        )
        with capture_logs() as logs, pytest.raises(QboStaleObjectError) as caught:
            await qbo.realm.sparse_update(Customer(Id="58", SyncToken="1", Notes="x"))
        error = caught.value
        assert (error.status, error.code, error.message) == (400, "5010", "Stale Object Error")
        assert (error.element, error.intuit_tid) == ("SyncToken", "tid-fault")
        [event] = [e for e in logs if e["event"] == "qbo.request.failed"]
        assert event["realm_id"] == REALM
        assert (event["method"], event["path"], event["status"]) == ("POST", "/customer", 400)
        assert (event["code"], event["intuit_tid"]) == ("5010", "tid-fault")

    async def test_logs_never_carry_the_token(self, qbo: Harness) -> None:
        qbo.api.get("/customer/58").mock(
            side_effect=[
                httpx.Response(401, text=LOWERCASE_401),
                httpx.Response(503),
                ok(customer_json()),
            ]
        )
        with capture_logs() as logs:
            await qbo.realm.read(Customer, "58")
        assert len(logs) == 2
        assert OLD_TOKEN not in repr(logs)
        assert NEW_TOKEN not in repr(logs)
        assert "AB0x" not in repr(logs)  # the 401 detail quotes part of the token

    async def test_duplicate_name_6240(self, qbo: Harness) -> None:
        qbo.api.post("/customer").mock(
            return_value=fault(400, "6240", "Duplicate Name Exists Error")
        )
        with pytest.raises(QboDuplicateNameError):
            await qbo.realm.create(Customer(DisplayName="Ann"), request_id="r1")

    async def test_duplicate_doc_number_6140(self, qbo: Harness) -> None:
        detail = "DocNumber=18696 is assigned to TxnType=Invoice with TxnId=6575"
        qbo.api.post("/invoice").mock(
            return_value=fault(400, "6140", "Duplicate Document Number Error", detail)
        )
        with pytest.raises(QboDuplicateDocNumberError) as caught:
            await qbo.realm.create(Invoice(DocNumber="18696"), request_id="r1")
        assert caught.value.existing_txn_id == "6575"

    async def test_200_with_fault_raises_the_typed_error(self, qbo: Harness) -> None:
        route = qbo.api.post("/invoice").mock(
            return_value=fault(200, "6000", "A business validation error", "Books closed")
        )
        with pytest.raises(QboValidationError) as caught:
            await qbo.realm.create(Invoice(DocNumber="1"), request_id="r1")
        assert (caught.value.status, caught.value.detail) == (200, "Books closed")
        assert route.call_count == 1

    async def test_unreadable_entity_is_transient(self, qbo: Harness) -> None:
        qbo.api.get("/customer/58").mock(return_value=ok({"Customer": {"Balance": "lots"}}))
        with pytest.raises(QboTransientError, match="cannot read"):
            await qbo.realm.read(Customer, "58")


class TestWrites:
    async def test_money_goes_out_as_exact_json_numbers(self, qbo: Harness) -> None:
        route = qbo.api.post("/invoice").mock(
            return_value=httpx.Response(
                200,
                content=b'{"Invoice":{"Id":"7","SyncToken":"0","TotalAmt":1861.18,'
                b'"Line":[{"Amount":1861.08},{"Amount":0.1}]},"time":"t"}',
            )
        )
        invoice = Invoice(
            CustomerRef=Ref(value="1"),
            Line=[
                Line(
                    DetailType=SALES_ITEM,
                    Amount=Decimal("1861.08"),
                    SalesItemLineDetail=SalesItemLineDetail(
                        Qty=Decimal("128.35"), UnitPrice=Decimal("14.50")
                    ),
                ),
                Line(DetailType=SALES_ITEM, Amount=Decimal("0.1")),
            ],
        )
        created = await qbo.realm.create(invoice, request_id="inv-1")
        sent = route.calls.last.request
        assert sent.headers["Content-Type"] == "application/json"
        assert b'"Amount":1861.08' in sent.content
        assert b'"Amount":0.1' in sent.content
        assert b'"Qty":128.35,"UnitPrice":14.50' in sent.content
        assert decode_json(sent.content)["Line"][1] == {
            "DetailType": "SalesItemLineDetail",
            "Amount": Decimal("0.1"),
        }
        assert created.TotalAmt == Decimal("1861.18")
        assert created.Line is not None
        assert [line.Amount for line in created.Line] == [Decimal("1861.08"), Decimal("0.1")]

    async def test_create_refuses_an_object_with_an_id(self, qbo: Harness) -> None:
        with pytest.raises(ValueError, match="without Id"):
            await qbo.realm.create(Customer(Id="1"), request_id="r1")

    @pytest.mark.parametrize("request_id", ["x" * 51, "", "has space", "a/b"])
    async def test_bad_request_ids_are_refused(self, qbo: Harness, request_id: str) -> None:
        with pytest.raises(ValueError, match="requestid"):
            await qbo.realm.create(Customer(DisplayName="Ann"), request_id=request_id)
        assert qbo.limiter.entered == 0

    async def test_fifty_character_request_id_is_fine(self, qbo: Harness) -> None:
        route = qbo.api.post("/customer").mock(return_value=ok(customer_json()))
        await qbo.realm.create(Customer(DisplayName="Ann"), request_id="r" * 50)
        assert params(route.calls.last.request)["requestid"] == "r" * 50

    async def test_sparse_update_sends_only_the_fields_set(self, qbo: Harness) -> None:
        route = qbo.api.post("/customer").mock(return_value=ok(customer_json(SyncToken="2")))
        update = Customer(Id="58", SyncToken="1", PrimaryEmailAddr=EmailAddress(Address="a@b.co"))
        updated = await qbo.realm.sparse_update(update)
        body = json.loads(route.calls.last.request.content)
        assert body == {
            "Id": "58",
            "SyncToken": "1",
            "PrimaryEmailAddr": {"Address": "a@b.co"},
            "sparse": True,
        }
        assert updated.SyncToken == "2"
        # A requestid is made up so retries of this very call replay rather than reapply.
        assert len(params(route.calls.last.request)["requestid"]) == 32

    async def test_read_then_sparse_update_returns_unknown_fields_untouched(
        self, qbo: Harness
    ) -> None:
        qbo.api.get("/customer/58").mock(
            return_value=ok(customer_json(NewField={"x": Decimal("0.30")}, domain="QBO"))
        )
        route = qbo.api.post("/customer").mock(return_value=ok(customer_json()))
        customer = await qbo.realm.read(Customer, "58")
        customer.Notes = "hello"
        await qbo.realm.sparse_update(customer, request_id="u-1")
        sent = route.calls.last.request.content
        assert b'"NewField":{"x":0.30}' in sent
        assert json.loads(sent)["Notes"] == "hello"

    async def test_sparse_update_needs_id_and_sync_token(self, qbo: Harness) -> None:
        with pytest.raises(ValueError, match="SyncToken"):
            await qbo.realm.sparse_update(Customer(Id="58", Notes="x"))

    async def test_void_invoice(self, qbo: Harness) -> None:
        route = qbo.api.post("/invoice").mock(
            return_value=ok({"Invoice": {"Id": "33", "SyncToken": "3", "TotalAmt": 0}})
        )
        voided = await qbo.realm.void(Invoice, "33", "2", request_id="void-33")
        request = route.calls.last.request
        assert params(request) == {
            "operation": "void",
            "requestid": "void-33",
            "minorversion": "75",
        }
        assert json.loads(request.content) == {"Id": "33", "SyncToken": "2"}
        assert isinstance(voided, Invoice)
        assert voided.TotalAmt == Decimal(0)

    @pytest.mark.parametrize(
        ("cls", "segment"), [(SalesReceipt, "salesreceipt"), (Payment, "payment")]
    )
    async def test_void_sales_receipt_and_payment_by_update(
        self, qbo: Harness, cls: type[SalesReceipt] | type[Payment], segment: str
    ) -> None:
        route = qbo.api.post(f"/{segment}").mock(
            return_value=ok({cls.entity_name: {"Id": "11", "SyncToken": "1"}})
        )
        await qbo.realm.void(cls, "11", "0", request_id="v-11")
        request = route.calls.last.request
        assert params(request) == {
            "operation": "update",
            "include": "void",
            "requestid": "v-11",
            "minorversion": "75",
        }
        assert json.loads(request.content) == {"Id": "11", "SyncToken": "0", "sparse": True}

    async def test_void_of_a_customer_is_refused(self, qbo: Harness) -> None:
        with pytest.raises(ValueError, match="cannot be voided"):
            await qbo.realm.void(Customer, "1", "0", request_id="v")

    async def test_delete(self, qbo: Harness) -> None:
        route = qbo.api.post("/invoice").mock(
            return_value=ok({"Invoice": {"status": "Deleted", "domain": "QBO", "Id": "33"}})
        )
        assert await qbo.realm.delete(Invoice, "33", "0") is None
        request = route.calls.last.request
        assert params(request)["operation"] == "delete"
        assert json.loads(request.content) == {"Id": "33", "SyncToken": "0"}

    async def test_delete_of_something_already_gone_is_success(self, qbo: Harness) -> None:
        route = qbo.api.post("/invoice").mock(
            return_value=httpx.Response(400, text=sample("fault-object-not-found-610.json"))
        )
        assert await qbo.realm.delete(Invoice, "33", "0") is None
        assert route.call_count == 1

    async def test_delete_with_another_fault_raises(self, qbo: Harness) -> None:
        qbo.api.post("/invoice").mock(return_value=fault(400, "5010", "Stale Object Error"))
        with pytest.raises(QboStaleObjectError):
            await qbo.realm.delete(Invoice, "33", "0")

    async def test_name_list_entities_cannot_be_deleted(self, qbo: Harness) -> None:
        with pytest.raises(ValueError, match="Active=false"):
            await qbo.realm.delete(Customer, "1", "0")

    async def test_610_outside_delete_is_an_error(self, qbo: Harness) -> None:
        qbo.api.get("/customer/58").mock(
            return_value=httpx.Response(400, text=sample("fault-object-not-found-610.json"))
        )
        with pytest.raises(QboNotFoundError):
            await qbo.realm.read(Customer, "58")


class TestQueries:
    async def test_escaped_statement_reaches_the_wire(self, qbo: Harness) -> None:
        route = qbo.api.post("/query").mock(
            return_value=ok(
                {"QueryResponse": {"Customer": [{"Id": "5"}], "startPosition": 1, "maxResults": 1}}
            )
        )
        select = (
            Select(Customer)
            .where("PrimaryEmailAddr", "=", "o'brien@x.com")
            .where("DisplayName", "=", "back\\slash")
        )
        page = await qbo.realm.query(select, Customer)
        request = route.calls.last.request
        assert request.headers["Content-Type"] == "application/text"
        assert request.content.decode() == (
            "SELECT * FROM Customer WHERE PrimaryEmailAddr = 'o\\'brien@x.com' "
            "AND DisplayName = 'back\\\\slash'"
        )
        assert params(request) == {"minorversion": "75"}
        assert [c.Id for c in page.items] == ["5"]
        assert (page.start_position, page.max_results, page.total_count) == (1, 1, None)

    async def test_empty_query_response(self, qbo: Harness) -> None:
        qbo.api.post("/query").mock(return_value=ok({"QueryResponse": {}}))
        page = await qbo.realm.query("SELECT * FROM Customer WHERE Id = '0'", Customer)
        assert page.items == []
        assert page.start_position is None

    async def test_sample_query_response(self, qbo: Harness) -> None:
        qbo.api.post("/query").mock(
            return_value=httpx.Response(200, text=sample("customer-query-response.json"))
        )
        page = await qbo.realm.query(Select(Customer), Customer)
        assert [c.DisplayName for c in page.items] == [
            "Amy's Bird Sanctuary",
            "Weiskopf Consulting",
        ]
        assert page.max_results == 6

    async def test_query_all_pages_until_a_short_page(self, qbo: Harness) -> None:
        sizes = {1: 1000, 1001: 1000, 2001: 3}

        def reply(request: httpx.Request) -> httpx.Response:
            match = re.search(r"STARTPOSITION (\d+) MAXRESULTS (\d+)$", request.content.decode())
            assert match is not None
            assert match.group(2) == "1000"
            start = int(match.group(1))
            rows = [{"Id": str(start + i)} for i in range(sizes[start])]
            return ok({"QueryResponse": {"Customer": rows, "startPosition": start}})

        route = qbo.api.post("/query").mock(side_effect=reply)
        pages = [
            page
            async for page in qbo.realm.query_all(Select(Customer).include_inactive(), Customer)
        ]
        assert [len(p) for p in pages] == [1000, 1000, 3]
        assert pages[2][-1].Id == "2003"
        statements = [call.request.content.decode() for call in route.calls]
        assert statements[0] == (
            "SELECT * FROM Customer WHERE Active IN (true, false) ORDERBY Id "
            "STARTPOSITION 1 MAXRESULTS 1000"
        )
        assert [re.search(r"STARTPOSITION (\d+)", s).group(1) for s in statements] == [  # type: ignore[union-attr]
            "1",
            "1001",
            "2001",
        ]

    async def test_query_all_stops_on_an_empty_page_and_keeps_a_given_order(
        self, qbo: Harness
    ) -> None:
        route = qbo.api.post("/query").mock(
            side_effect=[
                ok({"QueryResponse": {"Invoice": [{"Id": "1"}, {"Id": "2"}]}}),
                ok({"QueryResponse": {}}),
            ]
        )
        select = Select(Invoice).order_by("TxnDate").page(50, 5)
        pages = [p async for p in qbo.realm.query_all(select, Invoice, page_size=2)]
        assert [[i.Id for i in p] for p in pages] == [["1", "2"]]
        assert route.calls[0].request.content.endswith(
            b"ORDERBY TxnDate STARTPOSITION 1 MAXRESULTS 2"
        )
        assert route.calls[1].request.content.endswith(b"STARTPOSITION 3 MAXRESULTS 2")

    async def test_count(self, qbo: Harness) -> None:
        route = qbo.api.post("/query").mock(
            return_value=ok({"QueryResponse": {"totalCount": 10432}})
        )
        assert await qbo.realm.count(Select(Customer).include_inactive().page(1, 10)) == 10432
        assert route.calls.last.request.content == (
            b"SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)"
        )

    async def test_query_fault_4000(self, qbo: Harness) -> None:
        qbo.api.post("/query").mock(return_value=fault(400, "4000", "Error parsing query"))
        with pytest.raises(QboValidationError):
            await qbo.realm.query("SELECT * FROM Customer WHERE DisplayName = 'x'y'", Customer)


class TestCdc:
    async def test_sample_with_deleted_objects(self, qbo: Harness) -> None:
        route = qbo.api.get("/cdc").mock(
            return_value=httpx.Response(200, text=sample("cdc-response.json"))
        )
        since = datetime(2015, 11, 28, tzinfo=timezone(timedelta(hours=-8)))
        changes = await qbo.realm.cdc(["Customer", "Estimate", "Invoice"], since)
        assert params(route.calls.last.request) == {
            "entities": "Customer,Estimate,Invoice",
            "changedSince": "2015-11-28T00:00:00-08:00",
            "minorversion": "75",
        }
        assert [row["Id"] for row in changes["Customer"]] == ["63", "99"]
        assert [row["Id"] for row in changes["Estimate"]] == ["34", "123", "979"]
        assert changes["Estimate"][2]["status"] == "Deleted"
        assert changes["Invoice"] == []

    async def test_naive_changed_since_is_refused(self, qbo: Harness) -> None:
        with pytest.raises(ValueError, match="offset"):
            await qbo.realm.cdc(["Customer"], datetime(2024, 1, 1))

    async def test_a_full_answer_warns(self, qbo: Harness) -> None:
        rows = [{"Id": str(i)} for i in range(1000)]
        qbo.api.get("/cdc").mock(
            return_value=ok({"CDCResponse": [{"QueryResponse": [{"Customer": rows}]}]})
        )
        with capture_logs() as logs:
            changes = await qbo.realm.cdc(["Customer"], datetime.now(UTC))
        assert len(changes["Customer"]) == 1000
        assert [e["event"] for e in logs] == ["qbo.cdc.truncated"]


class TestBatch:
    def operations(self) -> list[BatchOperation]:
        return [
            BatchOperation.create("bid1", Customer(DisplayName="Smith Family Store")),
            BatchOperation.delete("bid2", Invoice, "129", "0"),
            BatchOperation.update(
                "bid3", SalesReceipt(Id="11", SyncToken="0", PrivateNote="A private note.")
            ),
            BatchOperation.select(
                "bid4", Select(SalesReceipt).where("TotalAmt", ">", Decimal("300.00")), SalesReceipt
            ),
        ]

    async def test_sample_with_per_item_faults(self, qbo: Harness) -> None:
        route = qbo.api.post("/batch").mock(
            return_value=httpx.Response(
                200, text=sample("batch-response-with-faults.json"), headers={"intuit_tid": "tid-b"}
            )
        )
        results = await qbo.realm.batch(self.operations(), request_id="batch-1")
        request = route.calls.last.request
        assert params(request) == {"requestid": "batch-1", "minorversion": "75"}
        assert json.loads(request.content) == {
            "BatchItemRequest": [
                {
                    "bId": "bid1",
                    "operation": "create",
                    "Customer": {"DisplayName": "Smith Family Store"},
                },
                {"bId": "bid2", "operation": "delete", "Invoice": {"Id": "129", "SyncToken": "0"}},
                {
                    "bId": "bid3",
                    "operation": "update",
                    "SalesReceipt": {
                        "Id": "11",
                        "SyncToken": "0",
                        "PrivateNote": "A private note.",
                        "sparse": True,
                    },
                },
                {"bId": "bid4", "Query": "SELECT * FROM SalesReceipt WHERE TotalAmt > 300.00"},
            ]
        }
        assert [r.bid for r in results] == ["bid1", "bid2", "bid3", "bid4"]
        assert [type(r.error) for r in results[:3]] == [
            QboDuplicateNameError,
            QboNotFoundError,
            QboStaleObjectError,
        ]
        assert results[0].error is not None
        assert results[0].error.intuit_tid == "tid-b"
        assert results[3].ok
        assert results[3].query_page is not None
        [receipt] = results[3].query_page.items
        assert isinstance(receipt, SalesReceipt)
        assert receipt.TotalAmt == Decimal("337.5")

    async def test_results_match_by_bid_not_position(self, qbo: Harness) -> None:
        qbo.api.post("/batch").mock(
            return_value=ok(
                {
                    "BatchItemResponse": [
                        {"bId": "b", "Invoice": {"Id": "2"}},
                        {"bId": "a", "Customer": {"Id": "1", "DisplayName": "Ann"}},
                    ]
                }
            )
        )
        ops = [
            BatchOperation.create("a", Customer(DisplayName="Ann")),
            BatchOperation.create("b", Invoice(CustomerRef=Ref(value="1"))),
            BatchOperation.create("c", Customer(DisplayName="Cy")),
        ]
        results = await qbo.realm.batch(ops)
        assert isinstance(results[0].entity, Customer)
        assert results[0].entity.Id == "1"
        assert isinstance(results[1].entity, Invoice)
        assert results[1].entity.Id == "2"
        assert isinstance(results[2].error, QboTransientError)  # no answer for "c"

    async def test_limits_are_enforced_before_sending(self, qbo: Harness) -> None:
        many = [BatchOperation.create(f"b{i}", Customer(DisplayName=str(i))) for i in range(31)]
        with pytest.raises(ValueError, match=r"1\.\.30"):
            await qbo.realm.batch(many)
        with pytest.raises(ValueError, match="unique"):
            await qbo.realm.batch([many[0], many[0]])
        with pytest.raises(ValueError, match="requestid"):
            await qbo.realm.batch(many[:2], request_id="r" * 37)
        with pytest.raises(ValueError, match="bId"):
            BatchOperation.create("b" * 11, Customer(DisplayName="x"))
        with pytest.raises(ValueError, match="Active=false"):
            BatchOperation.delete("d", Customer, "1", "0")
        assert qbo.limiter.entered == 0


class TestConfiguration:
    @pytest.mark.parametrize(
        ("environment", "override", "expected"),
        [
            ("sandbox", None, "https://sandbox-quickbooks.api.intuit.com"),
            ("production", None, "https://quickbooks.api.intuit.com"),
            ("PRODUCTION", "", "https://quickbooks.api.intuit.com"),
            ("production", "http://127.0.0.1:8300/", "http://127.0.0.1:8300"),
            ("emulator", None, "http://127.0.0.1:8300"),
        ],
    )
    def test_base_url_for(self, environment: str, override: str | None, expected: str) -> None:
        assert base_url_for(environment, override) == expected

    def test_unknown_environment(self) -> None:
        with pytest.raises(ValueError, match="staging"):
            base_url_for("staging", None)

    def test_httpx2_is_not_installed(self) -> None:
        # authlib prefers httpx2 when present; respx only patches httpx, so tests would pass
        # while production talked through another library.
        assert importlib.util.find_spec("httpx2") is None
