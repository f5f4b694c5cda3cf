"""The words that announce each field, in English, French, German, Dutch and Polish.

Phrases are regex fragments matched on folded text (lower case, no accents); a label's weight
says how surely its value is the field ("Invoice number" more than a bare "Invoice").
"""

from __future__ import annotations

from extraction.proximity import label

INVOICE_NUMBER = (
    label(
        1.0,
        r"invoice\s*(?:number|no|nr|num|#|n°)",
        r"bill\s*(?:number|no)",
        r"factuur\s*(?:nummer|nr|no)",
        r"factuurnummer",
        r"factuurnr",
        r"facture\s*(?:n°|no|numero|num)",
        r"n°\s*(?:de\s*)?facture",
        r"numero\s*de\s*(?:la\s*)?facture",
        r"rechnungs?\s*-?\s*(?:nummer|nr|no)",
        r"rechnungsnummer",
        r"faktura\s*(?:vat\s*)?(?:nr|numer|no)",
        r"numer\s*faktury",
        r"nr\s*faktury",
    ),
    # A bare title ("Invoice INV/2023/03/0008", a "Factuur" column) only with a number by it.
    label(0.8, r"invoice", r"factuur", r"facture", r"rechnung", r"faktura(?:\s*vat)?"),
    label(0.5, r"receipt\s*(?:number|no)", r"booking\s*(?:id|number|reference)"),
)

INVOICE_DATE = (
    label(
        1.0,
        r"invoice\s*date",
        r"date\s*of\s*(?:invoice|issue)",
        r"issue\s*date",
        r"billing\s*date",
        r"factuur\s*datum",
        r"factuurdatum",
        r"date\s*(?:de\s*(?:la\s*)?)?facture",
        r"date\s*d'emission",
        r"rechnungsdatum",
        r"datum\s*der\s*rechnung",
        r"data\s*(?:wystawienia|faktury)",
    ),
    label(0.7, r"date", r"datum", r"data", r"dated"),
)

DUE_DATE = (
    label(
        1.0,
        r"due\s*date",
        r"date\s*due",
        r"payment\s*due(?:\s*date)?",
        r"pay\s*by",
        r"vervaldatum",
        r"verval\s*datum",
        r"uiterste\s*betaaldatum",
        r"date\s*(?:d'|de\s*l')?echeance",
        r"echeance",
        r"date\s*limite\s*de\s*paiement",
        r"a\s*payer\s*avant\s*le",
        r"faelligkeitsdatum",
        r"falligkeitsdatum",
        r"fallig\s*(?:am|bis)?",
        r"zahlbar\s*bis",
        r"zahlungsziel",
        r"termin\s*(?:platnosci|zaplaty)",
    ),
)

_NOT_GROSS = r"(?!\s*(?:ht|hors|excl|exkl|net|netto|ohne|before|without|vat|tax|tva|btw|mwst))"
TOTAL = (
    label(
        1.0,
        r"(?:grand\s*|invoice\s*)?total" + _NOT_GROSS + r"(?:\s*(?:amount|due|ttc|incl))?",
        r"amount\s*(?:due|payable|to\s*pay)",
        r"balance\s*due",
        r"total\s*due",
        r"montant\s*(?:ttc|a\s*payer|total)",
        r"(?:net|somme|reste)\s*a\s*payer",
        r"totaal" + _NOT_GROSS,
        r"totaalbedrag",
        r"te\s*betalen",
        r"factuur\s*totaal",
        r"gesamtbetrag",
        r"gesamtsumme",
        r"rechnungsbetrag",
        r"endbetrag",
        r"zahlbetrag",
        r"zu\s*zahlen",
        r"(?:razem\s*|kwota\s*)?do\s*zaplaty",
        r"wartosc\s*brutto",
    ),
)

