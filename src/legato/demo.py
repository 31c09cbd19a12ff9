"""A realistic, deterministic demo data set, loaded through the services only.

``load_demo`` creates six channels, fifty products priced in GBP, USD, EUR and JPY,
five contracted pricelists, thirty trade accounts, five hundred orders spread over
every lifecycle status, and ten quotes. Everything goes through the use cases a real
caller uses, so every order has its timeline and its outbox events.

All randomness comes from ``random.Random(2026)`` in a pure first pass
(``demo_dataset``), so every run plans exactly the same things whatever the database
holds. Loading is idempotent: existing catalogue rows are left as they are, an order
whose external reference (``DEMO-0001`` ...) exists is not touched again, and a quote
is recognised by the key that starts its notes (``DEMO-Q01: ...``).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from legato.bootstrap import Runtime
from legato.domain.catalog import (
    Account,
    Channel,
    ChannelSettings,
    ChannelType,
    Dimensions,
    OnNoMatch,
    Pricelist,
    PricelistKind,
    PricePolicy,
    Product,
)
from legato.domain.commands import (
    ChangeTrack,
    ConvertQuote,
    CreateQuote,
    LineDraft,
    OrderDraft,
    PlaceOrder,
    TransitionOrder,
    TransitionQuote,
)
from legato.domain.errors import DuplicateKey
from legato.domain.lifecycle import OrderStatus
from legato.domain.matching import CustomerRef
from legato.domain.money import round_amount
from legato.domain.order import Address
from legato.services.catalog import save_account, save_channel, save_pricelist, save_product
from legato.services.orders import change_track, place_order, transition_order
from legato.services.quotes import convert_quote, create_quote, transition_quote
from legato.store import tables as t
from legato.store.queries import reading

SEED = 2026
ORDERS = 500
ACTOR = "demo"  # every timeline entry the demo writes names this actor
ORDER_REF = "DEMO-{:04d}"  # external reference of the n-th demo order: the idempotency key
QUOTE_PREFIX = "DEMO-Q"
QUOTE_KEY = QUOTE_PREFIX + "{:02d}"  # starts the notes of the n-th demo quote: its idempotency key
Progress = Callable[[str, int, int], None]  # (stage, done, total)
_BATCH, _WORKERS = 25, 6  # on PostgreSQL: orders placed per batch, histories moved side by side


def _table(text: str) -> list[list[str]]:
    """The rows of a ``|``-separated text table (data reads best as a table)."""
    return [[cell.strip() for cell in row.split("|")] for row in text.strip().splitlines()]


# --- catalogue ---------------------------------------------------------------------------


def _channels() -> list[Channel]:
    hook = {"webhook_secret": "demo-only-webhook-secret"}
    return [
        Channel("WEB-UK", "UK web shop", ChannelType.ECOMMERCE, "shopify", "GBP",
                ChannelSettings(extra={"shop_domain": "legato-demo-uk.myshopify.com"}), secrets=dict(hook)),
        Channel("SHOP-US", "US web shop", ChannelType.ECOMMERCE, "woocommerce", "USD",
                ChannelSettings(extra={"site_url": "https://shop.legato-demo.example"}), secrets=dict(hook)),
        Channel("B2B-EU", "Trade portal (Europe)", ChannelType.B2B, "portal", "EUR",
                ChannelSettings(match_keys=("email", "code", "erp_ref"), on_no_match=OnNoMatch.REJECT)),
        Channel("POS-LDN", "London flagship store", ChannelType.RETAIL, "pos", "GBP"),
        Channel("MKT-JP", "Japan marketplace", ChannelType.MARKETPLACE, "rest", "JPY",
                ChannelSettings(price_policy=PricePolicy.TRUST, extra={"sku_map": {"MKT-881": "AUD-HP-NC"}})),
        Channel("API", "ERP and partner integrations", ChannelType.INTEGRATION, "rest", "EUR",
                ChannelSettings(match_keys=("erp_ref", "code", "email"))),
    ]  # fmt: skip


#: sku | name | category | tags | LxWxH cm | kg | GBP list price
_PRODUCTS = """
COF-ETH-250  | Ethiopia Yirgacheffe Beans 250 g   | coffee  | single-origin bestseller | 18x8x6 | 0.27 | 11.50
COF-COL-250  | Colombia Huila Beans 250 g         | coffee  | single-origin       | 18x8x6    | 0.27  | 9.95
COF-BRZ-1KG  | Brazil Cerrado Espresso Beans 1 kg | coffee  | espresso trade      | 28x12x8   | 1.05  | 27.00
COF-HSE-1KG  | House Blend Espresso 1 kg          | coffee  | espresso trade      | 28x12x8   | 1.05  | 24.50
COF-DEC-250  | Swiss Water Decaf 250 g            | coffee  | decaf               | 18x8x6    | 0.27  | 10.50
TEA-EBR-100  | English Breakfast Tea (100 bags)   | tea     | trade               | 16x12x9   | 0.31  | 6.95
TEA-SEN-100  | Japanese Sencha Loose Leaf 100 g   | tea     | single-origin       | 14x8x8    | 0.12  | 12.00
TEA-CHA-200  | Masala Chai Blend 200 g            | tea     |                     | 16x9x6    | 0.22  | 8.50
BRW-V60-02   | Ceramic Pour-Over Dripper 02       | brewing | fragile             | 14x14x10  | 0.42  | 22.00
BRW-FP-1L    | French Press 1 L                   | brewing | fragile bestseller  | 22x16x16  | 0.68  | 34.00
BRW-AERO     | Compact Immersion Brewer           | brewing | travel              | 16x11x11  | 0.32  | 32.95
BRW-KTL-GN   | Gooseneck Kettle 1 L Matte Black   | brewing | electric            | 30x18x20  | 1.10  | 59.00
BRW-GRD-HND  | Conical Burr Hand Grinder          | brewing | travel              | 20x8x8    | 0.55  | 79.00
BRW-GRD-ELE  | Electric Flat Burr Grinder         | brewing | electric trade      | 32x20x18  | 3.40  | 189.00
BRW-SCL-01   | Brew Scale with Timer              | brewing | electric            | 18x14x4   | 0.45  | 39.00
BRW-FLT-100  | Paper Filters 02 (100)             | brewing | consumable trade    | 15x12x3   | 0.18  | 5.50
KIT-KNF-CHEF | Chef's Knife 20 cm                 | kitchen | age-restricted      | 36x8x3    | 0.31  | 64.00
KIT-BRD-OAK  | Oak Chopping Board Large           | kitchen |                     | 50x35x4   | 2.80  | 45.00
KIT-PAN-CI26 | Cast Iron Skillet 26 cm            | kitchen | heavy               | 45x28x7   | 2.60  | 49.50
KIT-DUT-5L   | Enamelled Dutch Oven 5 L           | kitchen | heavy fragile       | 34x30x20  | 5.20  | 119.00
KIT-MUG-SET  | Stoneware Mug Set of 4             | kitchen | fragile trade       | 28x22x12  | 1.60  | 36.00
KIT-JAR-3PK  | Glass Storage Jars (3 pack)        | kitchen | fragile             | 30x12x18  | 1.90  | 18.50
KIT-TWL-LIN  | Linen Tea Towels (2 pack)          | kitchen | textile             | 25x18x2   | 0.20  | 16.00
KIT-APR-CAN  | Canvas Apron                       | kitchen | textile trade       | 30x25x3   | 0.35  | 28.00
AUD-HP-NC    | Wireless Noise-Cancelling Headphones | audio | battery bestseller  | 24x20x9   | 0.55  | 229.00
AUD-EAR-TWS  | True Wireless Earbuds              | audio   | battery             | 12x10x5   | 0.15  | 129.00
AUD-SPK-BT   | Portable Bluetooth Speaker         | audio   | battery             | 22x10x10  | 0.70  | 89.00
AUD-TT-BLT   | Belt-Drive Turntable               | audio   | electric fragile    | 48x38x16  | 6.80  | 249.00
AUD-SPK-BK   | Bookshelf Speakers (pair)          | audio   | electric oversize   | 45x35x30  | 9.50  | 299.00
AUD-CBL-RCA  | RCA Interconnect Cable 1 m         | audio   |                     | 18x12x3   | 0.10  | 14.95
OFF-NB-A5D   | A5 Dotted Notebook                 | office  | trade bestseller    | 22x15x2   | 0.32  | 12.50
OFF-PEN-FTN  | Fountain Pen Fine Nib              | office  | gift                | 17x6x3    | 0.09  | 38.00
OFF-LMP-LED  | LED Desk Lamp                      | office  | electric            | 45x20x15  | 1.40  | 69.00
OFF-CHR-ERG  | Ergonomic Task Chair               | office  | oversize heavy      | 70x65x60  | 17.50 | 349.00
OFF-MON-ARM  | Monitor Arm Single                 | office  | heavy               | 50x20x12  | 3.10  | 79.00
OFF-ORG-WAL  | Walnut Desk Organiser              | office  | gift                | 30x12x10  | 0.90  | 42.00
OFF-PPR-A4   | A4 Copier Paper (5 reams)          | office  | consumable heavy    | 30x22x27  | 12.50 | 24.00
OUT-BTL-750  | Insulated Bottle 750 ml            | outdoor | bestseller          | 28x9x9    | 0.38  | 27.50
OUT-TNT-2P   | Two-Person Backpacking Tent        | outdoor | oversize            | 48x18x18  | 2.10  | 289.00
OUT-BAG-30L  | Daypack 30 L                       | outdoor | textile             | 50x30x10  | 0.95  | 74.00
OUT-JKT-RAIN | Packable Rain Jacket               | outdoor | textile             | 30x25x5   | 0.33  | 95.00
OUT-LNT-HD   | Rechargeable Head Torch            | outdoor | battery             | 14x10x6   | 0.12  | 35.00
OUT-STV-GAS  | Compact Gas Stove                  | outdoor | hazmat              | 14x10x10  | 0.30  | 44.00
OUT-MAT-SLP  | Self-Inflating Sleeping Mat        | outdoor | oversize            | 60x18x18  | 1.20  | 69.00
HOM-CND-SOY  | Soy Candle Cedar & Fig             | home    | gift fragile        | 10x10x11  | 0.45  | 22.00
HOM-THR-WOL  | Merino Wool Throw                  | home    | textile gift        | 40x30x10  | 1.30  | 115.00
HOM-PLT-CER  | Ceramic Planter Medium             | home    | fragile             | 25x25x22  | 2.20  | 26.00
HOM-CUS-LIN  | Linen Cushion Cover                | home    | textile             | 45x45x2   | 0.25  | 24.00
HOM-DIF-OAK  | Reed Diffuser Oak Moss             | home    | gift fragile        | 12x8x20   | 0.40  | 29.00
HOM-RUG-JUT  | Jute Rug 120x180                   | home    | oversize heavy      | 125x30x30 | 6.50  | 139.00
"""


def _list_prices(gbp: str) -> dict[str, Decimal]:
    """The GBP price as given; USD ending .99, EUR ending .95, JPY in whole tens of yen."""
    g = Decimal(gbp)
    return {
        "GBP": g,
        "USD": (g * Decimal("1.28")).to_integral_value(ROUND_CEILING) - Decimal("0.01"),
        "EUR": (g * Decimal("1.17")).to_integral_value(ROUND_CEILING) - Decimal("0.05"),
        "JPY": (g * Decimal("19.5")).to_integral_value(ROUND_HALF_UP) * 10,
    }


def _products() -> list[Product]:
    out = []
    for sku, name, category, tags, dims, kg, gbp in _table(_PRODUCTS):
        length, width, height = (Decimal(x) for x in dims.split("x"))
        out.append(Product(sku, name, category, (category, *tags.split()), Dimensions(length, width, height),
                           Decimal(kg), _list_prices(gbp)))  # fmt: skip
    return out


def _pricelists(products: list[Product]) -> list[Pricelist]:
    def net(currency: str, factor: str, categories: set[str]) -> dict[str, Decimal]:
        return {p.sku: round_amount(p.prices[currency] * Decimal(factor), currency)
                for p in products if p.category in categories}  # fmt: skip

    pct = PricelistKind.PERCENT_OFF
    tents = {sku: v for sku, v in net("USD", "0.55", {"outdoor"}).items() if sku.startswith("OUT-T")}
    return [
        Pricelist("HOSPITALITY-GBP", "Hospitality contract: coffee, tea, filters", "GBP",
                  items=net("GBP", "0.78", {"coffee", "tea"}) | {"BRW-FLT-100": Decimal("3.90")},
                  valid_from=date(2025, 1, 1)),
        Pricelist("EDU-GBP-15", "Education, 15 % off list", "GBP", pct, Decimal(15),
                  valid_from=date(2025, 9, 1), valid_to=date(2027, 8, 31)),
        Pricelist("TRADE-EU-12", "EU trade, 12 % off list", "EUR", pct, Decimal(12),
                  items={"COF-HSE-1KG": Decimal("19.90"), "BRW-GRD-ELE": Decimal("169.00")},
                  valid_from=date(2025, 1, 1)),
        Pricelist("WHOLESALE-USD-20", "US wholesale, 20 % off list", "USD", pct, Decimal(20), items=tents,
                  valid_from=date(2025, 4, 1)),
        Pricelist("DISTRIB-JPY", "Japan distributor net prices", "JPY",
                  items=net("JPY", "0.70", {"audio", "brewing"}), valid_from=date(2025, 1, 1)),
    ]  # fmt: skip


# --- places and people -------------------------------------------------------------------

#: country | sales region | name pool | guest phone prefix | house number | streets
_COUNTRY_TABLE = """
GB | UK            | en | +44 7700 900   | before | High Street; Station Road; Church Lane; Victoria Road
IE | EU-West       | en | +353 85 555 0  | before | Main Street; Grafton Street; Patrick Street
US | North America | us | +1 312 555 01  | before | Main Street; Oak Avenue; Maple Drive; Market Street
DE | EU-Central    | de | +49 151 5550 0 | after  | Hauptstraße; Bahnhofstraße; Lindenallee
AT | EU-Central    | de | +43 664 555 0  | after  | Mariahilfer Straße; Herrengasse
FR | EU-West       | fr | +33 6 55 50 0  | before | rue de la République; avenue Jean Jaurès
BE | EU-West       | fr | +32 470 55 50  | after  | Rue Neuve; Veldstraat
NL | EU-West       | nl | +31 6 5550 0   | after  | Keizersgracht; Oudegracht; Witte de Withstraat
ES | EU-South      | es | +34 655 500 0  | after  | Calle Mayor; Carrer de Mallorca
IT | EU-South      | it | +39 345 555 0  | after  | Via Roma; Corso Garibaldi; Via Dante
PL | EU-Central    | pl | +48 555 500 0  | after  | ulica Marszałkowska; ulica Floriańska
JP | APAC          | jp | +81 90 5555 0  | chome  | Jingumae; Umeda; Shijo-dori; Tenjin
"""
#: country | city | region | postcode | tax rate (VAT; US: combined sales tax)
_CITY_TABLE = """
GB | London      | Greater London      | EC1V 9HL | 0.20
GB | Manchester  | Greater Manchester  | M1 4BT   | 0.20
GB | Bristol     | Bristol             | BS1 5TR  | 0.20
GB | Leeds       | West Yorkshire      | LS1 4DY  | 0.20
GB | Edinburgh   | Scotland            | EH1 1YZ  | 0.20
IE | Dublin      | Dublin              | D02 X285 | 0.23
IE | Cork        | Cork                | T12 W8DK | 0.23
US | New York    | NY                  | 10013    | 0.08875
US | San Francisco | CA                | 94110    | 0.0725
US | Austin      | TX                  | 78704    | 0.0825
US | Portland    | OR                  | 97214    | 0
US | Chicago     | IL                  | 60622    | 0.1025
US | Denver      | CO                  | 80205    | 0.0881
DE | Berlin      | Berlin              | 10115    | 0.19
DE | München     | Bayern              | 80331    | 0.19
DE | Hamburg     | Hamburg             | 20095    | 0.19
AT | Wien        | Wien                | 1010     | 0.20
FR | Paris       | Île-de-France       | 75011    | 0.20
FR | Lyon        | Auvergne-Rhône-Alpes | 69002   | 0.20
BE | Bruxelles   | Bruxelles-Capitale  | 1000     | 0.21
NL | Amsterdam   | Noord-Holland       | 1015 CJ  | 0.21
NL | Utrecht     | Utrecht             | 3511 LN  | 0.21
ES | Madrid      | Madrid              | 28004    | 0.21
ES | Barcelona   | Cataluña            | 08010    | 0.21
IT | Milano      | Lombardia           | 20121    | 0.22
IT | Roma        | Lazio               | 00186    | 0.22
PL | Kraków      | Małopolskie         | 31-001   | 0.23
JP | Shibuya-ku  | Tokyo               | 150-0001 | 0.10
JP | Kita-ku     | Osaka               | 530-0001 | 0.10
JP | Shimogyo-ku | Kyoto               | 600-8001 | 0.10
"""
#: name pool | first names | surnames
_NAME_TABLE = """
en | Oliver Amelia Harry Isla George Ava Jack Sophie Noah Grace | Smith, Jones, Taylor, Brown, Evans, Murphy
us | James Emma Michael Olivia Ethan Madison Daniel Chloe | Johnson, Miller, Davis, Garcia, Martinez, Lee
de | Lukas Anna Felix Lena Jonas Marie | Müller, Schmidt, Schneider, Fischer, Weber, Wagner
fr | Louis Chloé Hugo Léa Jules Manon | Martin, Bernard, Dubois, Lefèvre, Moreau
nl | Daan Emma Sem Julia Lotte | de Jong, Jansen, de Vries, Bakker, Visser
es | Lucía Mateo Sofía Hugo Martina | García, Fernández, López, Martín
it | Giulia Marco Francesca Luca Chiara | Rossi, Bianchi, Romano, Colombo
pl | Jakub Zofia Antoni Hanna | Nowak, Kowalski, Wiśniewski
jp | Haruto Yui Sota Hina Ren Aoi | Sato, Suzuki, Takahashi, Tanaka, Watanabe, Ito
"""
_COUNTRIES = {row[0]: row[1:] for row in _table(_COUNTRY_TABLE)}
_CITIES = {c: [row[1:] for row in _table(_CITY_TABLE) if row[0] == c] for c in _COUNTRIES}
_NAMES = {
    pool: (first.split(), [n.strip() for n in last.split(",")]) for pool, first, last in _table(_NAME_TABLE)
}


def _person(rng: random.Random, country: str) -> str:
    first, last = _NAMES[_COUNTRIES[country][1]]
    return f"{rng.choice(first)} {rng.choice(last)}"


def _address(rng: random.Random, country: str, name: str, company: str | None = None,
             phone: str | None = None, email: str | None = None) -> Address:  # fmt: skip
    _, _, _, house, streets = _COUNTRIES[country]
    city, region, postcode, _ = rng.choice(_CITIES[country])
    street, n = rng.choice(streets.split("; ")), rng.randint(1, 180)
    chome = f"{rng.randint(1, 6)}-{rng.randint(1, 20)}-{rng.randint(1, 15)}"  # a Japanese block address
    line1 = {"before": f"{n} {street}", "after": f"{street} {n}", "chome": f"{chome} {street}"}[house]
    line2 = rng.choice([None, None, None, f"Unit {rng.randint(1, 40)}", f"Floor {rng.randint(1, 6)}"])
    return Address(name, company, line1, line2, city, region, postcode, country, phone, email)


def _tax_rate(address: Address | None) -> Decimal:
    """The rate of the address's city; over-the-counter sales are taxed as in London."""
    if address is None:
        return Decimal("0.20")
    return next(Decimal(r[3]) for r in _CITIES[address.country or "GB"] if r[0] == address.city)


