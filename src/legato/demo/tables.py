"""The demo's data tables: products, places, names, accounts and order paths.

Pipe-separated text, parsed by ``plan._table``; edit them to change the demo.
"""

PRODUCTS = """
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

COUNTRY_TABLE = """
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

CITY_TABLE = """
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

NAME_TABLE = """
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

ACCOUNTS = """
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

PATH_TABLE = """
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
