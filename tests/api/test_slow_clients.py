"""Slow clients (slowloris) cannot hold `qbo-sync serve`'s connections: read deadlines and caps.

The service runs with the server configuration of `qbo-sync serve` (app/api/server.py) on a real
socket; raw sockets play the slow clients while a normal client keeps being served.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from app.api.server import server_config
from app.config import Settings
from app.db.provision import Database
from app.main import create_app
from tests.fixtures.live import free_port

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
# The server closes within its deadline; this much more is allowed for a loaded test machine.
SLACK_S = 1.5
TRICKLE_S = 0.05  # one byte per this many seconds


@pytest.fixture
def max_connections() -> int:
    return 1000


@pytest.fixture
def server(
    settings: Settings, database_url: str, max_connections: int
) -> Iterator[tuple[str, int]]:
    settings.http_header_timeout_s = HEADER_TIMEOUT_S
    settings.http_body_timeout_s = BODY_TIMEOUT_S
    settings.http_max_connections = max_connections
    port = free_port()
    app = create_app(settings, run_worker=False, database=Database(database_url))
    server = uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def answer_or_close(sock: socket.socket, timeout_s: float) -> bytes:
    """What the server sends before closing (b"" if it just closes); fails if it does neither."""
    received = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
    raise AssertionError(f"the server kept the connection open for {timeout_s} s: {received!r}")


def trickle(sock: socket.socket, data: bytes, limit_s: float) -> tuple[bytes, float]:
    """Send `data` one byte at a time until the server answers or closes; (answer, seconds)."""
    started = time.monotonic()
    received = b""
    for byte in data:
        readable, _, _ = select.select([sock], [], [], TRICKLE_S)
        if readable:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received, time.monotonic() - started
            if not chunk:
                return received, time.monotonic() - started
            received += chunk
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return received, time.monotonic() - started
        assert time.monotonic() - started < limit_s, "the server still reads the slow request"
    rest = answer_or_close(sock, limit_s)
    return received + rest, time.monotonic() - started


def test_headers_sent_one_byte_at_a_time_are_cut_off_while_others_are_served(
    server: tuple[str, int],
) -> None:
    """Smaller holes: a slowloris client sending headers byte by byte is answered 408 and closed
    within the header deadline, while other requests are still served."""
    host, port = server
    headers = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-Pad: " + b"a" * 400 + b"\r\n\r\n"
    results: dict[str, float] = {}

    def normal_requests() -> None:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as http:
            for _ in range(5):
                assert http.get("/healthz").status_code == 200
                time.sleep(0.1)
        results["normal_done"] = time.monotonic()

    with socket.create_connection((host, port)) as slow:
        helper = threading.Thread(target=normal_requests)
        helper.start()
        answer, took = trickle(slow, headers, HEADER_TIMEOUT_S + SLACK_S)
        helper.join(timeout=10)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert HEADER_TIMEOUT_S - 0.2 <= took <= HEADER_TIMEOUT_S + SLACK_S, took
    assert "normal_done" in results, "normal requests were not served meanwhile"


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int]) -> None:
    """Smaller holes: an idle connection does not hold a slot for ever."""
    with socket.create_connection(server) as idle:
        started = time.monotonic()
        assert answer_or_close(idle, HEADER_TIMEOUT_S + SLACK_S) == b""
    assert time.monotonic() - started >= HEADER_TIMEOUT_S - 0.2


def test_a_body_sent_one_byte_at_a_time_is_cut_off(server: tuple[str, int]) -> None:
    """Smaller holes: a client trickling its body is answered 408 and closed."""
    body = b'{"id": "' + b"x" * 200 + b'"}'
    head = (
        b"POST /v1/crm/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with socket.create_connection(server) as slow:
        slow.sendall(head)
        answer, took = trickle(slow, body, BODY_TIMEOUT_S + SLACK_S)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert took <= BODY_TIMEOUT_S + SLACK_S


def test_oversized_headers_get_431_but_a_large_body_is_not_taken_for_headers(
    server: tuple[str, int],
) -> None:
    """Smaller holes: header bytes are capped; a large body sent at once is read normally."""
    huge = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-Pad: " + b"a" * 100_000
    with socket.create_connection(server) as client:
        client.sendall(huge)
        answer = answer_or_close(client, 5)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]

    host, port = server
    body = b"[" + b'"x",' * 150_000 + b'"x"]'  # about 600 KB, under the webhook size limit
    response = httpx.post(f"http://{host}:{port}/v1/qbo/webhooks", content=body, timeout=10)
    assert response.status_code == 401  # read in full, then refused for its missing signature


@pytest.mark.parametrize("max_connections", [3])
def test_connections_over_the_cap_get_503_until_idle_ones_are_cut_off(
    server: tuple[str, int],
) -> None:
    """Smaller holes: a connection cap; slow connections hold it only until their deadline."""
    host, port = server
    idle = [socket.create_connection(server) for _ in range(3)]
    try:
        time.sleep(0.2)  # accepted by the server
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as http:
            assert http.get("/healthz").status_code == 503
        for sock in idle:
            assert answer_or_close(sock, HEADER_TIMEOUT_S + SLACK_S) == b""
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as http:
            assert http.get("/healthz").status_code == 200
    finally:
        for sock in idle:
            sock.close()
