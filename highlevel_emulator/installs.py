"""App installs and uninstalls, and the codes and tokens they lead to.

AppInstall / AppUninstall bodies: docs/webhook events/AppInstall.md ("For Location Level App
Install if company is non whitelabeled") and AppUninstall.md ("For Location Level App Uninstall").
UNKNOWN (README): `planId` and `trial` for a free app (left out), `versionId`/`installType` that
the SDK's `InstallWebhookRequest` type lists (left out), and bulk installs (`locationIds`).
"""

from __future__ import annotations

from highlevel_emulator.state import Grant, HighLevelEmulator, Location

CODE_TTL_S = 600  # UNKNOWN (README): HighLevel does not document the code's lifetime.


def install(emu: HighLevelEmulator, location: Location, user_id: str | None) -> str | None:
    """Mark installed and fire AppInstall (once per install); returns its webhookId."""
    location.user_id = user_id or location.user_id or emu.short_id()
    if location.installed:
        return None
    location.installed = True
    body = {
        "type": "INSTALL",
        "appId": emu.config.app_id,
        "locationId": location.location_id,
        "companyId": location.company_id,
        "userId": location.user_id,
        "isWhitelabelCompany": False,
        "whitelabelDetails": {},
        "companyName": location.name,
    }
    return emu.webhooks.emit(location.location_id, "AppInstall", body)


def uninstall(emu: HighLevelEmulator, location: Location) -> str:
    location.installed = False
    revoke(emu, location.location_id)
    body = {"type": "UNINSTALL", "appId": emu.config.app_id, "locationId": location.location_id}
    return emu.webhooks.emit(location.location_id, "AppUninstall", body)


def revoke(emu: HighLevelEmulator, location_id: str) -> None:
    for table in (emu.store.access_tokens, emu.store.refresh_tokens, emu.store.codes):
        for key in [k for k, g in table.items() if g.location_id == location_id]:
            del table[key]


def issue_code(emu: HighLevelEmulator, location: Location, scope: str) -> str:
    code = emu.token()
    emu.store.codes[code] = Grant(
        location.location_id,
        location.company_id,
        location.user_id or "",
        scope,
        emu.now() + CODE_TTL_S,
    )
    return code


def expire_tokens(emu: HighLevelEmulator, location_id: str) -> int:
    expired = 0
    for grant in emu.store.access_tokens.values():
        if grant.location_id == location_id and grant.expires_at > emu.now():
            grant.expires_at = emu.now() - 1
            expired += 1
    return expired
