"""SMS text rules: GSM-7 / UCS-2 encoding and segment counting.

A text that fits the GSM 03.38 alphabet is sent as GSM-7: 160 septets in one segment,
153 per segment when concatenated; the extension table's characters take two septets.
Anything else goes as UCS-2: 70 UTF-16 code units in one segment, 67 when concatenated.
We accept at most `MAX_SEGMENTS` segments (1,530 GSM-7 characters, 670 UCS-2 units).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MAX_SEGMENTS = 10

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

Encoding = Literal["gsm7", "ucs2"]


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    units: int
    segments: int


def count_segments(text: str) -> SegmentCount:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return SegmentCount("gsm7", units, _segments(units, single=160, multi=153))
    units = len(text.encode("utf-16-le")) // 2
    return SegmentCount("ucs2", units, _segments(units, single=70, multi=67))


def _segments(units: int, *, single: int, multi: int) -> int:
    if units <= single:
        return 1
    return -(-units // multi)
