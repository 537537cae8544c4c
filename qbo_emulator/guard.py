"""ASGI middleware in front of the accounting API: what Intuit's gateway does before QBO.

Order: intuit_tid on every response; then for /v3/company/...: bearer token check (401/403),
injected faults, throttling (429, qbo_emulator/limits.py), configured latency, requestid replay,
and the request log.

Answers lost after a committed write (drop_after_write, 500_after_write, a slow write the caller
stopped waiting for) are the case requestid exists for (Intuit blog 2015-04-06, cited by
node-quickbooks #38) and the one QuickBooks-V3-DotNET-SDK #352 reports duplicates from. Which of
them real QBO de-duplicates is UNKNOWN (verify-qbo "requestid replay (same id twice, same
body)" sees a replay after a delivered answer only); honor_requestid=False models the reports
that it does not.
It is plain ASGI rather than BaseHTTPMiddleware to keep the per-request cost low.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote_plus

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qbo_emulator import faults
from qbo_emulator.jsonutil import dumps
from qbo_emulator.limits import AFTER_WRITE, admit, give_back, next_fault, release
from qbo_emulator.state import Emulator
from qbo_emulator.store import Company, FaultRule

JSON_TYPE = b"application/json;charset=UTF-8"
PREFIX = "/v3/company/"


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised mid-response for the "drop" fault; in-process clients see a transport error."""


class Reply(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, status: int, body: bytes, content_type: bytes = JSON_TYPE) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type


def _query_param(query: str, name: str) -> str | None:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key.lower() == name:
            return unquote_plus(value)
    return None


