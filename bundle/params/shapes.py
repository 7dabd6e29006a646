"""botocore's service models, and a request checked against its operation's input shape.

botocore's ParamValidator checks types, required members and minimums only; `check_request` also reads `max`,
`pattern` and `enum` from the shapes, and reports each violation under the params field its value comes from
(`From(value, field)`). Patterns are Java-style (`\\p{L}`), matched whole with the `regex` module.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import botocore.session
import math

import regex

@dataclass(frozen=True)
class From:
    """A request value and the params field it comes from."""

    value: Any
    field: str


@dataclass(frozen=True)
class Request:
    service: str  # botocore's service name
    operation: str
    params: dict

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass(frozen=True)
class Violation:
    field: str  # the params field ("(derived)" when no param feeds the value)
    operation: str  # service:Operation
    member: str  # where in the request, e.g. Tags[0].Value
    rule: str

    @property
    def message(self) -> str:
        return f"AWS would refuse {self.operation}: {self.member} {self.rule}"


@functools.lru_cache(maxsize=None)
def botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def service_model(service: str):
    return botocore_session().get_service_model(service)


_SURROGATE_PAIR = regex.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", regex.IGNORECASE)


def _code_point(match) -> str:
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    return "\\U%08X" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


@functools.lru_cache(maxsize=None)
def java_pattern(pattern: str):
    """AWS's patterns are Java's: a character beyond the BMP is written as a UTF-16 surrogate pair (\\uD800\\uDC00),
    which Python spells as one code point (\\U00010000)."""
    return regex.compile(_SURROGATE_PAIR.sub(_code_point, pattern))


def check_request(request: Request) -> list[Violation]:
    shape = service_model(request.service).operation_model(request.operation).input_shape
    found: list[Violation] = []
    _check(shape, request.params, "(derived)", "", request.name, found)
    return found


def _check(shape, value: Any, field: str, where: str, operation: str, found: list[Violation]) -> None:
    if isinstance(value, From):
        field, value = value.field, value.value
    meta = shape.metadata

    def bad(rule: str) -> None:
        found.append(Violation(field, operation, where or "(request)", rule))

    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return bad(f"must be an object, got {type(value).__name__}")
        for name in shape.required_members:
            if name not in value:
                bad(f"misses the required member {name}")
        for name, member in value.items():
            if name not in shape.members:
                bad(f"has no member {name} in botocore's model")
                continue
            _check(shape.members[name], member, field, f"{where}.{name}" if where else name, operation, found)
    elif kind == "list":
        if not isinstance(value, list):
            return bad(f"must be a list, got {type(value).__name__}")
        _bounds(len(value), meta, "items", bad)
        for index, item in enumerate(value):
            _check(shape.member, item, field, f"{where}[{index}]", operation, found)
    elif kind == "map":
        if not isinstance(value, dict):
            return bad(f"must be a map, got {type(value).__name__}")
        _bounds(len(value), meta, "entries", bad)
        for key, item in value.items():
            _check(shape.key, key, field, f"{where} key {key!r}", operation, found)
            _check(shape.value, item, field, f"{where}[{key!r}]", operation, found)
    elif kind == "string":
        if not isinstance(value, str):
            return bad(f"must be a string, got {type(value).__name__}")
        _bounds(len(value), meta, "characters", bad)
        if "pattern" in meta and java_pattern(meta["pattern"]).fullmatch(value) is None:
            bad(f"{value!r} does not match AWS's pattern {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            bad(f"{value!r} is not one of AWS's values {shape.enum}")
    elif kind in ("integer", "long", "double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad(f"must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            return bad(f"must be a finite number, got {value}")
        if kind in ("integer", "long") and not float(value).is_integer():
            return bad(f"must be an integer, got {value}")
        if "min" in meta and value < meta["min"]:
            bad(f"{value:g} is below AWS's minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            bad(f"{value:g} is above AWS's maximum {meta['max']}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            bad(f"must be a boolean, got {type(value).__name__}")


def _bounds(size: int, meta: dict, unit: str, bad) -> None:
    if "min" in meta and size < meta["min"]:
        bad(f"has {size} {unit}, AWS's minimum is {meta['min']}")
    if "max" in meta and size > meta["max"]:
        bad(f"has {size} {unit}, AWS's maximum is {meta['max']}")
