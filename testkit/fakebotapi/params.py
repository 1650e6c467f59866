"""Request parameter decoding: Telegram accepts query string, JSON, urlencoded or multipart.

PTB posts form fields whose non-string values are JSON-encoded strings, so every accessor
accepts both native JSON values and their string encodings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, hdrs, web

from .errors import bad


@dataclass(slots=True)
class Upload:
    """One multipart file part, kept as bytes (uploads live in memory)."""

    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """Typed accessors with Telegram-style 400s for malformed values."""

    __slots__ = ("files", "raw")

    def __init__(self, raw: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.raw = raw
        self.files = files or {}

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str, error: str | None = None) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad(error or f"can't parse {name} JSON object") from None
        return value


async def read_params(request: web.Request) -> Params:
    """Merge query string and body the way the Bot API does (body wins)."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.body_exists:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad("can't parse JSON encoded request") from None
            if isinstance(body, dict):
                raw.update(body)
        elif ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    data = bytes(await part.read())
                    files[part.name] = Upload(
                        data, part.filename, part.headers.get(hdrs.CONTENT_TYPE)
                    )
                else:
                    raw[part.name] = await part.text()
        else:
            raw.update(await request.post())
    return Params(raw, files)
