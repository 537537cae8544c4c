"""Releasing a location's QuickBooks company, over real HTTP against the QBO emulator.

Item 8, a company can be released: DELETE /v1/connections/{id}?release_company=true and the
card's confirmed Release action end the location/company binding, keep links and history for
audit, and let the company (and the location) be connected elsewhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db.session import SessionFactory
from app.repositories import company_releases
from qbo_emulator.config import EmulatorConfig
from tests.fixtures.connect import AUTH, browse, describe, start_connect


@pytest.fixture
def emulator_config(auto_consent_config: EmulatorConfig) -> EmulatorConfig:
    return auto_consent_config


def outcome(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def connect(base: str, location: str) -> dict[str, str]:
    """Connect through the real redirects (auto-consent: the newest emulator company)."""
    visited = await browse((await start_connect(base, location=location))["connect_url"])
    return outcome(visited[-1])


async def release(base: str, location: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.delete(
            f"{base}/v1/connections/{location}", params={"release_company": "true"}, headers=AUTH
        )


async def add_link(db: SessionFactory, location: str, crm_id: str, qbo_id: str) -> int:
    """A link as a sync would have written it (the flows themselves are tested elsewhere)."""
    async with db() as session, session.begin():
        link_id: int = (
            await session.execute(
                text(
                    "INSERT INTO entity_links (connection_id, kind, crm_id, qbo_id, origin, state)"
                    " SELECT id, 'invoice', :crm, :qbo, 'crm', '{}' FROM connections"
                    " WHERE location_id = :loc RETURNING id"
                ),
                {"crm": crm_id, "qbo": qbo_id, "loc": location},
            )
        ).scalar_one()
    return link_id


async def links_of(db: SessionFactory, location: str) -> list[tuple[int, str]]:
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT l.id, l.crm_id FROM entity_links l JOIN connections c"
                " ON c.id = l.connection_id WHERE c.location_id = :loc ORDER BY l.id"
            ),
            {"loc": location},
        )
        return [(row[0], row[1]) for row in rows.all()]


async def new_company(emulator: str, country: str = "GB") -> str:
    async with httpx.AsyncClient(base_url=emulator) as http:
        created: dict[str, Any] = (
            await http.post("/_emulator/companies", json={"country": country, "currency": "GBP"})
        ).json()
    realm: str = created["realm_id"]
    return realm


async def test_a_released_company_can_be_connected_to_another_location(
    live_service: tuple[str, Settings], db: SessionFactory
) -> None:
    """Item 8: connect A to X, release, connect B to X succeeds; A's links stay with A."""
    base, _ = live_service
    assert (await connect(base, "loc_a"))["status"] == "connected"
    realm = (await describe(base, "loc_a"))["realm_id"]
    await add_link(db, "loc_a", "inv_1", "101")

    response = await release(base, "loc_a")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "location_id": "loc_a",
        "status": "disconnected",
        "revoked": True,
        "released_realm_id": realm,
        "links_archived": 1,
    }
    released = await describe(base, "loc_a")
    assert released["realm_id"] is None
    assert released["status"] == "disconnected"
    assert released["company"]["name"] is None
    assert [r["realm_id"] for r in released["released_companies"]] == [realm]
    assert await links_of(db, "loc_a") == []  # archived, not deleted:
    async with db() as session:
        archived = (
            await session.execute(
                text("SELECT links FROM company_releases WHERE realm_id = :r"), {"r": realm}
            )
        ).scalar_one()
    assert [link["crm_id"] for link in archived] == ["inv_1"]

    # --auto-consent connects the newest company: X again, now for another location.
    assert await connect(base, "loc_b") == {"status": "connected", "tab": "settings"}
    assert (await describe(base, "loc_b"))["realm_id"] == realm
    assert await links_of(db, "loc_b") == []  # links are per location: never handed over


async def test_without_release_the_company_stays_bound(live_service: tuple[str, Settings]) -> None:
    """Item 8: a plain disconnect keeps the binding: another location is refused as before."""
    base, _ = live_service
    await connect(base, "loc_a")
    async with httpx.AsyncClient() as http:
        response = await http.delete(f"{base}/v1/connections/loc_a", headers=AUTH)
    assert response.json() == {"location_id": "loc_a", "status": "disconnected", "revoked": True}
    assert (await connect(base, "loc_b"))["reason"] == "realm_in_use"
    assert (await describe(base, "loc_b"))["status"] == "pending"


async def test_releasing_without_a_company_is_a_clear_4xx(
    live_service: tuple[str, Settings],
) -> None:
    """Item 8: unknown location 404; registered but never connected, or released twice, 409."""
    base, _ = live_service
    unknown = await release(base, "loc_nobody")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_location"

    await start_connect(base, location="loc_pending")  # registered, never connected
    pending = await release(base, "loc_pending")
    assert pending.status_code == 409
    assert pending.json()["error"] == "no_company"
    assert "nothing to release" in pending.json()["detail"]

    await connect(base, "loc_a")
    assert (await release(base, "loc_a")).status_code == 200
    again = await release(base, "loc_a")
    assert again.status_code == 409
    assert again.json()["error"] == "no_company"


