"""The Lambda's deployment package: the same bytes for the same sources (fixed timestamps, modes and order)."""
from __future__ import annotations

import base64
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bundle.files import write_atomically
from bundle.paths import BUILD_DIR, REPO_ROOT

# The handler, what it imports from the bundle, and their packages' __init__ files (docstrings only).
SOURCES = (
    "bundle/__init__.py",
    "bundle/api/__init__.py",
    "bundle/api/contract.py",
    "bundle/api/lambda_handler.py",
    "bundle/ops/__init__.py",
    "bundle/ops/client.py",
)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say


@dataclass(frozen=True)
class LambdaPackage:
    path: Path
    sha256: str  # hex
    source_code_hash: str  # base64 of the sha256: what Lambda reports as CodeSha256

def package_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(SOURCES):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (REPO_ROOT / name).read_bytes())
    return buffer.getvalue()


def build_package(out_dir: Path = BUILD_DIR / "lambda") -> LambdaPackage:
    data = package_bytes()
    digest = hashlib.sha256(data)
    path = out_dir / f"api-{digest.hexdigest()[:16]}.zip"
    if not path.exists() or path.read_bytes() != data:
        write_atomically(path, data)
    return LambdaPackage(path, digest.hexdigest(), base64.b64encode(digest.digest()).decode())
