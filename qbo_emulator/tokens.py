"""OAuth state: authorization codes, connections (grants) and the tokens they issued."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

CODE_TTL_S = 300


@dataclass
class AuthCode:
    code: str
    realm_id: str
    client_id: str
    redirect_uri: str
    scope: str
    expires_at: float
    used: bool = False
    # PKCE (RFC 7636): the authorize request's code_challenge and its method, if it sent one.
    code_challenge: str | None = None
    code_challenge_method: str = "plain"


@dataclass
class Grant:
    """One app-to-company connection; revoking it kills every token it issued."""

    grant_id: str
    realm_id: str
    client_id: str
    scope: str
    refresh_token: str
    refresh_expires_at: float
    revoked: bool = False
    superseded: set[str] = field(default_factory=set)


@dataclass
class AccessToken:
    token: str
    grant: Grant
    expires_at: float
    expired_by_control: bool = False


class TokenStore:
    def __init__(self) -> None:
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.by_refresh: dict[str, Grant] = {}
        self.access: dict[str, AccessToken] = {}

    def new_code(
        self,
        realm_id: str,
        client_id: str,
        redirect_uri: str,
        scope: str,
        now: float,
        challenge: tuple[str, str] | None = None,
    ) -> str:
        code = "AB1" + secrets.token_urlsafe(40)
        self.codes[code] = AuthCode(
            code, realm_id, client_id, redirect_uri, scope, now + CODE_TTL_S
        )
        if challenge is not None:
            self.codes[code].code_challenge, self.codes[code].code_challenge_method = challenge
        return code

    def new_grant(
        self, realm_id: str, client_id: str, scope: str, refresh_expires_at: float
    ) -> Grant:
        grant = Grant(
            grant_id=secrets.token_hex(8),
            realm_id=realm_id,
            client_id=client_id,
            scope=scope,
            refresh_token=_refresh_value(),
            refresh_expires_at=refresh_expires_at,
        )
        self.grants[grant.grant_id] = grant
        self.by_refresh[grant.refresh_token] = grant
        return grant

    def rotate(self, grant: Grant) -> None:
        grant.superseded.add(grant.refresh_token)
        grant.refresh_token = _refresh_value()
        self.by_refresh[grant.refresh_token] = grant

    def new_access(self, grant: Grant, expires_at: float) -> AccessToken:
        token = AccessToken(
            "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2" + secrets.token_urlsafe(96), grant, expires_at
        )
        self.access[token.token] = token
        return token

    def for_realm(self, realm_id: str) -> list[Grant]:
        return [g for g in self.grants.values() if g.realm_id == realm_id]

    def connected(self, realm_id: str) -> bool:
        return any(not g.revoked for g in self.grants.values() if g.realm_id == realm_id)

    def expire_realm(self, realm_id: str) -> int:
        count = 0
        for token in self.access.values():
            if token.grant.realm_id == realm_id and not token.expired_by_control:
                token.expired_by_control = True
                count += 1
        return count

    def revoke_realm(self, realm_id: str) -> int:
        grants = [g for g in self.for_realm(realm_id) if not g.revoked]
        for grant in grants:
            grant.revoked = True
        return len(grants)


def _refresh_value() -> str:
    # Intuit refresh tokens look like "AB11" + digits + random text.
    return "AB11" + str(secrets.randbelow(10**12)).zfill(12) + secrets.token_urlsafe(30)
