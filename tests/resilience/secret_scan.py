"""A pytest plugin: no secret or OAuth token in what the suite logs or prints (docs/design.md §3).

Registered in tests/conftest.py, so it watches every test of every run. It captures
- every structlog event (a processor inserted before the renderer, re-inserted at each test when
  a test reconfigured structlog) and every stdlib log record (`Logger.handle`, whatever the
  handlers), after the production redaction (`app.logging._redact`), so the scan judges what the
  service would really write;
- each test's captured stdout, stderr and log sections (pytest's own capture);
- the output of subprocesses a test reads with `communicate()` (`subprocess.run`, asyncio), and
  `*.log` files the test left in its `tmp_path` (services run as subprocesses log there);
and at the end of each test looks in it for the secrets the tests configure, for every OAuth
access token, refresh token and authorization code the in-process emulators issued (learned
where they are minted), for anything in the emulator's token format (tokens of emulators running
as subprocesses), and for the development secrets a subprocess generated into the test's
`tmp_path` (`secrets.json`).

A leak fails the session at its end (exit status 1) with a section naming each test, where the
secret appeared and the secret's name, never its value.
"""

from __future__ import annotations

import asyncio.subprocess
import base64
import json
import logging
import re
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Generator, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog

from app.logging import _redact
from qbo_emulator.config import EmulatorConfig
from qbo_emulator.tokens import AccessToken, Grant, TokenStore
from tests.fixtures.app import API_KEY, FERNET_KEY, SIGNING_SECRET, VERIFIER_TOKEN

OUTSIDE_TESTS = "<outside any test>"
STATS_KEY = "secret leaks"

# Intuit-like token shapes the emulator issues (qbo_emulator/tokens.py): access tokens start like
# a JWE header, refresh tokens are "AB11" + 12 digits + random text. Shorter tails still count,
# so a truncated token in a log is caught too.
ACCESS_TOKEN_RE = re.compile(r"eyJlbmMiOiJBMTI4Q0JDLUhTMjU2[A-Za-z0-9_-]{16,}")
REFRESH_TOKEN_RE = re.compile(r"AB11[0-9]{12}[A-Za-z0-9_-]{8,}")

# Bounds: what one test may buffer before it is scanned early, and what is read from its files.
_BUFFER_CHARS = 64 * 1024 * 1024
_MAX_FILES = 50
_MAX_FILE_BYTES = 16 * 1024 * 1024
_CONTEXT = 40


def configured_secrets() -> dict[str, str]:
    """The secrets the test fixtures configure, by name (the names are what a report shows)."""
    emulator = EmulatorConfig()
    client_id = emulator.client_id
    secrets = {
        "CRM signing secret (tests)": SIGNING_SECRET,
        "CRM API key (tests)": API_KEY,
        "Fernet token encryption key (tests)": FERNET_KEY,
        "QBO webhook verifier token (tests)": VERIFIER_TOKEN,
        "QBO webhook verifier token (emulator default)": emulator.verifier_token,
        "QBO client secret": emulator.client_secret,
    }
    # The client secret also travels inside an HTTP Basic header; that form leaks it as well.
    basic = base64.b64encode(f"{client_id}:{emulator.client_secret}".encode()).decode()
    secrets["QBO client secret (Basic authorization header)"] = basic
    return secrets


@dataclass
class Leak:
    """One secret found in one test's output: where (every place it showed) and around what."""

    nodeid: str
    secret: str
    sources: list[str]
    context: str


@dataclass
class _Buffer:
    texts: list[tuple[str, str]] = field(default_factory=list)
    chars: int = 0


