"""Schema tables of the JSON the project writes, and where a value departs from one.

A type is a scalar name ("string", "int64", "bool", "number": an int or a float,
"object": any JSON object), a `ListOf` items, a `OneOf` fixed strings, or a
`Struct` of fields.  The dataset record's table is `synth.schema.RECORD`; the
fuzzer's files have one each (`check.findings.FINDING`, `check.fuzz.results`).
`read_jsonl` reads a JSONL file of one table and refuses a damaged line
(`DamagedFile`: one line naming the file, the line and what is wrong).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ListOf:
    item: str | Struct


@dataclass(frozen=True)
class OneOf:
    """A string from a fixed set (a kind, a status)."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Struct:
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Field:
    name: str
    type: str | ListOf | OneOf | Struct
    doc: str
    nullable: bool = False  # present, and may be null
    optional: bool = False  # may be absent


#: Python type of each scalar (bool is checked first: it is an int to Python).
_PYTHON: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "int64": int,
    "bool": bool,
    "number": (int, float),
    "object": dict,
}


class DamagedFile(ValueError):
    """A file the project wrote departs from its table: one line says which file, which line, what."""


def errors(value: Any, struct: Struct, path: str = "") -> list[str]:
    """Where `value` departs from `struct`: missing or unexpected keys, wrong types, nulls."""
    if not isinstance(value, dict):
        return [f"{path or 'record'}: expected an object, got {type(value).__name__}"]
    found = []
    names = [f.name for f in struct.fields]
    unexpected = sorted(set(value) - set(names))
    if unexpected:
        found.append(f"{path or 'record'}: unexpected field(s) {', '.join(unexpected)}")
    for field in struct.fields:
        where = f"{path}.{field.name}" if path else field.name
        if field.name not in value:
            if not field.optional:
                found.append(f"{where}: missing")
        elif value[field.name] is None:
            if not field.nullable:
                found.append(f"{where}: null")
        else:
            found.extend(_type_errors(value[field.name], field.type, where))
    return found


def _type_errors(value: Any, t: str | ListOf | OneOf | Struct, where: str) -> list[str]:
    if isinstance(t, Struct):
        return errors(value, t, where)
    if isinstance(t, OneOf):
        return [] if value in t.values else [f"{where}: {value!r} is none of {', '.join(t.values)}"]
    if isinstance(t, ListOf):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        if (
            isinstance(t.item, str)
            and t.item != "bool"
            and all(type(item) is _PYTHON[t.item] for item in value)
        ):
            return []  # the common case, checked fast (one pass over every record)
        return [e for n, item in enumerate(value) for e in _type_errors(item, t.item, f"{where}[{n}]")]
    if not _is_scalar(value, t):
        return [f"{where}: expected {t}, got {type(value).__name__}"]
    return []


def _is_scalar(value: Any, t: str) -> bool:
    if t == "bool" or isinstance(value, bool):
        return t == "bool" and isinstance(value, bool)
    return isinstance(value, _PYTHON[t])


def checked(value: Any, struct: Struct, where: str) -> dict[str, Any]:
    """`value` if it is of `struct`, else `DamagedFile` naming `where` (a file, and a line of it)."""
    problems = errors(value, struct)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DamagedFile(f"{where}: {'; '.join(problems[:3])}{more}")
    return value


def parsed(line: bytes | str, struct: Struct, where: str) -> dict[str, Any]:
    """The object of `struct` on one JSON line, else `DamagedFile` naming `where`."""
    try:
        value = json.loads(line)
    except ValueError as e:
        raise DamagedFile(f"{where}: not JSON ({str(e).splitlines()[0]})") from None
    return checked(value, struct, where)


def read_jsonl(path: Path, struct: Struct) -> list[dict[str, Any]]:
    """Every line of `path`, each an object of `struct`; `DamagedFile` at the first that is not."""
    with open(path, "rb") as f:
        return [parsed(line, struct, f"{path} line {n}") for n, line in enumerate(f, 1)]