# --- accounts ----------------------------------------------------------------------------

#: code | name | country | currency | tier | contracted pricelist (- for none) | industry
_ACCOUNTS = """
NORTHWIND    | Northwind Coffee House Ltd        | GB | GBP | gold   | HOSPITALITY-GBP  | hospitality
BRAMBLE      | Bramble & Co Cafés                | GB | GBP | silver | HOSPITALITY-GBP  | hospitality
KESTREL      | Kestrel Hotels Group              | GB | GBP | gold   | HOSPITALITY-GBP  | hospitality
OAKLEAF      | Oakleaf Academy Trust             | GB | GBP | bronze | EDU-GBP-15       | education
HARBOURSIDE  | Harbourside University Stores     | GB | GBP | silver | EDU-GBP-15       | education
FENWICK      | Fenwick Office Supplies           | GB | GBP | bronze | -                | office
LUMEN        | Lumen Design Studio               | GB | GBP | bronze | -                | design
THAMES       | Thames Kitchen Outfitters         | GB | GBP | silver | -                | retail
HIGHLAND     | Highland Outdoor Ltd              | GB | GBP | gold   | -                | retail
SEASIDE      | Seaside Café Collective           | GB | GBP | bronze | HOSPITALITY-GBP  | hospitality
ALPENROSE    | Alpenrose Gastronomie GmbH        | DE | EUR | gold   | TRADE-EU-12      | hospitality
ISAR         | Isar Bürobedarf GmbH              | DE | EUR | silver | -                | office
KLANGWERK    | Klangwerk Audio GmbH              | AT | EUR | gold   | TRADE-EU-12      | retail
BLAUWEVOGEL  | Blauwe Vogel Koffiebar            | NL | EUR | silver | TRADE-EU-12      | hospitality
MAISONCLAIR  | Maison Clair SARL                 | FR | EUR | silver | TRADE-EU-12      | retail
LUMIERE      | Brasserie Lumière                 | BE | EUR | bronze | -                | hospitality
CASAVERDE    | Casa Verde Hogar S.L.             | ES | EUR | bronze | -                | retail
TERRAZZO     | Terrazzo Cucina S.r.l.            | IT | EUR | bronze | -                | hospitality
LIFFEY       | Liffey Roasters Ltd               | IE | EUR | silver | TRADE-EU-12      | hospitality
DOCKLANDS    | Docklands Workspace Ltd           | IE | EUR | bronze | -                | office
WISLA        | Wisła Office Solutions Sp. z o.o. | PL | EUR | bronze | -                | office
HUDSON       | Hudson Valley Provisions Inc.     | US | USD | gold   | WHOLESALE-USD-20 | retail
PINECREST    | Pinecrest Outfitters LLC          | US | USD | silver | WHOLESALE-USD-20 | retail
GOLDENGATE   | Golden Gate Coffee Collective     | US | USD | silver | -                | hospitality
LONESTAR     | Lone Star Office Co.              | US | USD | bronze | -                | office
CASCADE      | Cascade Trail Supply              | US | USD | gold   | WHOLESALE-USD-20 | retail
BROOKLYNHIFI | Brooklyn Hi-Fi Exchange           | US | USD | bronze | -                | retail
SAKURA       | Sakura Trading K.K.               | JP | JPY | gold   | DISTRIB-JPY      | distribution
KYOTOCRAFT   | Kyoto Craft Goods Co.             | JP | JPY | silver | DISTRIB-JPY      | retail
OSAKAAUDIO   | Osaka Audio Works                 | JP | JPY | bronze | -                | retail
"""
_CREDIT = {"gold": 50_000, "silver": 20_000, "bronze": 5_000}  # in GBP/USD/EUR; x150 in JPY
_TERMS = {"gold": "net60", "silver": "net30", "bronze": "prepaid"}
_MANAGERS = ("Priya Shah", "Tom Hughes", "Elena Rossi", "Kenji Mori")


