"""Atomic file writes, checksums and the `meta.json` each stage leaves beside its outputs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

from .errors import StaleInputError

META = "meta.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; it replaces `path` only if the block finishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes owner-only files; outputs should look like any other
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary directory beside `path`; it becomes `path` (replacing it) only if the block finishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj, indent: int | None = 1) -> None:
    write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def sha256(path) -> str:
    """Checksum of a file, or of every file below a directory (names included)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def checkpoint_checksum(path) -> str:
    """Identifies a model directory: its meta.json, written after the weights, or else all of its files."""
    path = Path(path)
    return sha256(path / META if (path / META).is_file() else path)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("token-assorted", "torch", "transformers", "vector-quantize-pytorch", "lightning"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def write_meta(directory, *, config: dict, seed: int, inputs: dict[str, str] | None = None, **extra) -> dict:
    """Record how a stage's outputs were made. `inputs` maps a name to the checksum it was made from."""
    meta = {"config": config, "seed": seed, "versions": versions(), "inputs": inputs or {}, **extra}
    write_json(Path(directory) / META, meta)
    return meta


def read_meta(directory) -> dict:
    path = Path(directory) / META
    if not path.exists():
        raise StaleInputError(f"{path} is missing: run the stage that makes {directory} first")
    return json.loads(path.read_text(encoding="utf-8"))


def check_input(meta: dict, name: str, checksum: str, *, where, fix: str, remedy=None) -> None:
    """Refuse to use outputs made from another version of input `name`; `fix` says what to do (with `{command}`
    for the `remedy`'s command, errors.Remedy)."""
    recorded = meta.get("inputs", {}).get(name)
    if recorded != checksum:
        raise StaleInputError(f"{where} was made from another {name} than the one here now; {fix}", remedy)
