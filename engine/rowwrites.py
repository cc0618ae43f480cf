"""A command's ticket and instance written by one Core statement each, not the ORM's flush.

The ORM's unit of work was the largest single cost of a command after the engine (issue 10's
profile: about 0.8 ms of a 4.7 ms intake for two INSERTs, 1 ms of a completion for two
UPDATEs). ``insert`` writes a new object with one INSERT and hands it to the session as if it
had been loaded; ``update`` writes the columns changed since the object was loaded with one
UPDATE (checking and moving a version counter where the mapper has one) and marks them
unchanged. Either way the object stays in the session, so later changes are flushed as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from typing import cast

from sqlalchemy import Column
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import inspect
from sqlalchemy.orm import Mapper
from sqlalchemy.orm import Session
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import Insert
from sqlalchemy.sql import Update
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from engine.db import Base


def insert(session: Session, obj: Base) -> None:
    """INSERT a new object (not yet in the session) and add it to the session as persistent.

    Every column is written: a value the object does not hold is its column's scalar default
    or NULL, and the object is given it too, so reading it later needs no SELECT.
    """
    state = inspect(obj)
    mapper = state.mapper
    values: dict[str, Any] = {}
    for column in _columns(mapper):
        if column.attribute not in state.dict:
            state.dict[column.attribute] = column.default
        values[column.name] = state.dict[column.attribute]
    result = session.connection().execute(_insert_statement(mapper), values)
    (state.dict[_pk(mapper).attribute],) = result.inserted_primary_key or (None,)
    make_transient_to_detached(obj)  # its values now count as loaded, none as changed
    session.add(obj)


def update(session: Session, obj: Base) -> None:
    """UPDATE the changed columns of a persistent object; StaleDataError if its version moved.

    Nothing is written when no column changed.
    """
    state = inspect(obj)
    mapper = state.mapper
    loaded = state.committed_state  # the loaded value of each attribute set since
    changed = {
        c.attribute: state.dict[c.attribute]
        for c in _columns(mapper)
        if c.attribute in loaded
        and c.attribute in state.dict
        and loaded[c.attribute] != state.dict[c.attribute]
    }
    if not changed:
        return
    params: dict[str, Any] = {"w_id": state.dict[_pk(mapper).attribute]}
    version = _version(mapper)
    if version is not None:
        current = cast(int, loaded.get(version.attribute, state.dict[version.attribute]))
        changed[version.attribute] = state.dict[version.attribute] = current + 1
        params["w_version"] = current
    params.update({f"v_{key}": value for key, value in changed.items()})
    result = session.connection().execute(_update_statement(mapper, frozenset(changed)), params)
    if result.rowcount != 1:
        raise StaleDataError(
            f"UPDATE of {mapper.class_.__name__} {params['w_id']} matched {result.rowcount} rows"
        )
    if loaded.keys() <= _attributes(mapper):
        # Only columns were set (all now written, or set to what they held): the object is
        # clean again, as after a flush, so the next flush does not look at it.
        state._commit_all(state.dict, session.identity_map)
    else:
        for key, value in changed.items():
            set_committed_value(obj, key, value)


@dataclass(frozen=True)
class _Column:
    attribute: str  # the mapped attribute's name
    name: str  # the table column's key
    default: Any  # the column's scalar default, or None


@lru_cache(maxsize=32)
def _columns(mapper: Mapper[Any]) -> tuple[_Column, ...]:
    """The mapper's plain columns, the primary key left out."""
    return tuple(
        _Column(prop.key, column.key, _scalar_default(column))
        for prop in mapper.column_attrs
        for column in prop.columns[:1]
        if len(prop.columns) == 1 and isinstance(column, Column) and not column.primary_key
    )


def _scalar_default(column: Column[Any]) -> Any:
    default = column.default
    return default.arg if isinstance(default, ScalarElementColumnDefault) else None


@lru_cache(maxsize=32)
def _attributes(mapper: Mapper[Any]) -> frozenset[str]:
    return frozenset(c.attribute for c in _columns(mapper))


@lru_cache(maxsize=32)
def _pk(mapper: Mapper[Any]) -> _Column:
    (column,) = mapper.primary_key
    return _key_column(mapper, column)


@lru_cache(maxsize=32)
def _version(mapper: Mapper[Any]) -> _Column | None:
    column = mapper.version_id_col
    return None if column is None else _key_column(mapper, column)


def _key_column(mapper: Mapper[Any], column: Any) -> _Column:
    """The primary key or version column (never written from the object's own value)."""
    return _Column(mapper.get_property_by_column(column).key, str(column.key), None)


def _table(mapper: Mapper[Any]) -> Table:
    table = mapper.local_table
    assert isinstance(table, Table)
    return table


@lru_cache(maxsize=32)
def _insert_statement(mapper: Mapper[Any]) -> Insert:
    return _table(mapper).insert()  # built once: its cache key is then computed once


@lru_cache(maxsize=256)
def _update_statement(mapper: Mapper[Any], attributes: frozenset[str]) -> Update:
    """One statement per set of changed attributes (a command changes one of a few sets)."""
    table = _table(mapper)
    where = table.c[_pk(mapper).name] == bindparam("w_id")
    version = _version(mapper)
    if version is not None:
        where = where & (table.c[version.name] == bindparam("w_version"))
    names = {c.attribute: c.name for c in _columns(mapper)}
    return table.update().where(where).values({names[a]: bindparam(f"v_{a}") for a in attributes})