@dataclass
class _Customer:
    account: Account
    country: str
    address: Address  # where the account's orders go


def _accounts(rng: random.Random) -> list[_Customer]:
    out = []
    for i, (code, name, country, currency, tier, pricelist, industry) in enumerate(_table(_ACCOUNTS)):
        email = f"orders@{code.lower()}.example"
        phone = (
            f"{_COUNTRIES[country][2][:-2]}{1000 + i:04d}"  # the guests' prefix, then 10xx: never a guest's
        )
        tax_id = str(rng.randint(10**8, 10**9 - 1))
        props: dict[str, Any] = {"industry": industry, "account_manager": _MANAGERS[i % len(_MANAGERS)]}
        if country == "US":
            props["ein"] = f"{tax_id[:2]}-{tax_id[2:]}"
        elif country == "JP":
            props["corporate_number"] = f"{tax_id}{rng.randint(1000, 9999)}"
        else:
            props["vat_id"] = f"{country}{tax_id}"
        account = Account(
            code, name, email, phone, erp_ref=None if i % 7 == 6 else f"ERP-{10_000 + i * 37}",
            properties=props, tier=tier, region=_COUNTRIES[country][0], currency=currency,
            pricelist_code=None if pricelist == "-" else pricelist,
            credit_limit=Decimal(_CREDIT[tier] * (150 if currency == "JPY" else 1)),
            payment_terms=_TERMS[tier],
        )  # fmt: skip
        out.append(
            _Customer(account, country, _address(rng, country, _person(rng, country), name, phone, email))
        )
    return out


