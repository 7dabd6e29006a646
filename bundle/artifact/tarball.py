"""model.tar.gz as bytes: written byte-identically from the same files, and unpacked as SageMaker does, safely."""
from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from bundle.errors import BundleError

# Fixed tar entry times (1980-01-01, as zip's epoch: tools warn about 0); gzip's own mtime is 0.
ENTRY_MTIME = 315532800


def deterministic_tarball(files: dict[str, bytes]) -> bytes:
    """Sorted entries, fixed mtimes, root owner, fixed modes, gzip mtime 0: same files, same bytes."""
    directories = sorted({name.rsplit("/", 1)[0] for name in files if "/" in name})
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for directory in directories:
                tar.addfile(_entry(directory + "/", tarfile.DIRTYPE, 0o755, 0))
            for name in sorted(files):
                data = files[name]
                tar.addfile(_entry(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return raw.getvalue()


def _entry(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, ENTRY_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def unpack_artifact(artifact: Path, into: Path, require_code: bool = True) -> None:
    """Extract model.tar.gz as SageMaker does into /opt/ml/model; refuse members that escape or link, on every Python.

    A multi-model endpoint's archive (`require_code=False`) has no code/: its handlers come from the sourcedir."""
    try:
        with tarfile.open(artifact, "r:gz") as tar:
            members = tar.getmembers()
            root = into.resolve()
            for member in members:
                target = (root / member.name).resolve()
                if not (member.isfile() or member.isdir()):
                    raise BundleError(f"cannot unpack artifact {artifact}: member {member.name!r} is a link or special file")
                if os.path.isabs(member.name) or (target != root and root not in target.parents):
                    raise BundleError(f"cannot unpack artifact {artifact}: member {member.name!r} would land outside {into}")
            into.mkdir(parents=True, exist_ok=True)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, members=members, filter="data")
            else:  # Python < 3.10.12 has no extraction filters; the checks above do the same job here
                tar.extractall(into, members=members)
    except (OSError, tarfile.TarError, EOFError) as e:
        raise BundleError(f"cannot unpack artifact {artifact}: {e}") from None
    if require_code and not (into / "code" / "inference.py").exists():
        raise BundleError(f"artifact {artifact} has no code/inference.py")
