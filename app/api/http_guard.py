"""Read deadlines for `qbo-sync serve` against slow clients (slowloris), at the protocol level.

uvicorn only times out an idle keep-alive connection *after* a response: a connection that sends
nothing, or its headers one byte at a time, or its body a trickle at a time, is held for ever,
and with `limit_concurrency` every such connection counts against the cap. This subclass of
uvicorn's httptools protocol gives each request a deadline for its headers (from the first byte,
or from the connection's start) and one for its body; past it, the connection gets a 408 and is
closed. Header bytes are capped too (httptools itself has no limit): past it, a 431.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.logging import get_logger

log = get_logger(__name__)

_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 24\r\nconnection: close\r\n\r\nrequest read timed out.\n"
)
_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 27\r\nconnection: close\r\n\r\nrequest headers too large.\n"
)


class GuardedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with per-request read deadlines; configure through `guarded_protocol`."""

    header_timeout_s: ClassVar[float] = 10.0
    body_timeout_s: ClassVar[float] = 30.0
    max_header_bytes: ClassVar[int] = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_deadline: asyncio.TimerHandle | None = None
        self._reading_headers = False
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        reading_headers = self._reading_headers
        super().data_received(data)
        # Counted only when the headers are still incomplete after the chunk: a chunk that also
        # carries the start of a large body is not header bytes.
        if reading_headers and self._reading_headers:
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._refuse(_431, "http.headers_too_large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_deadline is None:
            self._start_headers()  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._arm(self.body_timeout_s, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn's keep-alive timer now covers the idle time until the next request's first
        # byte, which restarts the header deadline in on_message_begin.

    def _start_headers(self) -> None:
        self._reading_headers = True
        self._header_bytes = 0
        self._arm(self.header_timeout_s, "headers")

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(seconds, self._timed_out, phase)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _timed_out(self, phase: str) -> None:
        self._read_deadline = None
        idle = phase == "headers" and self._header_bytes == 0 and self.cycle is None
        # A connection that never sent a byte gets no answer: nothing asked for one.
        self._refuse(None if idle else _408, "http.read_timeout", phase=phase)

    def _refuse(self, answer: bytes | None, event: str, **fields: Any) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        log.warning(event, client=_client(self.client), **fields)
        started = self.cycle is not None and self.cycle.response_started
        if answer is not None and not started:
            self.transport.write(answer)
        self.transport.close()


def _client(address: tuple[str, int] | None) -> str | None:
    return f"{address[0]}:{address[1]}" if address else None


def guarded_protocol(
    *, header_timeout_s: float, body_timeout_s: float, max_header_bytes: int
) -> type[GuardedHttpProtocol]:
    """A protocol class for uvicorn's `http=` option with these limits."""
    return type(
        "ConfiguredGuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "header_timeout_s": header_timeout_s,
            "body_timeout_s": body_timeout_s,
            "max_header_bytes": max_header_bytes,
        },
    )
