"""Typed config sections from plain dicts (TOML files, `--set` values, stored run configs).

Standard library only, at the bottom of the package, so that any layer (the sampling API reading
an export's model config, the text kind reading a run's data config) can check a section without
importing the run's whole configuration. Every key and type is checked; a mistake names the key,
the value given and the choices.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from typing import Any, Literal

MAX_INT = 2**63  # what torch's seeds and counters hold


def _parse_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{origin}: not valid TOML ({err})") from None
    except RecursionError:
        raise ValueError(f"{origin}: nested too deeply to be a knowgen config") from None


def section_from_dict(cls: type, values: dict[str, Any], section: str) -> Any:
    """Build dataclass `cls` from `values`, checking every key and coercing every type."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ValueError(f"unknown config key {section}.{key}; valid keys: {', '.join(names)}")
        kwargs[key] = _coerce(value, hints[key], f"{section}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as err:  # pragma: no cover - every field has a default
        raise ValueError(f"config section [{section}]: {err}") from None


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        is_none = value is None or (isinstance(value, str) and value.lower() == "none")
        if is_none and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{key} must be one of {list(args)}, got {value!r}")
        return value
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{key} must be a list, got {value!r}")
        return tuple(_coerce(v, args[0], key) for v in value)
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ValueError(f"{key} must be a list of {len(args)} numbers, got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{key} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= MAX_INT:
                raise ValueError(f"{key} must lie within +-2^63, got {value}")
            return value
        raise ValueError(f"{key} must be an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):  # NaN passes every `x <= 0` check: refuse it here
                raise ValueError(f"{key} must be a finite number, got {value!r}")
            return float(value)
        raise ValueError(f"{key} must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{key} must be a string, got {value!r}")
    raise AssertionError(f"unsupported config type {hint} for {key}")  # internal invariant


def dumps_toml(data: dict[str, Any]) -> str:
    """Write a two-level dict (scalars, then tables of scalars/lists) as TOML text."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{name}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def escaped_controls(text: str) -> str:
    """`text` with its control characters written as TOML escapes (`\\u000a`): a TOML basic
    string may hold none raw but tab, while a value typed in a shell or a folder name can."""
    return "".join(
        f"\\u{ord(c):04x}" if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F else c for c in text
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped_controls(escaped)}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise AssertionError(f"cannot write {value!r} as TOML")
