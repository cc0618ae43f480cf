"""Restricted execution of BPMN scripts and expressions (rule 6), with no SpiffWorkflow import.

Code is compiled with RestrictedPython's ``compile_restricted_*`` so attribute names starting
with an underscore, ``import`` of anything not whitelisted and ``open`` never reach the
interpreter; compiled code is cached by source text.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from functools import lru_cache
from types import CodeType
from types import ModuleType
from typing import Any

from RestrictedPython.compile import compile_restricted_eval
from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import guarded_iter_unpack_sequence
from RestrictedPython.Guards import guarded_unpack_sequence
from RestrictedPython.Guards import safe_builtins
from RestrictedPython.Guards import safer_getattr


class SandboxError(Exception):
    """Script or expression refused by the sandbox (at compile time or while running)."""


_EXTRA_BUILTINS: dict[str, Any] = {
    name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    for name in (
        "all",
        "any",
        "dict",
        "enumerate",
        "filter",
        "list",
        "map",
        "max",
        "min",
        "reversed",
        "set",
        "sum",
        "frozenset",
        "ValueError",
        "KeyError",
    )
}
_ALLOWED_MODULES: dict[str, ModuleType] = {"datetime": _dt, "json": json, "math": math, "re": re}


def _guarded_import(name: str, *args: Any, **kwargs: Any) -> ModuleType:
    if name in _ALLOWED_MODULES:
        return _ALLOWED_MODULES[name]
    raise SandboxError(f"import of '{name}' is not allowed in BPMN scripts")


def _write_guard(obj: Any) -> Any:
    # Plain data containers may be written (data['x'] = 1); anything else may not.
    if isinstance(obj, dict | list):
        return obj
    raise SandboxError(f"cannot write to {type(obj).__name__} objects in BPMN scripts")


def _inplace(op: str, x: Any, y: Any) -> Any:
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "*=": lambda a, b: a * b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
    }
    if op not in ops:
        raise SandboxError(f"operator {op} is not allowed in BPMN scripts")
    return ops[op](x, y)


def _builtins() -> dict[str, Any]:
    b = dict(safe_builtins)
    b.update(_EXTRA_BUILTINS)
    b["__import__"] = _guarded_import
    return b


BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _write_guard,
    "_inplacevar_": _inplace,
    "datetime": _dt,
    "json": json,
}


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> CodeType:
    """Compile an expression in restricted mode or raise SandboxError naming the problem."""
    result = compile_restricted_eval(source.strip(), "<expression>")
    if result.errors or result.code is None:
        raise SandboxError("; ".join(result.errors) or "does not compile")
    return result.code


@lru_cache(maxsize=1024)
def compile_script(source: str) -> CodeType:
    """Compile a script in restricted mode or raise SandboxError naming the problem."""
    result = compile_restricted_exec(source, "<script>")
    if result.errors or result.code is None:
        raise SandboxError("; ".join(result.errors) or "does not compile")
    return result.code


def evaluate(source: str, data: Mapping[str, Any], helpers: Mapping[str, Any]) -> Any:
    """Evaluate an expression against task data plus helper functions."""
    scope = {**BASE_GLOBALS, **helpers, **data}
    return eval(compile_expression(source), scope)  # noqa: S307 - restricted bytecode


def execute(source: str, data: dict[str, Any], helpers: Mapping[str, Any]) -> None:
    """Run a script; the names it binds (data only, no callables or modules) update ``data``."""
    scope: dict[str, Any] = {**BASE_GLOBALS, **helpers, **data}
    exec(compile_script(source), scope)  # noqa: S102 - restricted bytecode
    for key in list(data):
        if key not in scope:
            del data[key]
    for key, value in scope.items():
        if key.startswith("_") or key in BASE_GLOBALS or key in helpers:
            continue
        if callable(value) or isinstance(value, ModuleType):
            continue
        data[key] = value


def shadowed_helpers(data: Iterable[str], helpers: Mapping[str, Any]) -> set[str]:
    """Names in task data that would hide a helper function."""
    return {k for k in data if k in helpers or k in BASE_GLOBALS}
