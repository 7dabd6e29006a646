"""Argument types the command line shares: each refuses a bad value with argparse's own error."""
from __future__ import annotations

import argparse


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free one): argparse prints the message and exits 2, no traceback."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: ports are 0 to 65535 (0 picks a free one)")
    return port


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def transform_instance_type(text: str) -> str:
    """An instance type a batch transform job runs the scikit-learn image on (botocore's TransformInstanceType, x86 CPU)."""
    from bundle.params.instance_types import problem

    found = problem(text, "transform")
    if found:
        raise argparse.ArgumentTypeError(found)
    return text