# --- how each order reaches its status -----------------------------------------------------

#: The steps below, one service call each: "what=to: reason" (what: status or a track).
_STEPS = {
    "PAID": "payment=paid: payment captured at checkout",
    "TILL": "payment=paid: paid at the till",
    "TRANSFER": "payment=paid: bank transfer received",
    "REFUNDED": "payment=refunded: refunded in full",
    "REFUND": "payment=partially_refunded: refund for the returned item",
    "PARTIAL": "fulfilment=partially_fulfilled: first parcel shipped",
    "SHIPPED": "fulfilment=fulfilled: delivered by the carrier",
    "COUNTER": "fulfilment=fulfilled: handed over at the counter",
    "RETURNED": "fulfilment=partially_returned: one item returned within 30 days",
    "INVOICED": "invoice=invoiced: invoice issued",
    "CREDIT-CHECK": "status=pending_approval: customer credit check requested",
    "APPROVED": "status=created: approved by the sales manager",
    "PICK": "status=processing: picking started at the warehouse",
    "DONE": "status=completed: delivered and closed",
    "HOLD-ADDRESS": "status=on_hold: awaiting the customer's address confirmation",
    "HOLD-PO": "status=on_hold: awaiting the customer's purchase order number",
    "HOLD-STOCK": "status=on_hold: awaiting stock from the supplier",
    "HOLD-PAYMENT": "status=on_hold: payment verification",
    "RELEASED": "status=created: payment verified, released",
    "HOLD-FRAUD": "status=on_hold: fraud screening",
    "CANCEL-ASKED": "status=cancelled: customer asked to cancel before dispatch",
    "CANCEL-CREDIT": "status=cancelled: approval declined: credit limit exceeded",
    "CANCEL-STOCK": "status=cancelled: item out of stock",
    "CANCEL-FRAUD": "status=cancelled: fraud check failed",
    "VOID-DUPLICATE": "status=voided: duplicate of an order entered twice",
    "VOID-TEST": "status=voided: test order entered by mistake",
}
#: final status | channel groups (* any) | weight | placed as | steps (legal transitions only).
#: Only trade orders are invoiced on account; shops and tills take payment up front.
_PATH_TABLE = """
pending_approval | *         | 6  | pending_approval |
pending_approval | *         | 4  | created          | CREDIT-CHECK
created          | shop till | 7  | created          | PAID
created          | trade     | 7  | created          |
created          | *         | 3  | pending_approval | APPROVED
on_hold          | *         | 3  | on_hold          |
on_hold          | shop till | 4  | created          | PAID; HOLD-ADDRESS
on_hold          | trade     | 4  | created          | HOLD-PO
on_hold          | *         | 3  | created          | PICK; PARTIAL; HOLD-STOCK
processing       | shop till | 5  | created          | PAID; PICK
processing       | shop      | 3  | created          | PAID; PICK; PARTIAL
processing       | trade     | 6  | created          | PICK
processing       | trade     | 3  | created          | PICK; PARTIAL
processing       | *         | 2  | created          | HOLD-PAYMENT; RELEASED; PICK
completed        | shop      | 9  | created          | PAID; PICK; SHIPPED; DONE
completed        | shop      | 1  | created          | PAID; PICK; SHIPPED; DONE; RETURNED; REFUND
completed        | till      | 10 | created          | TILL; PICK; COUNTER; DONE
completed        | trade     | 8  | created          | PICK; SHIPPED; INVOICED; TRANSFER; DONE
completed        | trade     | 2  | pending_approval | APPROVED; PICK; SHIPPED; INVOICED; TRANSFER; DONE
cancelled        | *         | 4  | created          | CANCEL-ASKED
cancelled        | *         | 2  | pending_approval | CANCEL-CREDIT
cancelled        | shop till | 3  | created          | PAID; PICK; CANCEL-STOCK; REFUNDED
cancelled        | *         | 1  | created          | HOLD-FRAUD; CANCEL-FRAUD
voided           | *         | 6  | created          | VOID-DUPLICATE
voided           | *         | 4  | pending_approval | VOID-TEST
"""
#: channel type -> the group its rows above are chosen from
_GROUPS = {
    "ecommerce": "shop",
    "marketplace": "shop",
    "retail": "till",
    "b2b": "trade",
    "integration": "trade",
}
#: how many of the ORDERS end in each status
_STATUS_MIX = {"completed": 200, "processing": 80, "created": 60, "cancelled": 60, "on_hold": 40,
               "pending_approval": 35, "voided": 25}  # fmt: skip