async def test_a_released_location_can_connect_a_different_company(
    live_service: tuple[str, Settings], emulator: str, db: SessionFactory
) -> None:
    """Item 8: the location connected to the wrong company connects the right one."""
    base, _ = live_service
    await connect(base, "loc_a")
    wrong = (await describe(base, "loc_a"))["realm_id"]
    await add_link(db, "loc_a", "inv_1", "101")
    right = await new_company(emulator)
    assert (await connect(base, "loc_a"))["reason"] == "different_company"  # as today

    assert (await release(base, "loc_a")).status_code == 200
    assert (await connect(base, "loc_a"))["status"] == "connected"
    connection = await describe(base, "loc_a")
    assert connection["realm_id"] == right != wrong
    assert connection["company"]["country"] == "GB"
    assert connection["import"]["state"] in {"queued", "running", "done"}  # imported afresh
    assert await links_of(db, "loc_a") == []  # the wrong company's ids never reach the right one


async def test_a_link_written_after_the_release_never_reaches_the_next_company(
    live_service: tuple[str, Settings], emulator: str, db: SessionFactory
) -> None:
    """Item 8: a job still running at release time writes a link; it joins the archive."""
    base, _ = live_service
    await connect(base, "loc_a")
    await add_link(db, "loc_a", "inv_1", "101")
    assert (await release(base, "loc_a")).status_code == 200
    await add_link(db, "loc_a", "inv_2", "102")  # as the in-flight job would have
    await new_company(emulator)
    assert (await connect(base, "loc_a"))["status"] == "connected"
    assert await links_of(db, "loc_a") == []
    history = (await describe(base, "loc_a"))["released_companies"]
    assert history[0]["links_archived"] == 2


async def test_the_same_company_back_at_the_same_location_gets_its_links_back(
    live_service: tuple[str, Settings], db: SessionFactory
) -> None:
    """Item 8: links come back only to the location that made them (no duplicate invoices)."""
    base, _ = live_service
    await connect(base, "loc_a")
    link_id = await add_link(db, "loc_a", "inv_1", "101")
    assert (await release(base, "loc_a")).status_code == 200
    assert await links_of(db, "loc_a") == []

    assert (await connect(base, "loc_a"))["status"] == "connected"
    assert await links_of(db, "loc_a") == [(link_id, "inv_1")]
    history = (await describe(base, "loc_a"))["released_companies"]
    assert history[0]["restored_at"] is not None


async def test_the_card_releases_the_company_after_a_confirmation(
    live_service: tuple[str, Settings],
) -> None:
    """Item 8: the card's Release action asks first, then releases; B can then connect X."""
    base, _ = live_service
    await connect(base, "loc_a")
    realm = (await describe(base, "loc_a"))["realm_id"]
    async with httpx.AsyncClient(base_url=base) as http:
        link = await http.post("/v1/connections/loc_a/card-link", headers=AUTH)
        token = parse_qs(urlsplit(link.json()["url"]).query)["token"][0]
        card = await http.get("/v1/card", params={"token": token})
        assert "Release it…" in card.text

        # Straight to the action (no confirmation): the card shows the confirmation instead.
        unconfirmed = await http.post("/v1/card/release", data={"token": token})
        assert unconfirmed.status_code == 303
        assert "confirm=release" in unconfirmed.headers["location"]
        assert (await describe(base, "loc_a"))["realm_id"] == realm
        confirm_page = await http.get(unconfirmed.headers["location"])
        assert "Yes, release the company" in confirm_page.text

        done = await http.post("/v1/card/release", data={"token": token, "confirm": "release"})
        assert done.status_code == 303
        assert "notice=released" in done.headers["location"]
        page = await http.get(done.headers["location"])
        assert "The QuickBooks company was released." in page.text
        assert "Connect to QuickBooks" in page.text

        twice = await http.post("/v1/card/release", data={"token": token, "confirm": "release"})
        assert "notice=no_company" in twice.headers["location"]
        forged = await http.post("/v1/card/release", data={"token": "x", "confirm": "release"})
        assert forged.status_code == 403
    assert (await describe(base, "loc_a"))["realm_id"] is None
    assert (await connect(base, "loc_b"))["status"] == "connected"
    assert (await describe(base, "loc_b"))["realm_id"] == realm


async def test_every_table_keyed_by_connection_is_archived_or_kept_on_release(
    db: SessionFactory,
) -> None:
    """Item 8: a new table holding a company's ids per connection must be handled by release."""
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT conrelid::regclass::text FROM pg_constraint"
                " WHERE contype = 'f' AND confrelid = 'connections'::regclass"
                " AND conkey IS NOT NULL AND confkey = ARRAY["
                "  (SELECT attnum FROM pg_attribute WHERE attrelid = 'connections'::regclass"
                "   AND attname = 'id')]::smallint[]"
            )
        )
        referencing = {row[0] for row in rows.all()}
    handled = {table.name for table in company_releases.ARCHIVED_TABLES}
    kept = set(company_releases.KEPT_TABLES) | set(company_releases.DROPPED_TABLES)
    assert referencing == handled | kept
