"""Residents' words as they may be published: in `/outcomes` and in the year report.

Items are published without a name, but a resident may have written one into the text: an
e-mail address, a phone number or an account handle is masked before anyone else reads it.
"""

from __future__ import annotations

import re

MASK = "[…]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_MATRIX_ID = re.compile(r"@[\w.=/+-]+:[\w.-]+(:\d+)?")
_HANDLE = re.compile(r"(?<![\w@])@\w{3,}")
# Seven or more digits, possibly with a leading + and spaces, dashes, dots, slashes or
# parentheses between them: phone numbers, not years or house numbers.
_PHONE = re.compile(r"(?<![\w+])\+?\d(?:[\s./()-]{0,2}\d){6,}")


def public_text(text: str, *, limit: int | None = None) -> str:
    """`text` with contact details masked, shortened to `limit` characters at a word."""
    masked = _EMAIL.sub(MASK, text)
    masked = _MATRIX_ID.sub(MASK, masked)
    masked = _HANDLE.sub(MASK, masked)
    masked = _PHONE.sub(MASK, masked)
    masked = " ".join(masked.split())
    if limit is not None and len(masked) > limit:
        cut = masked[:limit].rsplit(" ", 1)[0] or masked[:limit]
        masked = cut.rstrip(" ,.;:") + " …"
    return masked