_PLACED_WHY = {"pending_approval": "order value above the approval threshold",
               "on_hold": "fraud screening: billing and shipping details differ"}  # fmt: skip

Step = tuple[str, str, str]  # (status | payment | fulfilment | invoice, target, reason)


def _steps(text: str) -> list[Step]:
    out = []
    for name in filter(None, (s.strip() for s in text.split(";"))):
        what, _, rest = _STEPS[name].partition("=")
        to, _, reason = rest.partition(": ")
        out.append((what, to, reason))
    return out


_PATHS = [(s, groups.split(), int(w), OrderStatus(start), _steps(steps)) for s, groups, w, start, steps in
         _table(_PATH_TABLE)]  # fmt: skip


def _path(status: str, channel_type: str, rng: random.Random) -> tuple[OrderStatus, list[Step]]:
    group = _GROUPS[channel_type]
    rows = [r for r in _PATHS if r[0] == status and ("*" in r[1] or group in r[1])]
    _, _, _, start, steps = rng.choices(rows, weights=[r[2] for r in rows])[0]
    return start, steps


# --- orders -------------------------------------------------------------------------------

_CHANNEL_MIX = {"WEB-UK": 30, "SHOP-US": 20, "B2B-EU": 15, "POS-LDN": 15, "MKT-JP": 10, "API": 10}
_KNOWN_CUSTOMER = {"B2B-EU": 1.0, "API": 0.7, "WEB-UK": 0.12, "SHOP-US": 0.12}  # share from an account
#: accounts each channel sees (the trade portal serves Europe; the ERP integration everyone)
_EUROPE = ("GB", "IE", "FR", "BE", "NL", "DE", "AT", "PL", "ES", "IT")
_ACCOUNT_COUNTRIES = {"WEB-UK": ("GB", "IE"), "SHOP-US": ("US",), "B2B-EU": _EUROPE}
#: a till sells on the spot: its orders end completed, or were voided or cancelled at the counter
_TILL_MIX = {"completed": 85, "voided": 10, "cancelled": 5}
_RECEIVED_VIA = {"WEB-UK": "received from the Shopify store", "SHOP-US": "received from WooCommerce",
                 "B2B-EU": "submitted on the trade portal", "POS-LDN": "rung up at the till",
                 "MKT-JP": "imported from the marketplace", "API": "pushed by the ERP"}  # fmt: skip
