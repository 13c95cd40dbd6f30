"""Which number in a message is an order number: the one definition the router and the rewriter share.

Customers paste many ids into a chat: order numbers, courier tracking numbers ("SF1402337788115",
"JDV009912345678", "ZT7788990011"), mobile numbers ("13812345678"), invoice numbers (8-20 digits),
bank card numbers. Taking any of them for an order number means a lookup of the wrong thing, or of
nothing. This shop's order numbers are a date and a serial: yyyymmdd, a dash, 4 digits
("20240521-8892"); customers also type them with full-width digits or without the dash. So an order
number is exactly that shape (without the dash, only when it starts with a plausible date), standing
alone (not glued to a carrier prefix or inside a longer run of digits), and not introduced as another
kind of id ("运单号", "发票号码"...).
"""

from __future__ import annotations

import re

from assistant.text.normalize import normalize

_DATE = r"20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
# Not glued to letters (carrier prefixes such as SF, JDV) or to more digits on either side. With the
# dash the shape alone says "order number" (a mistyped date is still an order number the ERP will not
# know); a bare run of 12 digits counts only when it starts with a plausible date.
ORDER_NUMBER = re.compile(
    rf"(?<![0-9a-z-])(?:(\d{{8}})\s?-\s?(\d{{4}})|({_DATE})\s?(\d{{4}}))(?![0-9a-z-])"
)
# A long run of digits, optionally behind a carrier prefix: tracking, phone, invoice, card numbers.
LONG_ID = re.compile(r"(?<![0-9a-z])[a-z]{0,4}\d{6,}(?:-\d+)?(?![0-9a-z])")
# Labels that introduce some other id; what follows them is never an order number.
OTHER_ID_LABEL = re.compile(
    r"(?:运单号|快递单号|物流单号|发票号码?|手机号码?|电话号码?|卡号|tracking(?: no\.?| number)?|waybill"
    r"|invoice (?:no\.?|number|#)|phone(?: number)?)\s*(?:是|为|:)?\s*$"
)
_LABEL_WINDOW = 20


def order_numbers(text: str) -> list[str]:
    """Order numbers in a message as ``yyyymmdd-nnnn``, each once, in the order they appear."""
    norm = normalize(text)
    found = []
    for match in ORDER_NUMBER.finditer(norm):
        before = norm[max(0, match.start() - _LABEL_WINDOW) : match.start()]
        if OTHER_ID_LABEL.search(before):
            continue
        day, serial = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        found.append(f"{day}-{serial}")
    return list(dict.fromkeys(found))


def is_identifier(word: str) -> bool:
    """True for a token that is an id of any kind (order, tracking, phone, invoice number): not a topic."""
    norm = normalize(word)
    return bool(ORDER_NUMBER.fullmatch(norm) or LONG_ID.fullmatch(norm))
