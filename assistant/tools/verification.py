"""Proving an order is yours: the last four digits of the phone number it was placed with.

In a customer-facing chat an order is shown only to its owner: an asker bound to the ERP customer
(``customer_bindings``), or one who answers the order's phone number's last four digits in the
conversation. A proof lasts a while (``minutes``) for that asker and that order only. Wrong answers
are limited per asker and per order, so the four digits cannot be guessed by trying.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Literal, Protocol

from assistant.domain import Turn
from assistant.erp.client import ERPClient, ERPError, OrderNotFound
from assistant.text.normalize import normalize
from assistant.tools.identifiers import order_numbers

Outcome = Literal["verified", "wrong", "limited", "unavailable"]
_CODE = re.compile(r"^\D{0,12}?(\d{4})\D{0,8}$")


class VerificationStore(Protocol):
    def verify_order(self, principal_id: str, order_no: str, until: datetime) -> None: ...

    def verified_orders(self, principal_id: str) -> set[str]: ...


class Limiter(Protocol):
    def allow(self, key: str, limit: int, window_s: float) -> bool: ...


def code_in(question: str) -> str | None:
    """Four digits answered on their own ("5678", "后四位是5678", "尾号 5678")."""
    match = _CODE.match(normalize(question))
    return match.group(1) if match else None


def order_awaiting_proof(history: Sequence[Turn]) -> str | None:
    """The order the asker named most recently (in their own turns)."""
    for turn in reversed(history):
        if turn.role == "user":
            found = order_numbers(turn.standalone or turn.text)
            if found:
                return found[-1]
    return None


class OrderVerifier:
    def __init__(
        self,
        client: ERPClient,
        store: VerificationStore,
        limiter: Limiter,
        *,
        attempts_per_hour: int = 5,
        order_attempts_per_hour: int = 10,
        minutes: int = 30,
    ):
        self.client = client
        self.store = store
        self.limiter = limiter
        self.attempts_per_hour = attempts_per_hour
        self.order_attempts_per_hour = order_attempts_per_hour
        self.minutes = minutes

    def verified(self, principal_id: str) -> frozenset[str]:
        return frozenset(self.store.verified_orders(principal_id))

    def attempt(self, principal_id: str, order_no: str, code: str) -> Outcome:
        if not (self.limiter.allow(f"verify:asker:{principal_id}", self.attempts_per_hour, 3600)
                and self.limiter.allow(f"verify:order:{order_no}", self.order_attempts_per_hour, 3600)):
            return "limited"
        try:
            order = self.client.get_order(order_no)
        except OrderNotFound:
            return "wrong"  # said like a wrong code: an unknown order must not look different
        except ERPError:
            return "unavailable"
        digits = re.sub(r"\D", "", order.shipping.phone or "")
        if len(digits) < 4 or digits[-4:] != code:
            return "wrong"
        until = datetime.now(timezone.utc) + timedelta(minutes=self.minutes)
        self.store.verify_order(principal_id, order_no, until)
        return "verified"