class SecretScanner:
    """Collects what tests output, attributed to the running test, and finds known secrets in it."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self._static = {value: name for name, value in secrets.items() if value}
        self._issued: dict[str, str] = {}
        self._odd_tokens: dict[str, str] = {}
        self._buffers: dict[str, _Buffer] = {}
        self._extra: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self.current = OUTSIDE_TESTS
        self._leaks: dict[tuple[str, str], Leak] = {}
        self.scanned_chars = 0
        self.scanned_tests = 0

    # What counts as a secret.

    def token_issued(self, kind: str, value: str) -> None:
        """An OAuth token the emulator just issued (an exact value to look for)."""
        name = f"OAuth {kind} issued by the emulator"
        with self._lock:
            self._issued[value] = name
            if not (ACCESS_TOKEN_RE.fullmatch(value) or REFRESH_TOKEN_RE.fullmatch(value)):
                # No pattern finds it (an authorization code, or a token format the emulator
                # adopted since): looked for literally.
                self._odd_tokens[value] = name

    def add_test_secret(self, nodeid: str, name: str, value: str) -> None:
        """A secret only one test knows (e.g. generated by a subprocess into its tmp_path)."""
        if len(value) >= 8:
            with self._lock:
                self._extra.setdefault(nodeid, {})[value] = name

    # Capture.

    def feed(self, source: str, text: str, nodeid: str | None = None) -> None:
        if not text:
            return
        owner = nodeid or self.current
        with self._lock:
            buffer = self._buffers.setdefault(owner, _Buffer())
            buffer.texts.append((source, text))
            buffer.chars += len(text)
            overflow = buffer.chars > _BUFFER_CHARS
        if overflow:
            self.scan(owner)

    def scan(self, nodeid: str) -> None:
        """Look through everything buffered for `nodeid`, then forget it."""
        with self._lock:
            buffer = self._buffers.pop(nodeid, None)
            extra = self._extra.get(nodeid, {})
        if buffer is None:
            return
        self.scanned_chars += buffer.chars
        for source, text in buffer.texts:
            for name, context in self.find(text, extra):
                self._record(nodeid, name, source, context)

    def finish_test(self, nodeid: str) -> None:
        self.scanned_tests += 1
        self.scan(nodeid)
        with self._lock:
            self._extra.pop(nodeid, None)

    def find(self, text: str, extra: dict[str, str] | None = None) -> Iterable[tuple[str, str]]:
        """(secret name, masked context) for each secret in `text`."""
        literal = {**self._static, **self._odd_tokens, **(extra or {})}
        for value, name in literal.items():
            position = text.find(value)
            if position >= 0:
                yield name, self._masked(text, position, len(value), extra)
        for pattern, kind in (
            (ACCESS_TOKEN_RE, "access token"),
            (REFRESH_TOKEN_RE, "refresh token"),
        ):
            for match in pattern.finditer(text):
                name = self._issued_name(match.group(), kind)
                yield name, self._masked(text, match.start(), len(match.group()), extra)

    def _issued_name(self, found: str, kind: str) -> str:
        if found in self._issued:
            return self._issued[found]
        # A truncated issued token is still that token.
        if any(token.startswith(found) for token in self._issued):
            return f"OAuth {kind} issued by the emulator (truncated)"
        return f"OAuth {kind} (emulator format, not issued in this process)"

    def _masked(self, text: str, start: int, length: int, extra: dict[str, str] | None) -> str:
        """A little text around the leak with every known secret replaced by <secret>."""
        snippet = text[max(0, start - _CONTEXT) : start + length + _CONTEXT]
        for value in (*self._static, *self._odd_tokens, *(extra or {})):
            snippet = snippet.replace(value, "<secret>")
        snippet = ACCESS_TOKEN_RE.sub("<token>", snippet)
        snippet = REFRESH_TOKEN_RE.sub("<token>", snippet)
        return " ".join(snippet.split())[: 2 * _CONTEXT + 40]

    def _record(self, nodeid: str, name: str, source: str, context: str) -> None:
        with self._lock:
            leak = self._leaks.setdefault((nodeid, name), Leak(nodeid, name, [], context))
            if source not in leak.sources:
                leak.sources.append(source)

    @property
    def leaks(self) -> list[Leak]:
        with self._lock:
            return list(self._leaks.values())

    def report_lines(self) -> list[str]:
        lines = []
        for leak in self.leaks:
            lines.append(f"{leak.nodeid}: {leak.secret}")
            lines.append(f"    in: {'; '.join(leak.sources)}")
            lines.append(f"    around: ... {leak.context} ...")
        return lines


# The capture hooks. One scanner per pytest process.

_SCANNER: SecretScanner | None = None
_UNDO: list[Callable[[], None]] = []


def scanner() -> SecretScanner:
    assert _SCANNER is not None, "the secret_scan plugin is not configured"
    return _SCANNER


def _feed(source: str, text: str) -> None:
    if _SCANNER is not None:
        _SCANNER.feed(source, text)


def _exception_text(exc_info: Any) -> str:
    """The messages of an exception and its causes: where a secret in an error would show.

    Only the messages (`format_exception_only`): formatting whole tracebacks here, in whatever
    thread logs, would race pytest's own traceback formatting on CPython 3.11, whose `ast`
    module (used for the carets) keeps its recursion depth in state shared by all threads.
    """
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc_info = exc_info[1]
    parts: list[str] = []
    seen: set[int] = set()
    current = exc_info if isinstance(exc_info, BaseException) else None
    while current is not None and id(current) not in seen and len(parts) < 20:
        seen.add(id(current))
        parts.extend(traceback.format_exception_only(type(current), current))
        current = current.__cause__ or current.__context__
    return "".join(parts)


def structlog_tap(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Redact as production does, then record the event as it would be written."""
    event_dict = _redact(logger, method, event_dict)
    text = " ".join(f"{key}={value}" for key, value in event_dict.items())
    _feed("structlog event", text + "\n" + _exception_text(event_dict.get("exc_info")))
    return event_dict


