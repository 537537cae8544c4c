"""Raw HTTP to one QBO company: the bodies the checks send go out exactly as written.

The service's typed client (app/integrations/quickbooks/client.py) refuses properties its models
do not know, so it cannot send the unknown property or the over-long name a check is about. This
client sends any JSON, keeps numbers exact (Decimal both ways) and hands back status and body.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.integrations.quickbooks.transport import decode_json, encode_json

TokenSource = Callable[[], Awaitable[str]]
MINOR_VERSION = "75"
# Intuit "API call limits and throttles": after a 429 wait before trying again. A check that is
# about the 429 itself sends with retry_throttled=False.
THROTTLE_WAITS_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
_CODE_IN_TEXT = re.compile(r"""(?:code["'=:\s]+|errorCode=)["']?0*(\d{3,5})""")


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: its status, the decoded JSON (None when not JSON) and the raw text."""

    status: int
    body: Any
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def errors(self) -> list[dict[str, Any]]:
        fault = self.body.get("Fault") if isinstance(self.body, dict) else None
        errors = fault.get("Error") if isinstance(fault, dict) else None
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []

    def codes(self) -> list[str]:
        """The fault codes, from a JSON Fault or (429s come as XML or text too) from the text."""
        codes = [str(e.get("code")) for e in self.errors() if e.get("code") is not None]
        return codes or [m.lstrip("0") for m in _CODE_IN_TEXT.findall(self.text)]

    def entity(self, name: str) -> dict[str, Any]:
        value = self.body.get(name) if isinstance(self.body, dict) else None
        return value if isinstance(value, dict) else {}

    def summary(self) -> str:
        """Status and fault codes with details, short enough for a table cell."""
        if self.ok:
            return f"{self.status}"
        parts = [
            f"{e.get('code')}: {e.get('Message', '')} / {e.get('Detail', '')}".strip(" /")
            for e in self.errors()
        ]
        return f"{self.status} " + ("; ".join(parts) if parts else ",".join(self.codes()) or "-")


@dataclass
class RawQbo:
    """One company's accounting API (`{base_url}/v3/company/{realm}/...`) with a bearer token."""

    http: httpx.AsyncClient
    base_url: str
    realm_id: str
    token: TokenSource
    # Least time between two request starts: a real sandbox counts 10 a second per realm and app.
    min_interval_s: float = 0.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _last_start: float = field(default=0.0, init=False)

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/v3/company/{self.realm_id}/{path.lstrip('/')}"

    async def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
        retry_throttled: bool = True,
    ) -> Answer:
        query = {"minorversion": MINOR_VERSION, **(params or {})}
        if body is None:
            content = None
        elif isinstance(body, str):
            content = body.encode()
        else:
            content = encode_json(body)
        waits = list(THROTTLE_WAITS_S) if retry_throttled else []
        while True:
            answer = await self._once(method, path, query, content, content_type)
            if answer.status != 429 or not waits:
                return answer
            await self.sleep(waits.pop(0))

    async def _once(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        content: bytes | None,
        content_type: str,
    ) -> Answer:
        await self._pace()
        headers = {"Authorization": f"Bearer {await self.token()}", "Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = content_type
        response = await self.http.request(
            method, self.url(path), params=query, content=content, headers=headers
        )
        return _answer(response)

    async def _pace(self) -> None:
        if self.min_interval_s <= 0:
            return
        wait = self._last_start + self.min_interval_s - time.monotonic()
        if wait > 0:
            await self.sleep(wait)
        self._last_start = time.monotonic()

    async def create(self, entity: str, body: dict[str, Any], **params: str) -> Answer:
        return await self.send("POST", entity.lower(), body=body, params=params or None)

    async def read(self, entity: str, entity_id: str) -> Answer:
        return await self.send("GET", f"{entity.lower()}/{entity_id}")

    async def query(self, statement: str) -> Answer:
        return await self.send("POST", "query", body=statement, content_type="application/text")

    async def query_rows(self, statement: str, entity: str) -> list[dict[str, Any]]:
        answer = await self.query(statement)
        if not answer.ok:
            raise ContractHttpError(f"query {statement!r}", answer)
        rows = answer.entity("QueryResponse").get(entity, [])
        return [row for row in rows if isinstance(row, dict)]


class ContractHttpError(Exception):
    """A request a check depends on (not the one it is about) was refused."""

    def __init__(self, what: str, answer: Answer) -> None:
        super().__init__(f"{what}: {answer.summary()}")
        self.answer = answer


def _answer(response: httpx.Response) -> Answer:
    text = response.text
    try:
        body = decode_json(text) if text.strip() else None
    except json.JSONDecodeError:
        body = None
    return Answer(response.status_code, body, text)


def entity_of(answer: Answer, entity: str, what: str) -> dict[str, Any]:
    """The object a successful write or read returned; a refused one is the check's error."""
    if not answer.ok or not answer.entity(entity):
        raise ContractHttpError(what, answer)
    return answer.entity(entity)