class AccountingGuard:
    def __init__(self, app: ASGIApp, emu: Emulator) -> None:
        self.app = app
        self.emu = emu

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tid = self.emu.new_tid().encode()
        path: str = scope["path"]
        if not path.startswith(PREFIX):
            await self.app(scope, receive, _with_tid(send, tid, None))
            return
        realm, _, rest = path[len(PREFIX) :].partition("/")
        company = self.emu.company(realm)
        status: list[int] = [0]
        try:
            await self._guarded(scope, receive, _with_tid(send, tid, status), realm, company, rest)
        finally:
            if company is not None:
                self._log(company, scope, "/" + rest, status[0])

    async def _guarded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        realm: str,
        company: Company | None,
        rest: str,
    ) -> None:
        delay_ms = self.emu.config.latency_ms
        write = is_write(scope["method"], rest)
        after: str | None = None
        try:
            company, app = self._authenticate(scope, realm, company)
            rule = next_fault(self.emu, company, write=write)
            if rule is not None and rule.kind == "slow":
                delay_ms += rule.delay_ms
            elif rule is not None and rule.kind in AFTER_WRITE:
                after = rule.kind
            elif rule is not None:
                await self._inject(rule, company, send)
                return
            if admit(self.emu, company, app, batch=write and _is_batch(rest)) is not None:
                if after is not None and rule is not None:
                    give_back(company, rule)  # a throttled write ran nothing to lose
                raise self._throttle(None)
        except Reply as reply:
            await _send(send, reply)
            return
        run = self._admitted(scope, receive, send, company, app, delay_ms, after, write)
        if not write:
            await run
            return
        # QBO finishes a write whether or not the caller is still there (a client timeout during
        # a slow answer, a dropped socket): the write runs in a task of its own that a cancelled
        # request cannot stop.
        task = asyncio.ensure_future(run)
        task.add_done_callback(_retrieve)
        await asyncio.shield(task)

    async def _admitted(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        company: Company,
        app: str,
        delay_ms: int,
        after: str | None,
        write: bool,
    ) -> None:
        try:
            if write:
                # Read the body now, so a caller that gives up during the delay cannot keep the
                # write from running (the route would otherwise see http.disconnect).
                receive = await _buffered(receive)
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000)
            if after is None:
                await self._call(scope, receive, send, company)
                return
            await self._call(scope, receive, _discard, company)
            await self._lose_answer(after, send)
        finally:
            release(company, app)

    async def _lose_answer(self, kind: str, send: Send) -> None:
        """The write is committed (and its requestid answer kept); the caller gets no answer."""
        if kind == "500_after_write":
            body = dumps(faults.system_error().body(self.emu.clock.response_time()))
            await _send(send, Reply(500, body))
            return
        await _drop(send)

    def _authenticate(
        self, scope: Scope, realm: str, company: Company | None
    ) -> tuple[Company, str]:
        """The company and the app (the OAuth client id the token was issued to)."""
        token_value = ""
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, token_value = value.decode("latin-1").partition(" ")
                token_value = token_value.strip() if scheme.lower() == "bearer" else ""
        token = self.emu.tokens.access.get(token_value)
        now = self.emu.clock.now()
        if token is None:
            raise self._unauthorized("Token invalid")
        if token.grant.revoked:
            raise self._unauthorized(f"Token revoked: {token_value[:20]}")
        if token.expired_by_control or token.expires_at <= now:
            raise self._unauthorized(f"Token expired: {token_value[:20]}")
        if company is None or token.grant.realm_id != realm:
            body = dumps(faults.authorization_failed(self.emu.clock.response_time()))
            raise Reply(403, body)
        return company, token.grant.client_id

    def _unauthorized(self, detail: str) -> Reply:
        epoch_ms = int(self.emu.clock.now() * 1000)
        return Reply(401, dumps(faults.auth_failed(detail, epoch_ms)))

    def _throttle(self, fmt: str | None) -> Reply:
        time = self.emu.clock.response_time()
        if (fmt or self.emu.config.throttle_format) == "xml":
            return Reply(429, faults.throttle_xml(time), b"application/xml")
        return Reply(429, dumps(faults.throttle_json(time)))

    async def _inject(self, rule: FaultRule, company: Company, send: Send) -> None:
        time = self.emu.clock.response_time()
        if rule.kind == "429":
            await _send(send, self._throttle(rule.fmt))
        elif rule.kind == "500":
            await _send(send, Reply(500, dumps(faults.system_error().body(time))))
        elif rule.kind == "503":
            html = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
            await _send(send, Reply(503, html, b"text/html"))
        elif rule.kind == "401":
            self.emu.tokens.expire_realm(company.realm_id)
            await _send(send, self._unauthorized("Token expired: injected fault"))
        elif rule.kind == "drop":
            await _drop(send)

    async def _call(self, scope: Scope, receive: Receive, send: Send, company: Company) -> None:
        query = scope["query_string"].decode("latin-1")
        request_id = _query_param(query, "requestid") if scope["method"] == "POST" else None
        # honor_requestid=False models the reports that QBO did not de-duplicate by requestid
        # (QuickBooks-V3-DotNET-SDK #352, node-quickbooks #38): every request runs again.
        if not request_id or not company.honor_requestid:
            await self.app(scope, receive, send)
            return
        running = company.requestids_running.get(request_id)
        if running is not None:
            # A retry racing the original waits for it and then gets its answer, never a twin.
            await asyncio.shield(running)
        cached = company.requestids.get(request_id)
        if cached is not None:
            await _send(send, Reply(cached[0], cached[1], cached[2].encode()))
            return
        done = asyncio.get_running_loop().create_future()
        company.requestids_running[request_id] = done
        try:
            await self.app(scope, receive, self._capture(send, company, request_id))
        finally:
            company.requestids_running.pop(request_id, None)
            done.set_result(None)

    def _capture(self, send: Send, company: Company, request_id: str) -> Send:
        parts: dict[str, Any] = {"status": 0, "body": [], "type": "application/json"}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                parts["status"] = message["status"]
                for key, value in message.get("headers", []):
                    if key == b"content-type":
                        parts["type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                parts["body"].append(message.get("body", b""))
                if not message.get("more_body") and parts["status"] < 500:
                    value = (parts["status"], b"".join(parts["body"]), parts["type"])
                    company.remember_response(
                        request_id, value, self.emu.config.requestid_cache_size
                    )
            await send(message)

        return capture

    def _log(self, company: Company, scope: Scope, rest: str, status: int) -> None:
        method = scope["method"]
        entry = {
            "method": method,
            "path": rest,
            "query": scope["query_string"].decode("latin-1"),
            "status": status,
            # Formatted when the log is read: formatting Pacific time costs more than the request.
            "at": self.emu.clock.now(),
        }
        company.record_request(entry, f"{method} {rest}", self.emu.config.request_log_size)


def is_write(method: str, rest: str) -> bool:
    """POSTs change data (create/update/delete/void/send/batch); POST /query only reads."""
    return method == "POST" and rest.strip("/").rsplit("/", 1)[-1].lower() != "query"


def _is_batch(rest: str) -> bool:
    return rest.strip("/").lower() == "batch"


async def _drop(send: Send) -> None:
    # Headers promise a body that never comes: over a socket the client reads "peer closed
    # connection without sending complete message body"; in process it gets the exception.
    headers = [(b"content-type", JSON_TYPE), (b"content-length", b"1024")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise DroppedConnection("connection dropped by injected fault")


async def _discard(message: Message) -> None:
    """The send of a write whose answer is lost."""


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; replay it, then hand over to the real channel."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


def _retrieve(task: asyncio.Future[None]) -> None:
    # A shielded write whose caller was cancelled still ends; its outcome was meant for nobody.
    if not task.cancelled():
        task.exception()


def _with_tid(send: Send, tid: bytes, status: list[int] | None) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"intuit_tid", tid))
            headers.append((b"qbo-version", b"1990.256"))
            message = {**message, "headers": headers}
            if status is not None:
                status[0] = message["status"]
        await send(message)

    return wrapped


async def _send(send: Send, reply: Reply) -> None:
    headers = [
        (b"content-type", reply.content_type),
        (b"content-length", str(len(reply.body)).encode()),
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
