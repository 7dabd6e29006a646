"""Files that several processes may write at once (the artifact cache, build outputs): written whole or not at all."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name and rename: a crash never leaves a half-written file, and a reader sees the old
    bytes or the new ones. Each writer has its own temporary name, so processes writing the same file at once (the
    parallel test workers) never rename each other's file away; the last rename wins."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        os.fchmod(descriptor, 0o644)  # as an ordinary write would leave it (mkstemp makes 0600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