def ensure_structlog_tap() -> None:
    """Insert the tap before the renderer of whatever structlog configuration is current."""
    processors = structlog.get_config()["processors"]
    if structlog_tap in processors or not processors:
        return
    # The list is the live one every logger (cached or not) uses: insert in place.
    processors.insert(len(processors) - 1, structlog_tap)


def _record_text(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the raw parts are what would be written
        message = f"{record.msg} {record.args}"
    parts = [message, record.exc_text or "", _exception_text(record.exc_info), record.stack_info]
    return "\n".join(part for part in parts if part)


def _install_logging_tap() -> None:
    original = logging.Logger.handle

    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        _feed(f"log record of {record.name}", _record_text(record))
        original(self, record)

    logging.Logger.handle = handle  # type: ignore[method-assign]
    _UNDO.append(lambda: setattr(logging.Logger, "handle", original))


def _decode(output: Any) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", errors="replace")
    return output if isinstance(output, str) else ""


def _install_subprocess_taps() -> None:
    original = subprocess.Popen.communicate

    def communicate(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
        out, err = original(self, *args, **kwargs)
        _feed(f"subprocess output of {self.args!r}"[:200], _decode(out) + "\n" + _decode(err))
        return out, err

    subprocess.Popen.communicate = communicate  # type: ignore[method-assign]
    _UNDO.append(lambda: setattr(subprocess.Popen, "communicate", original))

    original_async = asyncio.subprocess.Process.communicate

    async def communicate_async(
        self: asyncio.subprocess.Process, input: bytes | bytearray | memoryview | None = None
    ) -> tuple[bytes, bytes]:
        out, err = await original_async(self, input)
        _feed("subprocess output (asyncio)", _decode(out) + "\n" + _decode(err))
        return out, err

    asyncio.subprocess.Process.communicate = communicate_async  # type: ignore[method-assign]
    _UNDO.append(lambda: setattr(asyncio.subprocess.Process, "communicate", original_async))


def _install_token_taps() -> None:
    """Learn every token an in-process emulator issues, where it is minted."""
    new_code, new_grant = TokenStore.new_code, TokenStore.new_grant
    rotate, new_access = TokenStore.rotate, TokenStore.new_access

    def tapped_code(self: TokenStore, *args: Any, **kwargs: Any) -> str:
        code = new_code(self, *args, **kwargs)
        scanner().token_issued("authorization code", code)
        return code

    def tapped_grant(self: TokenStore, *args: Any, **kwargs: Any) -> Grant:
        grant = new_grant(self, *args, **kwargs)
        scanner().token_issued("refresh token", grant.refresh_token)
        return grant

    def tapped_rotate(self: TokenStore, grant: Grant) -> None:
        rotate(self, grant)
        scanner().token_issued("refresh token", grant.refresh_token)

    def tapped_access(self: TokenStore, *args: Any, **kwargs: Any) -> AccessToken:
        token = new_access(self, *args, **kwargs)
        scanner().token_issued("access token", token.token)
        return token

    TokenStore.new_code = tapped_code  # type: ignore[method-assign]
    TokenStore.new_grant = tapped_grant  # type: ignore[method-assign]
    TokenStore.rotate = tapped_rotate  # type: ignore[method-assign]
    TokenStore.new_access = tapped_access  # type: ignore[method-assign]

    def undo() -> None:
        TokenStore.new_code = new_code  # type: ignore[method-assign]
        TokenStore.new_grant = new_grant  # type: ignore[method-assign]
        TokenStore.rotate = rotate  # type: ignore[method-assign]
        TokenStore.new_access = new_access  # type: ignore[method-assign]

    _UNDO.append(undo)


def _tmp_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(secrets.json files, *.log files) a test left under its tmp_path, bounded."""
    secrets: list[Path] = []
    logs: list[Path] = []
    try:
        for path in root.rglob("*"):
            if len(secrets) + len(logs) >= _MAX_FILES:
                break
            if path.name == "secrets.json":
                secrets.append(path)
            elif path.suffix == ".log" and path.is_file():
                logs.append(path)
    except OSError:
        # A data directory another user owns (the embedded PostgreSQL's): what was found so far.
        pass
    return secrets, logs


def _scan_tmp_path(nodeid: str, root: Path) -> None:
    if not root.is_dir():
        return
    found_secrets, logs = _tmp_files(root)
    for path in found_secrets:
        try:
            generated = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for name, value in generated.items() if isinstance(generated, dict) else ():
            if isinstance(value, str):
                scanner().add_test_secret(nodeid, f"{name} (generated in {path.name})", value)
    for path in logs:
        try:
            with path.open("rb") as handle:
                text = handle.read(_MAX_FILE_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        scanner().feed(f"file {path.relative_to(root)}", text, nodeid)


# pytest hooks.


def pytest_configure(config: pytest.Config) -> None:
    global _SCANNER
    if _SCANNER is not None:
        return
    _SCANNER = SecretScanner(configured_secrets())
    ensure_structlog_tap()
    _install_logging_tap()
    _install_subprocess_taps()
    _install_token_taps()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _SCANNER
    while _UNDO:
        _UNDO.pop()()
    processors = structlog.get_config()["processors"]
    if structlog_tap in processors:
        processors.remove(structlog_tap)
    _SCANNER = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    scanner().current = item.nodeid
    ensure_structlog_tap()
    try:
        return (yield)
    finally:
        scanner().finish_test(item.nodeid)
        scanner().current = OUTSIDE_TESTS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    funcargs = getattr(item, "funcargs", None) or {}
    tmp_path = funcargs.get("tmp_path")
    try:
        return (yield)
    finally:
        # After the fixtures' teardown: subprocesses have stopped and written their last lines.
        if isinstance(tmp_path, Path):
            _scan_tmp_path(item.nodeid, tmp_path)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for title, content in report.sections:
        scanner().feed(title.lower(), content, report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    scanner().scan(OUTSIDE_TESTS)
    if scanner().leaks and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SCANNER is None or not _SCANNER.scanned_tests:
        return
    leaks = _SCANNER.leaks
    if not leaks:
        megabytes = _SCANNER.scanned_chars / 1e6
        terminalreporter.write_line(
            f"secret scan: no secret or token in {megabytes:.1f} MB of logs and output "
            f"of {_SCANNER.scanned_tests} tests"
        )
        return
    terminalreporter.section("secret scan: secrets or tokens in test output", sep="=", red=True)
    terminalreporter.line(
        f"{len(leaks)} secret(s) or token(s) logged or printed; each names the test, where it "
        "appeared and which secret (never its value). The session fails."
    )
    for line in _SCANNER.report_lines():
        terminalreporter.line(line)
    terminalreporter.stats.setdefault(STATS_KEY, []).extend(leaks)
