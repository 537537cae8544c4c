"""Where the checks run: a fresh emulator company per check, or one real sandbox company."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import httpx

from app.integrations.quickbooks.contract.model import Needs
from app.integrations.quickbooks.contract.raw import RawQbo, TokenSource
from app.integrations.quickbooks.contract.session import CompanyFacts, read_facts

# A real company counts 10 requests a second per realm and app; a little under keeps the checks
# that are not about the throttle from being throttled.
SANDBOX_MIN_INTERVAL_S = 0.12
# Settings a sandbox run honours: read from the real company (custom numbers here; the closing
# date by its check, which is skipped on a company without one).
_SANDBOX_SETTINGS = frozenset({"custom_txn_numbers", "book_close_date"})


class SkipCheck(Exception):  # noqa: N818 - a reason, not a failure
    """The connected company cannot run this check (another country or preference)."""


class Target(Protocol):
    kind: str  # "emulator" | "sandbox"

    @property
    def realm_id(self) -> str | None: ...

    async def company(self, needs: Needs) -> tuple[RawQbo, CompanyFacts]:
        """A company as the check needs it; SkipCheck when there is none."""
        ...


@dataclass
class EmulatorTarget:
    """A running emulator: every check gets a company of its own, made to its needs."""

    http: httpx.AsyncClient
    base_url: str
    kind: str = "emulator"

    @property
    def realm_id(self) -> str | None:
        return None  # one company per check: each check's details name its realm

    async def company(self, needs: Needs) -> tuple[RawQbo, CompanyFacts]:
        base = self.base_url.rstrip("/")
        spec = {"country": needs.country or "US", **needs.settings}
        made = await self.http.post(f"{base}/_emulator/companies", json=spec)
        made.raise_for_status()
        realm_id = str(made.json()["realm_id"])
        minted = await self.http.post(f"{base}/_emulator/companies/{realm_id}/tokens")
        minted.raise_for_status()
        token = str(minted.json()["access_token"])

        async def static_token() -> str:
            return token

        qbo = RawQbo(self.http, base, realm_id, static_token)
        return qbo, await read_facts(qbo)


@dataclass
class SandboxTarget:
    """One real (sandbox) company shared by every check; the token comes from the caller."""

    http: httpx.AsyncClient
    base_url: str
    realm: str
    token: TokenSource
    kind: str = "sandbox"
    _facts: CompanyFacts | None = field(default=None, init=False)
    _qbo: RawQbo | None = field(default=None, init=False)

    @property
    def realm_id(self) -> str | None:
        return self.realm

    async def company(self, needs: Needs) -> tuple[RawQbo, CompanyFacts]:
        if self._qbo is None:
            self._qbo = RawQbo(
                self.http, self.base_url, self.realm, self.token, SANDBOX_MIN_INTERVAL_S
            )
        if self._facts is None:
            self._facts = await read_facts(self._qbo)
        refusal = mismatch(needs, self._facts)
        if refusal:
            raise SkipCheck(refusal)
        return self._qbo, self._facts


def mismatch(needs: Needs, facts: CompanyFacts) -> str | None:
    """Why a real company cannot run a check, or None."""
    if needs.country is not None and facts.country != needs.country.upper():
        return (
            f"needs a {needs.country} company; this one is {facts.country} "
            f"(connect a {needs.country} sandbox company and run again)"
        )
    wanted = needs.settings.get("custom_txn_numbers")
    if wanted is not None and wanted != facts.custom_txn_numbers:
        state = "on" if wanted else "off"
        return (
            f"needs custom transaction numbers {state} (Account and settings > Sales > "
            "Custom transaction numbers)"
        )
    return None


def emulator_only_settings(needs: Needs) -> list[str]:
    """Settings a real company cannot be checked for (the check runs as the company is)."""
    return sorted(set(needs.settings) - _SANDBOX_SETTINGS)