_GUEST_COUNTRIES = {
    "WEB-UK": "GB GB GB GB GB GB GB GB GB IE",
    "SHOP-US": "US",
    "MKT-JP": "JP",
    "API": "DE FR NL ES IT",
}
_SHIPPING = {"GBP": "4.95", "USD": "7.99", "EUR": "6.90", "JPY": "800"}
_FREIGHT = {"GBP": "20.00", "USD": "30.00", "EUR": "25.00", "JPY": "3500"}
_FREE_OVER = {"GBP": 50, "USD": 75, "EUR": 60, "JPY": 8000}
_NOTES = ("Leave with a neighbour if out", "Deliver to loading bay 3", "Gift wrap, please", "Call on arrival")


@dataclass
class OrderPlan:
    draft: OrderDraft
    reason: str  # why it was placed in its first status
    steps: list[Step]  # applied in order, only when this run placed the order


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _guest(rng: random.Random, country: str, *, relay: bool = False) -> tuple[CustomerRef, Address]:
    name, n = _person(rng, country), rng.randint(1, 999)
    email = (f"{rng.getrandbits(40):010x}@relay.marketplace.example" if relay
             else f"{_ascii(name.replace(' ', '.'))}{n}@example.com")  # fmt: skip
    phone = f"{_COUNTRIES[country][2]}{n % 100:02d}" if rng.random() < 0.6 else None
    return CustomerRef(name=name, email=email, phone=phone), _address(rng, country, name, None, phone, email)


Who = tuple[CustomerRef | None, Address | None, Account | None]  # as sent, where to, the account


