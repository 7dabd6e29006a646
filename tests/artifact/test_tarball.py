"""Unpacking model.tar.gz refuses any member that would land outside the target or is a link, on every Python."""
from __future__ import annotations

import io
import tarfile

import pytest

from bundle.artifact.tarball import unpack_artifact
from bundle.errors import BundleError


def archive(tmp_path, *members: tarfile.TarInfo, data: bytes = b"x") -> str:
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        code = tarfile.TarInfo("code/inference.py")
        code.size = len(data)
        tar.addfile(code, io.BytesIO(data))
        for member in members:
            tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def regular(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


def link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    "member, words",
    [
        (regular("../escaped.txt"), "would land outside"),
        (regular("/etc/bundle-test"), "would land outside"),
        (regular("code/../../escaped.txt"), "would land outside"),
        (link("model.joblib", "/etc/passwd"), "link"),
        (link("code/helper.py", "../../x", tarfile.LNKTYPE), "link"),
    ],
    ids=["dot-dot", "absolute", "nested-dot-dot", "symlink", "hardlink"],
)
def test_unpacking_refuses_members_that_escape_or_link(tmp_path, member, words):
    target = tmp_path / "unpacked"
    with pytest.raises(BundleError, match=words):
        unpack_artifact(archive(tmp_path, member), target)
    assert not (tmp_path / "escaped.txt").exists()
    assert not target.exists() or not any(target.rglob("*")), "nothing is written when one member is refused"


def test_a_plain_archive_unpacks(tmp_path):
    target = tmp_path / "unpacked"
    unpack_artifact(archive(tmp_path, regular("model.joblib")), target)
    assert (target / "code" / "inference.py").read_bytes() == b"x"
