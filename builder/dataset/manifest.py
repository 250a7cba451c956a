"""``manifest.json`` of a built dataset: every data file with size and sha256, counts per split
and source, and the build settings; :func:`verify` re-checks the files against it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from biohuman10m.errors import InputError, MissingInputError
from biohuman10m.layout import MANIFEST
from builder.io import write_text_atomic

FORMAT_VERSION = 1


class ShardChecksumError(InputError):
    """Data files of a dataset folder are missing, or their size or sha256 differs from the manifest."""


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_entry(root: Path, path: Path, **fields) -> dict:
    """Manifest row of one file (path relative to ``root``)."""
    path = Path(path)
    return {"path": path.relative_to(root).as_posix(), "bytes": path.stat().st_size,
            "sha256": sha256_of(path), **fields}


def write_manifest(root: Path, files: list[dict], counts: dict, settings: dict) -> dict:
    """Write ``root/manifest.json`` (no time stamps: identical inputs give identical bytes)."""
    manifest = {"format_version": FORMAT_VERSION, "settings": settings, "counts": counts,
                "files": sorted(files, key=lambda entry: entry["path"])}
    write_text_atomic(Path(root) / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def read_manifest(root: Path) -> dict:
    path = Path(root) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MissingInputError(path, f"missing; is {root} a built BioHuman10M dataset?") from None
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON ({error})") from None


def verify(root: Path) -> dict:
    """Check every file listed in the manifest; raise :class:`ShardChecksumError` naming the bad ones."""
    root = Path(root)
    manifest = read_manifest(root)
    problems = []
    for entry in manifest["files"]:
        path = root / entry["path"]
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != entry["bytes"]:
            problems.append(f"{path}: size {path.stat().st_size} bytes, manifest says {entry['bytes']}")
        elif (digest := sha256_of(path)) != entry["sha256"]:
            problems.append(f"{path}: sha256 {digest} does not match the manifest's {entry['sha256']} (corrupted)")
    if problems:
        raise ShardChecksumError(root, f"{len(problems)} of {len(manifest['files'])} dataset files failed "
                                 "verification:\n" + "\n".join(problems))
    return manifest


def split_windows(manifest: dict, split: str, shard_format: str = "webdataset") -> int:
    """Windows the manifest lists for ``split`` in the shards of ``shard_format``."""
    return sum(entry.get("windows", 0) for entry in manifest["files"]
               if entry.get("split") == split and entry.get("format") == shard_format)


def content_key(manifest: dict) -> str:
    """A key that changes whenever any listed file's content (sha256) or the build settings change."""
    return hashlib.sha256(json.dumps([manifest["settings"], manifest["files"]], sort_keys=True).encode()).hexdigest()[:16]
