"""Parse ``parse_mode`` markup into plain text + entities the way Telegram does.

Needed for fidelity: length limits apply *after* markup is stripped and are counted in
UTF-16 code units, malformed markup is a 400 "can't parse entities" error, and "message is
not modified" compares parsed text and entities, not the raw request string.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError, bad

Entity = dict[str, Any]

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ESC = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ESC_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))""")
_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, Telegram's unit for limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _fail(reason: str) -> ApiError:
    return bad(f"can't parse entities: {reason}")


def _boff(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_html(text: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[Entity] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            j = text.find(">", i)
            if j < 0:
                raise _fail(f"Unclosed start tag at byte offset {_boff(text, i)}")
            inner = text[i + 1 : j]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise _fail(f"Unexpected end tag at byte offset {_boff(text, i)}")
                tag, start, attrs = stack.pop()
                if name and name != tag:
                    raise _fail(
                        f"Unmatched end tag at byte offset {_boff(text, i)}, expected "
                        f'"</{tag}>", found "</{name}>"'
                    )
                _html_entity(tag, start, pos16, attrs, entities)
            else:
                m = re.match(r"([a-zA-Z][a-zA-Z0-9-]*)", inner)
                name = m.group(1).lower() if m else ""
                if name not in _HTML_TAGS:
                    raise _fail(f'Unsupported start tag "{name}" at byte offset {_boff(text, i)}')
                attrs = {
                    a.group(1).lower(): a.group(2) or a.group(3) or a.group(4) or ""
                    for a in _ATTR_RE.finditer(inner[len(name) :])
                }
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _fail(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {_boff(text, i)}'
                    )
                stack.append((name, pos16, attrs))
            i = j + 1
            continue
        if ch == "&":
            m = _ESC_RE.match(text, i)
            if m:
                code = m.group(1)
                if code.startswith("#x"):
                    ch = chr(int(code[2:], 16))
                elif code.startswith("#"):
                    ch = chr(int(code[1:]))
                else:
                    ch = _HTML_ESC[code]
                i = m.end() - 1
        out.append(ch)
        pos16 += 2 if ord(ch) > 0xFFFF else 1
        i += 1
    if stack:
        raise _fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), entities


def _html_entity(
    tag: str, start: int, end: int, attrs: dict[str, str], entities: list[Entity]
) -> None:
    if end <= start:
        return
    kind = _HTML_TAGS[tag]
    ent: Entity = {"offset": start, "length": end - start, "type": kind}
    if kind == "text_link":
        if not attrs.get("href"):
            return
        ent["url"] = attrs["href"]
    elif kind == "custom_emoji":
        ent["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif kind == "blockquote" and "expandable" in attrs:
        ent["type"] = "expandable_blockquote"
    elif kind == "code" and attrs.get("class", "").startswith("language-"):
        for other in entities:
            if other["type"] == "pre" and other["offset"] <= start:
                other["language"] = attrs["class"][9:]
    entities.append(ent)


_MD2_MARKS = [
    ("```", "pre", "Pre"),
    ("__", "underline", "Underline"),
    ("||", "spoiler", "Spoiler"),
    ("*", "bold", "Bold"),
    ("_", "italic", "Italic"),
    ("~", "strikethrough", "Strikethrough"),
    ("`", "code", "Code"),
]


def _parse_markdown(text: str, v2: bool) -> tuple[str, list[Entity]]:
    out: list[str] = []
    pos16 = 0
    open_: dict[str, tuple[int, int]] = {}
    entities: list[Entity] = []
    marks = _MD2_MARKS if v2 else [m for m in _MD2_MARKS if m[0] in ("```", "*", "_", "`")]
    i, n = 0, len(text)
    link_start: tuple[int, int] | None = None
    code_mode: str | None = None
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and (v2 or text[i + 1] in "_*`["):
            ch = text[i + 1]
            i += 2
            out.append(ch)
            pos16 += 2 if ord(ch) > 0xFFFF else 1
            continue
        mark = next((m for m in marks if text.startswith(m[0], i)), None)
        if mark and (code_mode is None or code_mode == mark[0]):
            sym, kind, title = mark
            if sym in open_:
                start, _ = open_.pop(sym)
                if pos16 > start:
                    entities.append({"offset": start, "length": pos16 - start, "type": kind})
                code_mode = None
            else:
                open_[sym] = (pos16, i)
                if sym in ("`", "```"):
                    code_mode = sym
                    if sym == "```":
                        nl = text.find("\n", i + 3)
                        if nl > i + 3 and " " not in text[i + 3 : nl]:
                            i = nl
            i += len(sym)
            continue
        if code_mode is None and ch == "[":
            link_start = (pos16, i)
            i += 1
            continue
        if code_mode is None and ch == "]" and link_start is not None:
            m = re.match(r"\]\(([^)]*)\)", text[i:])
            if m:
                start = link_start[0]
                if pos16 > start:
                    entities.append(
                        {
                            "offset": start,
                            "length": pos16 - start,
                            "type": "text_link",
                            "url": m.group(1),
                        }
                    )
                link_start = None
                i += m.end()
                continue
        if v2 and code_mode is None and ch in _MD2_RESERVED:
            raise _fail(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(ch)
        pos16 += 2 if ord(ch) > 0xFFFF else 1
        i += 1
    if open_ or link_start is not None:
        sym, (_, byte_i) = next(iter(open_.items())) if open_ else ("[", link_start or (0, 0))
        title = next((m[2] for m in _MD2_MARKS if m[0] == sym), "TextUrl")
        if v2:
            raise _fail(f"Can't find end of {title} entity at byte offset {_boff(text, byte_i)}")
        raise _fail(f"Can't find end of the entity starting at byte offset {_boff(text, byte_i)}")
    return "".join(out), entities


def parse(
    text: str, parse_mode: str | None, entities: list[Entity] | None = None
) -> tuple[str, list[Entity]]:
    """Return Telegram's stored (text, entities) for a request's text and parse_mode.

    Explicit ``entities`` win over ``parse_mode`` as in the Bot API.  Leading and trailing
    whitespace is trimmed as Telegram does, shifting entity offsets accordingly.
    """
    if entities is not None:
        plain, ents = text, [dict(e) for e in entities]
    elif not parse_mode:
        plain, ents = text, []
    else:
        mode = parse_mode.lower()
        if mode == "html":
            plain, ents = _parse_html(text)
        elif mode == "markdownv2":
            plain, ents = _parse_markdown(text, v2=True)
        elif mode == "markdown":
            plain, ents = _parse_markdown(text, v2=False)
        else:
            raise bad("unsupported parse_mode")
    stripped = plain.strip()
    if stripped != plain:
        lead = utf16_len(plain[: len(plain) - len(plain.lstrip())])
        total = utf16_len(stripped)
        kept: list[Entity] = []
        for ent in ents:
            start = max(0, ent["offset"] - lead)
            end = min(total, ent["offset"] + ent["length"] - lead)
            if end > start:
                ent["offset"], ent["length"] = start, end - start
                kept.append(ent)
        plain, ents = stripped, kept
    ents.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, ents
