"""CRM text made to fit a QBO Customer: documented maximum lengths, QBO's email form. Pure.

QBO refuses a whole customer (fault 2050) for one field that is too long, and every invoice of
that contact would wait on it. So each field is made to fit here, and every change leaves a
note for the sync log. The maximum lengths are Intuit's, from the Customer entity reference
(https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/customer, "max
character" of each attribute; copied verbatim in abossenbroek/qbo-mcp
qbo-api-docs/entities/customer.md @ 7f0326c) and, for the EmailAddress and PhysicalAddress
children, Intuit's XSD (intuit/QuickBooks-V3-Java-SDK, Finance.xsd / IntuitBaseTypes.xsd): the
same figures and sources as the emulator's qbo_emulator/schema.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Intuit's Customer entity reference (URL above), attribute by attribute.
MAX_LENGTH: dict[str, int] = {
    "DisplayName": 500,
    "Title": 16,
    "GivenName": 100,
    "MiddleName": 100,
    "FamilyName": 100,
    "Suffix": 16,
    "CompanyName": 100,
    "PrintOnCheckName": 110,
    "Notes": 2000,
    # PhysicalAddress: "Individual maximum of 500 chars, up to combined max of 2000 chars" (the
    # CRM has two lines, 1,000 characters at most together).
    "Line1": 500,
    "Line2": 500,
    "Line3": 500,
    "Line4": 500,
    "Line5": 500,
    "City": 255,
    "CountrySubDivisionCode": 255,
    "Country": 255,
    "PostalCode": 30,
    # TelephoneNumber.FreeFormNumber (PrimaryPhone, Mobile, AlternatePhone, Fax).
    "FreeFormNumber": 30,
    # EmailAddress.Address: "maximum of 100 chars ... must follow the RFC 822 standard".
    "EmailAddress": 100,
}

# QBO's business rule for DisplayName, Title, GivenName, MiddleName, FamilyName, Suffix and
# PrintOnCheckName: no colon, tab or newline (same reference, "Business Rules").
_FORBIDDEN_IN_NAMES = str.maketrans({":": "-", "\t": " ", "\n": " ", "\r": " "})
# A cut at a word boundary may not throw away more than this share of what fits.
_WORD_CUT_MIN_SHARE = 0.6


@dataclass
class Fitted:
    """What a mapping wrote and why: `notes` go to the sync-log entry (`details.notes`)."""

    notes: list[str] = field(default_factory=list)

    def name(self, label: str, value: str | None) -> str | None:
        """A name field: forbidden characters replaced, blanks collapsed, shortened to fit."""
        if value is None:
            return None
        cleaned = " ".join(value.translate(_FORBIDDEN_IN_NAMES).split())
        return self.text(label, cleaned) or None

    def text(self, label: str, value: str | None, *, limit: int | None = None) -> str | None:
        """Free text shortened to QBO's maximum for `label` (see `shorten`), with a note."""
        if value is None:
            return None
        maximum = limit if limit is not None else MAX_LENGTH[label]
        if len(value) <= maximum:
            return value
        short = shorten(value, maximum)
        self.notes.append(
            f"{label} has {len(value)} characters and QuickBooks takes at most {maximum}: "
            f"shortened to {len(short)} ({short[:40]!r}...)"
        )
        return short or None

    def phone(self, label: str, value: str | None) -> str | None:
        """A number is never cut (a cut number rings someone else): without its formatting
        characters if that fits, else left out with a note."""
        if not value:
            return None
        maximum = MAX_LENGTH["FreeFormNumber"]
        if len(value) <= maximum:
            return value
        compact = re.sub(r"[\s().\-/]", "", value)
        if compact and len(compact) <= maximum:
            self.notes.append(
                f"{label} has {len(value)} characters and QuickBooks takes at most {maximum}: "
                f"sent without spaces and punctuation as {compact!r}"
            )
            return compact
        self.notes.append(
            f"{label} has {len(value)} characters and QuickBooks takes at most {maximum}: "
            "left out (a shortened number would be a different number)"
        )
        return None

    def email(self, label: str, value: str | None) -> str | None:
        """QBO's form of one or more addresses: see `email_addresses`."""
        if not value:
            return None
        result, notes = email_addresses(value)
        self.notes.extend(f"{label}: {note}" for note in notes)
        return result


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at the last blank when that keeps most of it.

    Never ends in a blank or a dangling separator, so the result is what a person would have
    typed had the field been shorter.
    """
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if not text[limit].isspace():
        blank = max(cut.rfind(" "), cut.rfind("\t"), cut.rfind("\n"))
        if blank >= limit * _WORD_CUT_MIN_SHARE:
            cut = cut[:blank]
    return cut.rstrip(" \t\r\n,;-/")


# A simple, documented syntax rule (not all of RFC 5322): one "@"; a local part of printable
# characters without blanks, quotes, brackets, commas or semicolons; a domain of dot-separated
# labels of letters, digits and hyphens with at least one dot (QBO: "must contain an at sign
# (@) and dot (.)"). Addresses in the CRM field may be separated by commas, semicolons or blanks.
_LOCAL = r"[^\s@,;:<>()\[\]\"\\]+"
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
EMAIL_RULE = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")
_SEPARATORS = re.compile(r"[,;\s]+")
# How QBO holds several addresses in one EmailAddress.Address: comma-separated, the whole field
# within its 100 characters (Breadwinner's help article 44001693083 "Can I have multiple and/or
# different email addresses in QuickBooks Online?"; Bill.com's QBO sync error "Please provide
# multiple email addresses as a comma separated string").
QBO_EMAIL_SEPARATOR = ", "


def email_addresses(value: str) -> tuple[str | None, list[str]]:
    """The CRM email field in QBO's form, and notes on every address changed or left out.

    Valid addresses are kept in their order (duplicates once); an invalid one is dropped; when
    they do not all fit in QBO's 100 characters, the first ones that fit are kept.
    """
    notes: list[str] = []
    maximum = MAX_LENGTH["EmailAddress"]
    kept: list[str] = []
    for part in (p for p in _SEPARATORS.split(value) if p):
        if not EMAIL_RULE.fullmatch(part):
            notes.append(f"{part!r} is not a valid email address: left out")
        elif len(part) > maximum:
            notes.append(
                f"the address {part[:40]!r}... has {len(part)} characters and QuickBooks takes "
                f"at most {maximum}: left out (a shortened address is someone else's)"
            )
        elif part.lower() not in (k.lower() for k in kept):
            kept.append(part)
    fitting: list[str] = []
    for address in kept:
        if len(QBO_EMAIL_SEPARATOR.join([*fitting, address])) <= maximum:
            fitting.append(address)
        else:
            notes.append(
                f"{address} left out: with it the addresses exceed QuickBooks' {maximum} characters"
            )
    result = QBO_EMAIL_SEPARATOR.join(fitting) or None
    if result is not None and len(fitting) > 1 and result != value:
        notes.append(f"{len(fitting)} addresses sent in QuickBooks' comma-separated form")
    return result, notes


DELETED_SUFFIX = " (deleted)"


def without_deleted_suffix(name: str | None, active: bool | None) -> str | None:
    """The name of an inactive name-list object as it was before QBO appended " (deleted)".

    QBO renames inactive customers on read (Intuit community article 1773334; real fixtures
    show "Mortgage interest (deleted)"); an active one keeps a name that merely ends so.
    """
    if name is not None and active is False and name.endswith(DELETED_SUFFIX):
        return name[: -len(DELETED_SUFFIX)]
    return name


def same_name(a: str | None, b: str | None) -> bool:
    """DisplayNames as QBO compares them for uniqueness: blanks collapsed, case ignored."""
    if a is None or b is None:
        return False
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()
