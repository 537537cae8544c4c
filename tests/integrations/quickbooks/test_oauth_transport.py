"""OAuth through authlib's transport-free parts: no deprecated HTTP integration, no warning.

authlib 1.8 moved its httpx integration to the `httpx2` fork and warns (a DeprecationWarning)
when the plain-httpx one is imported. The service must import none of authlib's HTTP
integrations: a fresh interpreter that turns every DeprecationWarning into an error imports the
service's entry points and runs the Intuit OAuth client (authorization URL with PKCE, a code
exchange whose request fails), then reports the authlib modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import asyncio, json, sys
import app.main, app.cli, app.wiring, app.jobs.standalone
from app.integrations.quickbooks.auth import IntuitOAuth, OAuthUnavailableError, endpoints_for

async def main() -> str:
    oauth = IntuitOAuth(
        client_id="client", client_secret="secret", redirect_uri="http://127.0.0.1:9/cb",
        endpoints=endpoints_for("http://127.0.0.1:9"), timeout_s=2,
    )
    url = oauth.authorization_url("state", "v" * 64)
    try:
        await oauth.exchange_code("code", "v" * 64)
    except OAuthUnavailableError:
        pass
    await oauth.aclose()
    return url

url = asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.startswith("authlib"))
print(json.dumps({"url": url, "authlib": loaded}))
"""


def run_checked() -> dict[str, object]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-W", "error::DeprecationWarning", "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "deprecated" not in done.stderr.lower(), done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_service_imports_no_authlib_http_integration_and_warns_nothing() -> None:
    result = run_checked()
    loaded = result["authlib"]
    assert isinstance(loaded, list)
    assert "authlib.oauth2" in loaded, "the OAuth client is authlib's"
    assert [m for m in loaded if m.startswith("authlib.integrations")] == []
    url = str(result["url"])
    # PKCE stays: RFC 7636 appendix B's S256 of the verifier, and the method named.
    assert "code_challenge_method=S256" in url
    assert "code_challenge=" in url