SUBTOTAL = (
    label(
        0.9,
        r"total\s*(?:ht|hors\s*taxes?|net|excl\w*|before\s*tax)",
        r"montant\s*(?:eur\s*)?ht",
        r"net\s*amount",
        r"amount\s*excl\w*",
        r"excl\w*\s*(?:btw|vat|tax)",
        r"totaal\s*excl\w*",
        r"netto\s*(?:betrag|summe)?",
        r"summe\s*netto",
        r"gesamt\s*netto",
        r"wartosc\s*netto",
        r"razem\s*netto",
        r"grondslag",
        r"taxable\s*amount",
        r"untaxed\s*amount",
        r"base\s*ht",
    ),
    # "Subtotal" is sometimes before tax and sometimes not (Coolblue's "Subtotaal").
    label(0.6, r"sub\s*-?total", r"subtotaal", r"sous\s*-?total", r"zwischensumme"),
)

TAX = (
    label(
        0.9,
        r"(?:total\s*|montant\s*)?(?:vat|tax|tva|btw|mwst|ust|iva|gst)(?:\s*-?(?:amount|bedrag))?",
        r"sales\s*tax",
        r"umsatzsteuer",
        r"mehrwertsteuer",
        r"steuerbetrag",
        r"(?:kwota|podatek)\s*vat",
    ),
)

PO_NUMBER = (
    label(
        1.0,
        r"purchase\s*order(?:\s*(?:number|no|nr|#))?",
        r"p\.?\s*o\.?\s*(?:number|no|nr|#)",
        r"your\s*order\s*(?:number|no|reference)",
        r"order\s*reference",
        r"bestellnummer",
        r"bestell\s*-?\s*nr",
        r"ihre\s*bestellung",
        r"inkoop\s*order(?:nummer)?",
        r"uw\s*(?:referentie|bestelnummer|ordernummer)",
        r"bon\s*de\s*commande",
        r"votre\s*commande",
        r"zamowienie(?:\s*nr)?",
    ),
)

VAT_ID = (
    label(
        1.0,
        r"vat\s*(?:reg(?:istration)?\s*)?(?:id|no|number|nr)?",
        r"ust\s*-?\s*id(?:\s*-?\s*nr)?",
        r"ustid(?:nr)?",
        r"btw\s*-?\s*(?:nummer|nr|id)?",
        r"(?:n°\s*(?:de\s*)?)?tva(?:\s*intra\s*communautaire)?",
        r"nip",
        r"tax\s*id",
    ),
)

IBAN = (label(1.0, r"iban"),)

SUPPLIER = (
    label(
        0.85,
        r"sold\s*by",
        r"seller",
        r"supplier",
        r"vendor",
        r"service\s*provider",
        r"issued\s*by",
        r"(?:payment\s*)?received\s*by",
        r"account\s*holder",
        r"titulaire\s*du\s*compte",
        r"beneficiaire",
        r"kontoinhaber",
        r"rekeninghouder",
        r"t\.?\s*n\.?\s*v\.?",
        r"leverancier",
        r"verkoper",
        r"fournisseur",
        r"vendeur",
        r"emetteur",
        r"lieferant",
        r"verkaufer",
        r"rechnungssteller",
        r"sprzedawca",
        r"wystawca",
        anywhere=True,
    ),
)

CUSTOMER = (
    label(
        0.8,
        r"bill(?:ed)?\s*to(?:\s*address)?",
        r"invoice\s*to",
        r"sold\s*to",
        r"ship\s*to",
        r"deliver\s*to",
        r"customer(?:\s*name)?",
        r"client",
        r"billing\s*address",
        r"shipping\s*address",
        r"factuuradres",
        r"afleveradres",
        r"rechnungsadresse",
        r"lieferadresse",
        r"adresse\s*de\s*(?:facturation|livraison)",
        r"facture\s*a",
        r"destinataire",
        r"nabywca",
        r"odbiorca",
        r"guest\s*name",
        r"nom\s*de\s*l.abonne",
    ),
)

# Words that make a VAT id or IBAN the customer's ("Uw BTW nummer", "your VAT number").
CUSTOMER_MARKERS = (
    r"(?<![a-z])(?:uw|your|votre|ihre|customer|client|klant|kunde|buyer|acheteur|nabywca)(?![a-z])"
)

# Document titles: a line that is only one of these names no party.
TITLES = (
    r"(?:invoice|tax invoice|retail invoices?(?:/bill)?|payment receipt|receipt|bill|factuur"
    r"|facture|rechnung|faktura(?: vat)?|credit note|creditnota|avoir|gutschrift)"
)
