"""Ids typed into forms, paths and the CLI are ASCII digits within a BIGINT, or refused cleanly.

Smaller holes (item 10): `POST /v1/card/retry` with a non-ASCII digit id is a 400, not a 500.
Python's int() reads "١٢٣" (Arabic-Indic) as 123 and str.isdigit() says yes to "²", which
int() then refuses with a ValueError: a 500.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.cli import _parser
from tests.fixtures.connect import AUTH

NOT_IDS = ["١٢٣", "²", "\uff11\uff12", "+5", " 5", "5_000", "0", "-1", "9" * 19, "9" * 30, "x" * 40]


async def card_token(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/connections/loc_ids/card-link", headers=AUTH)
    url: str = response.json()["url"]
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.mark.parametrize("entry_id", NOT_IDS)
async def test_card_retry_with_a_non_id_is_a_400(client: httpx.AsyncClient, entry_id: str) -> None:
    """Smaller holes (item 10): a forged card retry id gets a plain 400 page, never a 500."""
    token = await card_token(client)
    response = await client.post("/v1/card/retry", data={"token": token, "entry_id": entry_id})
    assert response.status_code == 400
    assert "digits 0-9" in response.text


async def test_card_retry_with_an_unknown_ascii_id_goes_back_to_the_card(
    client: httpx.AsyncClient,
) -> None:
    """Smaller holes (item 10): a well-formed id that names nothing is the card's notice."""
    token = await card_token(client)
    response = await client.post("/v1/card/retry", data={"token": token, "entry_id": "123"})
    assert response.status_code == 303
    assert "notice=not_retryable" in response.headers["location"]


@pytest.mark.parametrize("entry_id", NOT_IDS)
async def test_sync_log_ids_are_ascii_digits_within_a_bigint(
    client: httpx.AsyncClient, entry_id: str
) -> None:
    """Smaller holes (item 10): the sync-log retry route and its paging take only real ids."""
    retry = await client.post(
        f"/v1/connections/loc_ids/sync-log/{entry_id.strip()}/retry", headers=AUTH
    )
    assert retry.status_code in (404, 422)  # " 5" stripped by the URL is "5": just unknown
    if entry_id.strip() == entry_id:
        assert retry.status_code == 422, retry.text
        assert [e["path"] for e in retry.json()["errors"]] == ["path.entry_id"]
    page = await client.get(
        "/v1/connections/loc_ids/sync-log", params={"before_id": entry_id}, headers=AUTH
    )
    assert page.status_code == 422, page.text
    assert [e["path"] for e in page.json()["errors"]] == ["query.before_id"]


@pytest.mark.parametrize("limit", ["١٢", "²", "0", "+5"])
def test_cli_counts_are_ascii_digits(limit: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Smaller holes (item 10): `qbo-sync sync-log --limit` refuses what is not 0-9 digits."""
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["sync-log", "--location", "loc_1", "--limit", limit])
    assert exit_info.value.code == 2
    assert "not a positive whole number" in capsys.readouterr().err
