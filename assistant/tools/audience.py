"""Audience rules: who sees personal data, decided per group or per role, and the masks.

Customer-facing groups get phone numbers, e-mail addresses, street addresses and names masked,
and cannot list another customer's orders; staff see everything. A group rule wins over a role
rule; a caller matched by neither gets the default, which is ``customer`` (the safe side).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from assistant.tools.base import Audience, Caller

AUDIENCES: tuple[Audience, ...] = ("staff", "customer")


@dataclass(frozen=True)
class AudienceRules:
    """`groups` keys are ``platform:chat_id`` or a bare ``chat_id``; `roles` keys are role names."""

    groups: Mapping[str, Audience] = field(default_factory=dict)
    roles: Mapping[str, Audience] = field(default_factory=lambda: {"staff": "staff", "customer": "customer"})
    default: Audience = "customer"

    def __post_init__(self) -> None:
        for where, value in [*self.groups.items(), *self.roles.items(), ("default", self.default)]:
            if value not in AUDIENCES:
                raise ValueError(f"audience rule {where!r}: {value!r} is not one of {AUDIENCES}")

    def resolve(self, caller: Caller) -> Audience:
        if caller.chat_id:
            for key in (f"{caller.platform}:{caller.chat_id}", caller.chat_id):
                if key in self.groups:
                    return self.groups[key]
        if caller.role and caller.role in self.roles:
            return self.roles[caller.role]
        return self.default

    def bind(self, caller: Caller) -> Caller:
        """The caller with its audience decided (kept when the front door already decided it from a
        verified principal)."""
        if caller.audience is not None:
            return caller
        return replace(caller, audience=self.resolve(caller))


def sees_personal_data(caller: Caller) -> bool:
    return caller.audience == "staff"


# -- masks -------------------------------------------------------------------------------------
_PHONE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")
_ADDRESS_HEAD = re.compile(r"^(.+?(?:省|自治区))?(.+?(?:市|自治州|地区|盟))?(.+?(?:区|县|旗))?")


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678; other formats keep only their last 4 digits."""
    if not phone:
        return phone
    masked = _PHONE.sub(r"\1****\2", phone)
    if masked != phone:
        return masked
    digits = re.sub(r"\D", "", phone)
    return "****" + digits[-4:] if len(digits) >= 4 else "****"


def mask_email(email: str) -> str:
    """xiaoyu.zhang@example.com -> x***@example.com."""
    if not email or "@" not in email:
        return "***" if email else email
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_address(address: str) -> str:
    """Keep province, city and district; hide the street and the door."""
    if not address:
        return address
    head = _ADDRESS_HEAD.match(address)
    kept = head.group(0) if head else ""
    return f"{kept}****" if kept and kept != address else "****"


def mask_name(name: str) -> str:
    """张晓雨 -> 张**; Latin names keep their first letter."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)
