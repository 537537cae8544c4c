"""Where a connection's payments land: the deposit account and the processor-fee account.

Chosen on the card or with PATCH /v1/connections/{location_id}; each choice is checked in
QuickBooks (exists, active, of a type that can take it) before it is stored. QBO is called with
no database transaction open."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.session import SessionFactory, session_scope
from app.errors import AppError
from app.integrations.quickbooks.client import RealmClient
from app.integrations.quickbooks.entities import Account
from app.integrations.quickbooks.errors import QboNotFoundError, QboValidationError
from app.logging import get_logger
from app.services.container import Services
from app.services.locations import require_connection
from app.sync.doctor.checks_company import DEPOSIT_TYPES, FEE_TYPES
from app.sync.doctor.run import NotConnectedError

log = get_logger(__name__)

FIELD_TYPES = {"deposit_account_id": DEPOSIT_TYPES, "fee_expense_account_id": FEE_TYPES}


class AccountChoiceError(AppError):
    """The account given for `field` cannot be used; the route answers 422 naming the field."""

    http_status = 422
    public_code = "invalid_account"

    def __init__(self, message: str, *, field: str = "deposit_account_id") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Choice:
    """A field to set: an account id, or None for the default (Undeposited Funds / no fees)."""

    field: str
    account_id: str | None


async def set_payment_accounts(
    factory: SessionFactory, services: Services, location_id: str, choices: list[Choice]
) -> None:
    async with session_scope(factory) as session:
        connection = await require_connection(session, location_id)
        realm_id = connection.realm_id
    if realm_id is None:
        raise NotConnectedError(f"location {location_id!r} has no QuickBooks company yet")
    realm = services.qbo.realm(realm_id)
    for choice in choices:
        if choice.account_id is not None:
            await _check(realm, choice)
    async with session_scope(factory) as session:
        connection = await require_connection(session, location_id)
        for choice in choices:
            setattr(connection, choice.field, choice.account_id)
            log.info(
                "connection.payment_account.set",
                location_id=location_id,
                field=choice.field,
                account_id=choice.account_id,
            )


async def _check(realm: RealmClient, choice: Choice) -> None:
    assert choice.account_id is not None
    types = FIELD_TYPES[choice.field]
    allowed = " or ".join(sorted(types))
    try:
        account = await realm.read(Account, choice.account_id)
    except (QboNotFoundError, QboValidationError):
        account = None
    if account is None or account.Id is None:
        raise AccountChoiceError(
            f"QuickBooks has no account with id {choice.account_id}", field=choice.field
        )
    if account.Active is False:
        message = f"the QuickBooks account {account.Name} is inactive"
        raise AccountChoiceError(message, field=choice.field)
    if account.AccountType not in types:
        raise AccountChoiceError(
            f"the QuickBooks account {account.Name} is a {account.AccountType} account; "
            f"choose a {allowed} account",
            field=choice.field,
        )
