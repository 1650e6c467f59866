"""Core statements on the hot path, and model instances built from their rows.

Every resident update runs a handful of small statements. Through the ORM each one costs more
Python than SQLite spends on it: a statement built anew (and its cache key computed) on every
call, the ORM's execution and loading layers, identity-map bookkeeping and unit-of-work
flushes. The hot store methods therefore run statements built once, at import, against the
tables (so that JSON and `UTCDateTime` values still pass through their column types), on the
session's connection (`session.connection()`: no ORM execution layer), and turn rows into
model instances with `detached`: the same objects a query in a session closed afterwards
would have returned.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.instrumentation import ClassManager, manager_of_class
from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)


def table(model: type[SQLModel]) -> Table:
    """The table behind a model, for Core statements."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def column_keys(model: type[SQLModel]) -> tuple[str, ...]:
    """The model's columns in table order (attribute names and column names are the same)."""
    return tuple(column.key for column in table(model).columns)


@functools.cache
def _manager(model: type[SQLModel]) -> ClassManager[Any]:
    configure_mappers()  # instances need the mapper's attribute implementations
    return manager_of_class(model)


def detached(model: type[M], values: Mapping[Any, Any]) -> M:
    """An instance of `model` holding `values`, as if loaded by a query whose session has
    closed: created without `__init__` (as the ORM loads rows), no history, identity key set.

    `values` (a dict, or a row's `_mapping`) must hold every column; one left out would be
    expired, and reading it from a detached instance raises.
    """
    instance = cast(M, _manager(model).new_instance())
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance
