"""What the local fronts answer: one reply type, and the JSON error body AWS's runtime API sends."""
from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: int, document: dict, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, json.dumps(document).encode(), "application/json", headers)


def aws_error(status: int, code: str, message: str) -> Reply:
    """An error as the runtime API sends it: `{"__type", "message"}` and x-amzn-ErrorType."""
    return json_reply(status, {"__type": code, "message": message}, (("x-amzn-ErrorType", code),))
