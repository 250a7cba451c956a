"""``manifest.json`` of a built dataset: every data file with size and sha256, counts per split
and source, and the build settings; :func:`verify` re-checks the files against it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from biohuman10m.errors import InputError, MissingInputError
from biohuman10m.layout import MANIFEST, PARQUET_DIR, WEBDATASET_DIR
from builder.io import sha256_of, write_text_atomic

FORMAT_VERSION = 1


class ShardChecksumError(InputError):
    """Data files of a dataset folder are missing, or their size or sha256 differs from the manifest."""


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


SHARD_FOLDERS: dict[str, tuple[str, str]] = {
    "webdataset": (WEBDATASET_DIR, "*.tar"),
    "parquet": (PARQUET_DIR, "*.parquet"),
}
"""Shard format -> (folder in the dataset, file pattern): the files a reader of that format opens."""


def check_files(root: Path, formats: tuple[str, ...] = tuple(SHARD_FOLDERS), checksums: bool = True) -> dict:
    """The manifest of dataset folder ``root`` after checking its files; raises :class:`ShardChecksumError`.

    Checked: every listed file of ``formats`` (plus the files of no shard format, e.g. ``splits.json``,
    when all formats are asked for) exists with the manifest's size and, with ``checksums``, its
    sha256; and no shard of ``formats`` lies in the shard folders without being listed (a reader
    would load it). The error lists every problem, one ``<file>: <problem>`` line each.
    """
    root = Path(root)
    manifest = read_manifest(root)
    every = set(formats) == set(SHARD_FOLDERS)
    entries = [e for e in manifest["files"]
               if e.get("format") in formats or (every and e.get("format") not in SHARD_FOLDERS)]
    problems = []
    for entry in entries:
        path = root / entry["path"]
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != entry["bytes"]:
            problems.append(f"{path}: size {path.stat().st_size} bytes, manifest says {entry['bytes']} (truncated or "
                            "replaced)")
        elif checksums and (digest := sha256_of(path)) != entry["sha256"]:
            problems.append(f"{path}: sha256 {digest} does not match the manifest's {entry['sha256']} (corrupted)")
    listed = {entry["path"] for entry in manifest["files"]}
    strays = [path for name in formats for path in sorted((root / SHARD_FOLDERS[name][0]).glob(SHARD_FOLDERS[name][1]))
              if path.relative_to(root).as_posix() not in listed]
    if problems or strays:
        summary = f"{len(problems)} of {len(entries)} dataset files failed verification"
        summary += f", {len(strays)} shard(s) are not in {MANIFEST}" if strays else ""
        lines = problems + [f"{path}: not listed in {MANIFEST} (a stray shard: remove it or rebuild the dataset)"
                            for path in strays]
        raise ShardChecksumError(root, f"{summary}:\n" + "\n".join(lines))
    return manifest


def verify(root: Path) -> dict:
    """Check every file listed in the manifest (size and sha256) and that no unlisted shard lies beside them;
    raise :class:`ShardChecksumError` naming the bad ones."""
    return check_files(root, checksums=True)


def split_windows(manifest: dict, split: str, shard_format: str = "webdataset") -> int:
    """Windows the manifest lists for ``split`` in the shards of ``shard_format``."""
    return sum(entry.get("windows", 0) for entry in manifest["files"]
               if entry.get("split") == split and entry.get("format") == shard_format)


def content_key(manifest: dict) -> str:
    """A key that changes whenever any listed file's content (sha256) or the build settings change."""
    listing = json.dumps([manifest["settings"], manifest["files"]], sort_keys=True)
    return hashlib.sha256(listing.encode()).hexdigest()[:16]