def _customer(rng: random.Random, channel: Channel, customers: list[_Customer]) -> Who:
    """Who orders: a known account (named by one of the channel's keys), a guest, or nobody (a till sale)."""
    code = channel.code
    if rng.random() < _KNOWN_CUSTOMER.get(code, 0.0):
        countries = _ACCOUNT_COUNTRIES.get(code)
        cust = rng.choice([c for c in customers if countries is None or c.country in countries])
        acc = cust.account
        key = rng.choice([k for k in channel.settings.match_keys if k != "phone" and getattr(acc, k)])
        return CustomerRef(name=cust.address.name, **{key: getattr(acc, key)}), cust.address, acc
    if code == "POS-LDN":
        return (_guest(rng, "GB")[0] if rng.random() < 0.5 else None), None, None  # an e-receipt, or no one
    ref, address = _guest(rng, rng.choice(_GUEST_COUNTRIES[code].split()), relay=code == "MKT-JP")
    return ref, address, None


def _order(n: int, rng: random.Random, channel: Channel, status: str, products: list[Product],
           customers: list[_Customer]) -> OrderPlan:  # fmt: skip
    kind = channel.type.value
    ref, ship, account = _customer(rng, channel, customers)
    trade = account is not None and kind in ("b2b", "integration")
    currency = account.currency if account is not None and trade and account.currency else channel.currency
    promo = account is None and kind == "ecommerce" and rng.random() < 0.15
    tax, lines, estimate = _tax_rate(ship), [], Decimal(0)
    for p in rng.sample(products, rng.choices([1, 2, 3, 4, 5], weights=[35, 30, 18, 10, 7])[0]):
        qty = Decimal(rng.choice([2, 4, 6, 10, 12, 24]) if trade else rng.choices([1, 2, 3], [70, 22, 8])[0])
        price = p.prices[currency]
        sent = None  # a marketplace sends its own (sometimes promotional) price, which the channel trusts
        if channel.settings.price_policy is PricePolicy.TRUST:
            sent = round_amount(price * Decimal(rng.choice(["0.95", "1", "1"])), currency)
        discount = round_amount(qty * price / 10, currency) if promo else Decimal(0)
        estimate += qty * price
        lines.append(LineDraft(p.sku, qty, unit_price=sent, discount=discount, tax_rate=tax))
    if kind in ("retail", "marketplace"):  # carried out of the shop, or shipped free by the marketplace
        shipping = Decimal(0)
    elif trade:
        shipping = Decimal(_FREIGHT[currency])
    else:
        shipping = Decimal(0) if estimate >= _FREE_OVER[currency] else Decimal(_SHIPPING[currency])
    express = rng.random() < 0.1
    tags = [kind, *(["promo:SPRING10"] if promo else []), *(["express"] if express else []),
            *(["key-account"] if account is not None and account.tier == "gold" else [])]  # fmt: skip
    start, steps = _path(status, kind, rng)
    draft = OrderDraft(
        channel.code, tuple(lines), ORDER_REF.format(n), currency, ref, billing_address=ship,
        shipping_address=ship, shipping=shipping, shipping_tax_rate=tax if shipping else Decimal(0),
        priority=2 if express else 0, tags=tuple(tags), status=start,
        notes=rng.choice(_NOTES) if ship is not None and rng.random() < 0.15 else None,
    )  # fmt: skip
    return OrderPlan(draft, _PLACED_WHY.get(start.value, _RECEIVED_VIA[channel.code]), steps)


# --- quotes -------------------------------------------------------------------------------

#: the final status of each demo quote, and the steps that reach it ("convert": one call)
_QUOTES = ["draft", "sent", "accepted", "converted", "declined", "converted", "sent", "expired", "draft",
           "converted"]  # fmt: skip
_QUOTE_STEPS = {"draft": [], "sent": ["sent"], "accepted": ["sent", "accepted"],
                "declined": ["sent", "declined"], "expired": ["sent", "expired"],
                "converted": ["sent", "accepted", "convert"]}  # fmt: skip


@dataclass
class QuotePlan:
    key: str  # DEMO-Q01: starts the quote's notes, so a second run finds it
    draft: OrderDraft
    valid_days: int  # valid until this many days from today (negative: already lapsed)
    steps: list[str]


def _quotes(rng: random.Random, products: list[Product], customers: list[_Customer]) -> list[QuotePlan]:
    out = []
    for n, status in enumerate(_QUOTES, start=1):
        cust = rng.choice([c for c in customers if c.country in _EUROPE])  # quoted on the trade portal
        acc, addr, key = cust.account, cust.address, QUOTE_KEY.format(n)
        currency = acc.currency or "EUR"
        lines = tuple(LineDraft(p.sku, Decimal(rng.choice([10, 20, 50, 100])), tax_rate=_tax_rate(addr))
                      for p in rng.sample(products, rng.randint(2, 5)))  # fmt: skip
        draft = OrderDraft(
            "B2B-EU", lines, currency=currency, customer=CustomerRef(code=acc.code), billing_address=addr,
            shipping_address=addr, shipping=Decimal(_FREIGHT[currency]), shipping_tax_rate=_tax_rate(addr),
            notes=f"{key}: volume quote for {acc.name}",
        )  # fmt: skip
        out.append(QuotePlan(key, draft, -5 if status == "expired" else 30 + n, _QUOTE_STEPS[status]))
    return out


# --- the data set and the loader -----------------------------------------------------------


@dataclass
class DemoDataset:
    channels: list[Channel]
    products: list[Product]
    pricelists: list[Pricelist]
    accounts: list[Account]
    orders: list[OrderPlan]
    quotes: list[QuotePlan]


def _statuses(rng: random.Random, channels: list[Channel]) -> list[str]:
    """The final status of each order: exactly ``_STATUS_MIX``, tills first from ``_TILL_MIX``."""
    left = dict(_STATUS_MIX)
    out: list[str | None] = [None] * len(channels)
    for i, channel in enumerate(channels):
        if channel.type is ChannelType.RETAIL:
            status = rng.choices(list(_TILL_MIX), list(_TILL_MIX.values()))[0]
            left[status] -= 1
            out[i] = status
    rest = [status for status, count in left.items() for _ in range(count)]
    rng.shuffle(rest)
    it = iter(rest)
    return [status or next(it) for status in out]


