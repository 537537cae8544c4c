"""Which properties QBO's query language accepts in WHERE, per entity, with the sources.

QBO answers a WHERE on a property it cannot filter with 400, code 4001 "Invalid query" and the
Detail "QueryValidationError: property 'X' is not queryable" (public client test fixtures and
field notes quote this exact text, e.g. for Taxable, DepartmentRef and Deposit.TotalAmt), and a
property the entity does not have with "QueryValidationError: Property X not found for Entity
Y" (intuit/QuickBooks-V3-DotNET-SDK, Test/.../SDKV3Test/Services/QBO/QueryFilterTests.cs:
"QueryValidationError: Property status not found for Entity Customer").

FILTERABLE lists, for entities whose Intuit API reference page marks every attribute, the ones
marked "filterable"; every other property of such an entity is refused. For the other entities
the filterable set is not known: any property the entity has is accepted (README: UNKNOWN,
verify-qbo check "non-filterable query field").
"""

from __future__ import annotations

from qbo_emulator.schema_fields import TYPES

# Every entity: Intuit's query docs filter on MetaData times ("select * from Account where
# Metadata.CreateTime > '2014-12-31'", Account page sample query) and on Active for name lists
# (intuit/QuickBooks-V3-Java-SDK issue #19: "select * from vendor where active = false").
ALWAYS = frozenset({"id", "metadata.createtime", "metadata.lastupdatedtime", "active"})

FILTERABLE: dict[str, frozenset[str]] = {
    # Intuit API reference, Customer page "filterable" markers, as listed by
    # Nytely-Official/quickbooks-api src/types/enums/filters.ts (CustomerFilters, which links
    # developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer).
    "Customer": frozenset(
        {
            "DisplayName",
            "GivenName",
            "MiddleName",
            "FamilyName",
            "PrimaryEmailAddr",
            "CompanyName",
            "Balance",
            "PrintOnCheckName",
            "FullyQualifiedName",
            # CData's QuickBooks Online driver marks Suffix filterable (pg_table-customers.htm);
            # Intuit's list does not: accepted, UNKNOWN.
            "Suffix",
        }
    ),
    # Same source, InvoiceFilters. TotalAmt: qbo-api.md §5 lists it from Intuit's Invoice page,
    # the filters.ts list does not: accepted, UNKNOWN.
    "Invoice": frozenset(
        {
            "CustomerRef",
            "DocNumber",
            "ProjectRef",
            "TxnDate",
            "SalesTermRef",
            "DueDate",
            "Balance",
            "TotalAmt",
        }
    ),
    # Intuit API reference, Account page ("Full update an account" attribute list: "String,
    # filterable, sortable" markers), read from a stored copy of the page.
    "Account": frozenset(
        {
            "Name",
            "ParentRef",
            "Description",
            "SubAccount",
            "Classification",
            "FullyQualifiedName",
            "AccountType",
            "AccountSubType",
            "CurrentBalance",
            "CurrentBalanceWithSubAccounts",
        }
    ),
}
# XSD attributes of every entity, not properties a query can name ("Property status not found
# for Entity Customer", QueryFilterTests.cs above).
NOT_PROPERTIES = frozenset({"status", "domain", "sparse"})
_FILTERABLE_FOLDED = {
    entity: frozenset(name.casefold() for name in names) for entity, names in FILTERABLE.items()
}


def properties(entity: str) -> dict[str, str]:
    """The entity's top-level properties (XSD), folded name -> spelling."""
    return {name.casefold(): name for name in TYPES.get(entity, {})}


def check_field(entity: str, path: str) -> str | None:
    """Why QBO refuses a WHERE on `path` ("not found" / "not queryable"), or None."""
    folded = path.casefold()
    if folded in ALWAYS:
        return None
    top = path.split(".", 1)[0]
    known = properties(entity)
    if top.casefold() in NOT_PROPERTIES or (known and top.casefold() not in known):
        return f"Property {top} not found for Entity {entity}"
    allowed = _FILTERABLE_FOLDED.get(entity)
    if allowed is not None and top.casefold() not in allowed:
        return f"property '{known.get(top.casefold(), top)}' is not queryable"
    return None
