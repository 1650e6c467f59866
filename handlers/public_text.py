"""Residents' words as they may be published: in `/outcomes` and in the year report.

Items are published without a name, but a resident may have written one into the text: an
e-mail address, a phone number or an account handle is masked before anyone else reads it.
The texts kept after a resident is forgotten (`/forget`, retention) are masked the same way,
and their names with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[…]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_MATRIX_ID = re.compile(r"@[\w.=/+-]+:[\w.-]+(:\d+)?")
_HANDLE = re.compile(r"(?<![\w@])@\w{3,}")
# Seven or more digits, possibly with a leading + and spaces, dashes, dots, slashes or
# parentheses between them: phone numbers, not years or house numbers.
_PHONE = re.compile(r"(?<![\w+])\+?\d(?:[\s./()-]{0,2}\d){6,}")


def public_text(text: str, *, limit: int | None = None) -> str:
    """`text` with contact details masked, shortened to `limit` characters at a word."""
    masked = " ".join(_mask_contact_details(text).split())
    if limit is not None and len(masked) > limit:
        cut = masked[:limit].rsplit(" ", 1)[0] or masked[:limit]
        masked = cut.rstrip(" ,.;:") + " …"
    return masked


def anonymous_text(text: str, identifiers: Iterable[str]) -> str:
    """`text` kept after its author is forgotten: contact details masked as in `public_text`,
    and every name of theirs too, in any letter case and with a genitive "s".

    Args:
        text: a resident's text, or a coordinator's text about them.
        identifiers: what names the person: display names ("Amira Yilmaz": the whole name,
            "Amira" and "Yilmaz" are masked) and account ids (a Matrix id's local part).

    Returns:
        The text with the same line breaks, names and contact details replaced by `MASK`.
    """
    words: set[str] = set()
    for identifier in identifiers:
        if identifier.startswith("@"):  # a Matrix id: "@amira:example.org" names "amira"
            identifier = identifier[1:].partition(":")[0]
        words.update((identifier.strip(), *identifier.split()))
    # An initial is left alone; a part of two letters ("An", "Li") is masked only as written,
    # because in any letter case it is also a common word ("an"). Longer names come first,
    # so that a whole name becomes one mask.
    names = [
        re.escape(word) if len(word) == 2 else f"(?i:{re.escape(word)})"
        for word in sorted(words, key=lambda w: (-len(w), w))
        if len(word) >= 2
    ]
    masked = _mask_contact_details(text)
    if not names:
        return masked
    return re.sub(rf"(?<!\w)(?:{'|'.join(names)})(?:['’]?s)?(?!\w)", MASK, masked)


def _mask_contact_details(text: str) -> str:
    masked = _EMAIL.sub(MASK, text)
    masked = _MATRIX_ID.sub(MASK, masked)
    masked = _HANDLE.sub(MASK, masked)
    return _PHONE.sub(MASK, masked)