def demo_dataset(seed: int = SEED) -> DemoDataset:
    """Everything the demo loads, planned from one seeded generator, with no I/O."""
    rng = random.Random(seed)
    channels, products = _channels(), _products()
    customers = _accounts(rng)
    by_code = {c.code: c for c in channels}
    picked = [
        by_code[code] for code in rng.choices(list(_CHANNEL_MIX), list(_CHANNEL_MIX.values()), k=ORDERS)
    ]
    plans = zip(picked, _statuses(rng, picked), strict=True)
    orders = [
        _order(n, rng, channel, status, products, customers) for n, (channel, status) in enumerate(plans, 1)
    ]
    return DemoDataset(channels, products, _pricelists(products), [c.account for c in customers], orders,
                       _quotes(rng, products, customers))  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    channels: int  # demo channels present after loading (created now or already there)
    products: int
    accounts: int
    pricelists: int
    orders_created: int  # demo orders this run placed (and moved to their status)
    orders_existing: int  # demo orders already there: left untouched
    quotes: int  # demo quotes present after loading
    quotes_created: int = 0  # of which this run created


def _silent(stage: str, done: int, total: int) -> None:
    return None


def _ensure(rt: Runtime, save: Callable[..., Any], items: list[Any], stage: str, progress: Progress) -> int:
    """Create each item that does not exist yet; an existing one is left as it is."""
    progress(stage, 0, len(items))
    for done, item in enumerate(items, start=1):
        with suppress(DuplicateKey):
            save(rt.uow(), item, create=True)
        progress(stage, done, len(items))
    return len(items)


def _apply(rt: Runtime, order_id: int, step: Step) -> None:
    what, to, reason = step
    if what == "status":
        transition_order(rt.uow(), TransitionOrder(order_id, to, ACTOR, reason))
    else:
        change_track(rt.uow(), ChangeTrack(order_id, what, to, ACTOR, reason))


def _history(rt: Runtime, order_id: int, steps: list[Step]) -> None:
    for step in steps:
        _apply(rt, order_id, step)


def _load_orders(rt: Runtime, plans: list[OrderPlan], progress: Progress) -> tuple[int, int]:
    """Place the orders one by one (so ids follow DEMO-0001, DEMO-0002 ...) and move each
    new one to its status. On a server database the histories of a batch of orders run
    side by side (they touch different rows); SQLite has one writer, so it goes in turn.
    """
    parallel = rt.engine.dialect.name != "sqlite"
    batch = _BATCH if parallel else 1
    created = 0
    progress("orders", 0, len(plans))
    with ThreadPoolExecutor(_WORKERS if parallel else 1, thread_name_prefix="demo") as pool:
        for start in range(0, len(plans), batch):
            histories = []
            for plan in plans[start : start + batch]:
                result = place_order(rt.uow(), PlaceOrder(plan.draft, ACTOR, plan.reason))
                if result.created:  # an order found again keeps whatever happened to it since
                    created += 1
                    assert result.order.id is not None
                    histories.append(pool.submit(_history, rt, result.order.id, plan.steps))
            for future in histories:
                future.result()
            progress("orders", min(start + batch, len(plans)), len(plans))
    return created, len(plans) - created


def _quote_keys(rt: Runtime) -> set[str]:
    """Keys of the demo quotes already stored (read side: quotes have no external reference)."""
    q = t.quotes
    with reading(rt.engine) as conn:
        notes = conn.execute(select(q.c.notes).where(q.c.notes.like(f"{QUOTE_PREFIX}%"))).scalars()
        return {text.split(":", 1)[0] for text in notes if text}


def _load_quotes(rt: Runtime, plans: list[QuotePlan], progress: Progress) -> int:
    existing, today, created = _quote_keys(rt), datetime.now(UTC).date(), 0
    progress("quotes", 0, len(plans))
    for done, plan in enumerate(plans, start=1):
        if plan.key not in existing:
            valid_until = today + timedelta(days=plan.valid_days)
            quote_id = create_quote(rt.uow(), CreateQuote(plan.draft, ACTOR, valid_until)).id
            assert quote_id is not None
            for to in plan.steps:
                if to == "convert":
                    convert_quote(rt.uow(), ConvertQuote(quote_id, ACTOR))
                else:
                    transition_quote(rt.uow(), TransitionQuote(quote_id, to, ACTOR, f"demo: quote {to}"))
            created += 1
        progress("quotes", done, len(plans))
    return created


def load_demo(rt: Runtime, *, progress: Progress | None = None) -> DemoSummary:
    """Load the demo data set through the services; running it again duplicates nothing.

    ``progress(stage, done, total)`` is called as each stage starts and after each item
    (stages: channels, products, pricelists, accounts, orders, quotes).
    """
    report = progress or _silent
    data = demo_dataset()
    channels = _ensure(rt, save_channel, data.channels, "channels", report)
    products = _ensure(rt, save_product, data.products, "products", report)
    pricelists = _ensure(rt, save_pricelist, data.pricelists, "pricelists", report)
    accounts = _ensure(rt, save_account, data.accounts, "accounts", report)
    orders_created, orders_existing = _load_orders(rt, data.orders, report)
    quotes_created = _load_quotes(rt, data.quotes, report)
    return DemoSummary(channels, products, accounts, pricelists, orders_created, orders_existing,
                       len(data.quotes), quotes_created)  # fmt: skip


__all__ = ["DemoDataset", "DemoSummary", "OrderPlan", "QuotePlan", "demo_dataset", "load_demo"]
