"""Checking training-config values against the types their code declares.

A config section is validated against a signature: the fields of a dataclass (the top level of a
training config) or the keyword parameters of a class's ``__init__`` and its parents' (``model_config``
against the model's config class, ``processor`` against the video processor). An unknown key is an error
naming it and the closest valid key; a value is coerced to the declared type with pydantic's lax rules
(so YAML 1.1 strings such as ``"1e-3"`` become floats) or refused naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import typing
from collections.abc import Mapping
from typing import Any

from biohuman10m.errors import InputError


def dataclass_types(cls: type) -> dict[str, Any]:
    """``{field: type}`` of a dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def keyword_types(cls: type, stop: type) -> dict[str, Any]:
    """``{parameter: type}`` of the named ``__init__`` parameters of ``cls`` and of its parents up to (not
    including) ``stop``; parameters without a type hint are ``Any``."""
    types: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[: cls.__mro__.index(stop)]):
        if "__init__" not in vars(klass):
            continue
        hints = typing.get_type_hints(klass.__init__)
        for name, parameter in inspect.signature(klass.__init__).parameters.items():
            if name != "self" and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                types[name] = hints.get(name, Any)
    return types


def validated(values: Mapping[str, Any], types: dict[str, Any], section: str,
              error: type[InputError] = InputError, source: str | os.PathLike | None = None) -> dict[str, Any]:
    """``values`` with each value coerced to its key's type in ``types``.

    Raises ``error(source, ...)`` naming ``section.key`` for an unknown key (with the closest known one)
    or a value that does not fit its type.
    """
    from pydantic import TypeAdapter, ValidationError

    prefix = f"{section}." if section else ""
    if not isinstance(values, Mapping):
        raise error(source, f"{section or 'the config'} must be a mapping of settings, got {type(values).__name__}")
    checked = {}
    for key, value in values.items():
        if key not in types:
            close = difflib.get_close_matches(str(key), types, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(sorted(types))}"
            raise error(source, f"unknown key '{prefix}{key}'; {hint}")
        try:
            checked[key] = TypeAdapter(types[key]).validate_python(value)
        except ValidationError as problem:
            reason = problem.errors()[0]["msg"]
            raise error(source, f"{prefix}{key} = {value!r}: {reason} (expected {_type_name(types[key])})") from None
    return checked


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
