"""An X12 850 purchase order as read: plain values, and the code lists Legato reads.

Where Legato acts on a code the list is closed (an unknown code is an error naming its
element): BEG01, the product id qualifiers of PO1 and N103 in the ship-to, bill-to and buyer
loops. See ``legato.intake.edi.x12_850`` for the reading.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from legato.intake.edi.x12_model import TransactionSet, X12Error

PURPOSES = {"00": "original", "01": "cancellation", "06": "confirmation", "07": "duplicate"}
#: product/service id qualifiers (code list 235) Legato reads in PO106, PO108 ... PO124
PRODUCT_QUALIFIERS = {
    "BP": "buyer's part number", "CB": "buyer's catalog number", "IN": "buyer's item number",
    "PI": "purchaser's item code", "VN": "vendor's item number", "VP": "vendor's part number",
    "VC": "vendor's catalog number", "VA": "vendor's style number", "SK": "stock keeping unit",
    "MG": "manufacturer's part number", "MN": "model number", "ST": "style number",
    "UP": "UPC consumer package code", "UK": "GTIN-14 shipping container code", "UA": "UPC/EAN case code",
    "UI": "UPC consumer package code (1-5-5)", "UN": "UPC case code", "EN": "EAN (2-5-5-1)",
    "IB": "ISBN", "ND": "national drug code", "N4": "national drug code (5-4-2)", "ZZ": "mutually defined",
    "CL": "colour", "SZ": "size", "BO": "buyer's colour", "IZ": "buyer's size", "PD": "part description",
    "LT": "lot number", "SN": "serial number",
}  # fmt: skip
#: qualifiers that describe an item without identifying it: never chosen as the SKU
ATTRIBUTES = frozenset({"CL", "SZ", "BO", "IZ", "PD", "LT", "SN"})
#: which id becomes the SKU when the channel's ``x12_item_qualifier`` is absent from a line
ITEM_ORDER = ("VN", "VP", "SK", "BP", "IN", "PI", "CB", "VC", "VA", "MG", "MN", "ST",
              "UP", "UK", "UI", "UA", "UN", "EN", "IB", "ND", "N4", "ZZ")  # fmt: skip
#: N103 identification code qualifiers (code list 66) read in the ST, BT and BY loops
PARTY_QUALIFIERS = {"1": "D-U-N-S", "9": "D-U-N-S + 4", "91": "assigned by the seller",
                    "92": "assigned by the buyer", "UL": "GLN", "ZZ": "mutually defined"}  # fmt: skip
PARTIES = ("ST", "BT", "BY")
#: every segment the 850 defines (4010 and 5010), NTE for older partners
_KNOWN = """BEG CUR REF PER TAX FOB CTP PAM CSH TC2 SAC ITD DIS INC DTM LDT LIN SI PID MEA PWK PKG TD1 TD5
TD3 TD4 MAN PCT CTB TXI AMT FA1 FA2 N9 MSG N1 N2 N3 N4 NX2 SPI RDR PRR PRS CN1 ADV LM LQ PO1 PO3
PO4 IT8 SDQ IT3 QTY SCH LS LE SLN CTT NTE"""
KNOWN = frozenset(_KNOWN.split())
_N1_LOOP = "N1 N2 N3 N4 NX2 REF PER SI FOB TD1 TD5 TD3 TD4 PKG"
N1_LOOP = frozenset(_N1_LOOP.split())
FORM = re.compile(r"[A-Z0-9]{1,3}\Z")
NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)\Z")


@dataclass(frozen=True)
class Contact:
    function: str  # PER01: BD buyer, RE receiving, ...
    name: str | None
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class Party:
    entity: str  # N101: ST ship-to, BT bill-to, BY buyer
    name: str | None
    names: tuple[str, ...] = ()  # N2
    id_qualifier: str | None = None  # N103
    id: str | None = None  # N104
    street: tuple[str, ...] = ()  # N3
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True)
class Item:
    position: int  # of its PO1 in the interchange
    line_id: str | None  # PO101
    quantity: Decimal
    unit: str  # PO103
    unit_price: Decimal | None
    price_basis: str | None  # PO105
    ids: tuple[tuple[str, str], ...]  # (PO106, PO107), (PO108, PO109) ...
    description: str | None = None  # PID05


@dataclass(frozen=True)
class PurchaseOrder:
    control_number: str  # ST02
    purpose: str  # BEG01
    order_type: str  # BEG02
    number: str  # BEG03
    release: str | None
    po_date: date  # BEG05
    items: tuple[Item, ...]
    currency: str | None = None
    parties: tuple[Party, ...] = ()
    references: tuple[tuple[str, str], ...] = ()
    contacts: tuple[Contact, ...] = ()
    dates: tuple[tuple[str, date], ...] = ()
    amounts: tuple[tuple[str, Decimal], ...] = ()
    messages: tuple[str, ...] = ()

    def party(self, *entities: str) -> Party | None:
        """The first party of these kinds, in the order asked (e.g. "BY", "BT")."""
        for entity in entities:
            for p in self.parties:
                if p.entity == entity:
                    return p
        return None


@dataclass(frozen=True)
class SetResult:
    """One transaction set as checked: its order when it can be placed, else its errors."""

    transaction_set: TransactionSet
    order: PurchaseOrder | None
    number: str | None  # BEG03 when it could be read
    errors: tuple[X12Error, ...] = ()
    warnings: tuple[X12Error, ...] = ()  # noted in the 997, the order still placed

    @property
    def status(self) -> str:
        """AK501: A accepted, E accepted with errors noted, R rejected."""
        return "R" if self.errors or self.order is None else "E" if self.warnings else "A"

    @property
    def reference(self) -> str:
        return self.number or f"ST02 {self.transaction_set.control}"


def choose_item_id(ids: Sequence[tuple[str, str]], preferred: str | None = None) -> tuple[str, str] | None:
    """The (qualifier, id) that becomes the line's SKU: the preferred qualifier, else the
    first of ITEM_ORDER present; never a colour, size or other attribute."""
    present = {q: v for q, v in reversed(ids)}  # the first pair of a qualifier wins
    for q in ((preferred,) if preferred else ()) + ITEM_ORDER:
        if q in present and q not in ATTRIBUTES:
            return q, present[q]
    return None


__all__ = [
    "ATTRIBUTES",
    "FORM",
    "ITEM_ORDER",
    "KNOWN",
    "N1_LOOP",
    "NUMBER",
    "PARTIES",
    "PARTY_QUALIFIERS",
    "PRODUCT_QUALIFIERS",
    "PURPOSES",
    "Contact",
    "Item",
    "Party",
    "PurchaseOrder",
    "SetResult",
    "choose_item_id",
]
