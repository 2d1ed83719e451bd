"""Field types as the compiler sees them: families, allowed operators and constant conversion.

A condition's constants are converted once, at compile time, to what the field's extractor returns
(see rules.fields.spec): str for strings, int for numbers and times, bool, bytes, and for addresses the
`ipaddress` objects whose text forms the extractor's strings are compared against.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

STR, NUM, DOUBLE, BOOL, IP, NET, BYTES = "str", "num", "double", "bool", "ip", "net", "bytes"

_FAMILIES = {
    **dict.fromkeys(("CHARBUF", "FSPATH", "FSRELPATH", "CHARBUFARRAY", "DYNAMIC"), STR),
    **dict.fromkeys(("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "PORT",
                     "PID", "ERRNO", "FD", "MODE", "FLAGS8", "FLAGS16", "FLAGS32", "ENUMFLAGS8",
                     "ENUMFLAGS16", "ENUMFLAGS32", "UID", "GID", "RELTIME", "ABSTIME", "SIGTYPE",
                     "L4PROTO", "SOCKFAMILY", "SYSCALLID", "SIGSET"), NUM),
    "DOUBLE": DOUBLE,
    "BOOL": BOOL,
    **dict.fromkeys(("IPADDR", "IPV4ADDR", "IPV6ADDR"), IP),
    **dict.fromkeys(("IPNET", "IPV4NET", "IPV6NET"), NET),
    "BYTEBUF": BYTES,
}

_EQUALITY = frozenset(("exists", "=", "==", "!=", "in", "intersects"))
_ORDER = frozenset(("<", "<=", ">", ">="))
_TEXT = frozenset(("contains", "icontains", "startswith", "endswith", "glob", "iglob", "pmatch",
                   "regex"))
ALLOWED_OPS = {
    STR: _EQUALITY | _ORDER | _TEXT,
    NUM: _EQUALITY | _ORDER,
    DOUBLE: _EQUALITY | _ORDER,
    BOOL: _EQUALITY,
    IP: _EQUALITY,
    NET: _EQUALITY,
    BYTES: _EQUALITY | {"contains", "startswith", "endswith", "bcontains", "bstartswith"},
}

_INT = re.compile(r"[+-]?[0-9]+")
_HEX_INT = re.compile(r"0[xX][0-9a-fA-F]+")
_DURATION = re.compile(r"([0-9]+)(ns|us|ms|s|m|h|d)")
_DURATION_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
                "d": 86400 * 10**9}
_HEX_DIGITS = re.compile(r"(?:[0-9a-fA-F]{2})+")


def family(field_type: str) -> str:
    """The comparison family of a field type; unknown types compare as strings, as their text."""
    return _FAMILIES.get(field_type.upper(), STR)


def convert(text: str, fam: str, field_type: str) -> Any:
    """A constant of the condition as a value of the field's family; ValueError if it is not one."""
    if fam == STR:
        if "\x00" in text:
            raise ValueError("filter error: string values cannot contain NUL bytes")
        return text
    if fam == NUM:
        return parse_int(text, reltime=field_type.upper() == "RELTIME")
    if fam == DOUBLE:
        return float(parse_int(text))  # libsinsp reads these constants as integers too
    if fam == BOOL:
        return parse_bool(text)
    if fam == IP:
        return ip_network(text) if "/" in text else ip_address(text)
    if fam == NET:
        return ip_network(text)
    return to_bytes(text)


def parse_int(text: str, reltime: bool = False) -> int:
    if _INT.fullmatch(text):
        return int(text)
    if _HEX_INT.fullmatch(text):
        return int(text, 16)
    m = _DURATION.fullmatch(text) if reltime else None
    if m:
        return int(m.group(1)) * _DURATION_NS[m.group(2)]
    raise ValueError(f"filter error: '{text}' is not a valid number")


def parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise ValueError(f"filter error: '{text}' is not a valid boolean (true or false)")


def ip_address(text: str) -> IpAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"filter error: '{text}' is not a valid IP address") from None


def ip_network(text: str) -> IpNetwork:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"filter error: '{text}' is not a valid IP network") from None


def to_bytes(text: str) -> bytes:
    """A string constant as bytes: code points up to 255 are bytes (the \\xHH escapes)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def hex_bytes(text: str) -> bytes:
    """The operand of bcontains/bstartswith: an even number of hex digits."""
    if not _HEX_DIGITS.fullmatch(text):
        raise ValueError(f"filter error: bcontains/bstartswith need hex digits in pairs, not '{text}'")
    return bytes.fromhex(text)


def ip_forms(addr: IpAddress) -> frozenset[Any]:
    """Every form an extractor may hand back for `addr`: the object and its text forms."""
    return frozenset((addr, str(addr), addr.exploded))


class AddressCache:
    """Text -> ipaddress object, for network containment; bounded, since addresses churn."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[Any, IpAddress | None] = {}

    def get(self, value: Any) -> IpAddress | None:
        if not isinstance(value, str):
            return value if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address) else None
        hit = self._cache.get(value, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        try:
            addr: IpAddress | None = ipaddress.ip_address(value)
        except ValueError:
            addr = None
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[value] = addr
        return addr
