"""In-process calls of the shipped hooks, without the worker: for unit tests of the handler code and for profiling,
never as proof of what the image does."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from bundle.artifact.tarball import unpack_artifact
from bundle.local.reply import Reply


@dataclass(frozen=True)
class LoadedModel:
    handlers: ModuleType
    model: object
    directory: Path


def load_artifact(artifact: Path, into: Path) -> LoadedModel:
    """Unpack the artifact and import its code/inference.py in this process; call model_fn once."""
    unpack_artifact(artifact, into)
    source = into / "code" / "inference.py"
    name = f"bundle_served_inference_{abs(hash(str(into)))}"  # one module per unpacked artifact
    spec = importlib.util.spec_from_file_location(name, source)
    handlers = importlib.util.module_from_spec(spec)
    sys.modules[name] = handlers  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(handlers)
    return LoadedModel(handlers=handlers, model=handlers.model_fn(str(into)), directory=into)


def invoke(loaded: LoadedModel, body: bytes, content_type: str | None, accept: str | None) -> Reply:
    """One call through the shipped transform_fn in this process (no worker, no Flask)."""
    result = loaded.handlers.transform_fn(loaded.model, body, content_type, accept)
    if isinstance(result, tuple):  # (body, mimetype), which the worker also accepts
        data, mimetype = result
        return Reply(200, data.encode() if isinstance(data, str) else data, mimetype)
    return Reply(result.status_code, result.get_data(), result.mimetype)
