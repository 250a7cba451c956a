"""Where a build keeps its files: a local folder by default, or any fsspec URL (``s3://bucket/run``,
``gs://...``, ``file:///shared/mount``).

OpenSim, PyAV and the shard writers need local files, so work on a remote store follows one rule:
:meth:`Store.staged` copies the files a step reads into a local scratch folder, the step runs there,
and :meth:`Store.commit` uploads what it wrote, each file to a temporary key renamed into place, the
file that marks the step done (``ik_report.json``, ``record.json``, ``video.mp4``) last. A step killed
half-way thus leaves at most unmarked files or temporary keys, never a marker over missing files.
On a local folder the step runs in place (every writer there is atomic already).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from builder.io import write_bytes_atomic

TEMPORARY_MARK = ".tmp-"
"""Part of the name of a file being uploaded (``<name>.tmp-<uuid>``): never taken as done."""


def _filesystem(url: str):
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    return fs, path.rstrip("/")


@dataclass(frozen=True)
class Store:
    """A root folder on an fsspec filesystem; keys are ``/``-separated paths below it.

    ``url`` is a local path or an fsspec URL; ``storage_options`` go to the filesystem (e.g.
    ``{"endpoint_url": ..., "key": ..., "secret": ...}`` for an S3-compatible server). A Store is
    small and picklable, so tasks on other machines open the same root.
    """

    url: str
    storage_options: tuple[tuple[str, object], ...] = ()

    @classmethod
    def at(cls, location: str | os.PathLike | Store, **storage_options) -> Store:
        """The store at a local path or URL (a Store is returned as it is)."""
        if isinstance(location, Store):
            return location
        text = os.fspath(location)
        if "://" not in text:
            text = str(Path(text).resolve())
        return cls(text, tuple(sorted(storage_options.items())))

    @property
    def fs(self):
        import fsspec

        protocol = fsspec.core.split_protocol(self.url)[0] or "file"
        return fsspec.filesystem(protocol, **dict(self.storage_options))

    @property
    def root(self) -> str:
        return _filesystem(self.url)[1]

    @property
    def local_root(self) -> Path | None:
        """The root as a local folder when the store is on this machine's filesystem, else None."""
        protocol = self.fs.protocol
        return Path(self.root) if "file" in (protocol if isinstance(protocol, tuple) else (protocol,)) else None

    def path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def child(self, key: str) -> Store:
        """The store rooted at ``key`` below this one."""
        base = self.url.rstrip("/")
        return Store(f"{base}/{key}" if "://" in base else str(Path(base) / key), self.storage_options)

    def exists(self, key: str) -> bool:
        fs = self.fs
        fs.invalidate_cache(self.path(key).rsplit("/", 1)[0])   # other machines write here too
        return fs.exists(self.path(key))

    def read_bytes(self, key: str) -> bytes:
        return self.fs.cat_file(self.path(key))

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write one object atomically (temporary key, then rename)."""
        if self.local_root is not None:
            write_bytes_atomic(self.local_root / key, data)
            return
        with tempfile.NamedTemporaryFile(delete=False) as handle:
            handle.write(data)
        try:
            self.upload(Path(handle.name), key)
        finally:
            Path(handle.name).unlink(missing_ok=True)

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))

    def listdir(self, key: str = "") -> list[str]:
        """Names directly below ``key`` (files and folders), sorted; [] when absent."""
        fs = self.fs
        fs.invalidate_cache(self.path(key))   # other machines write here too: never trust a cached listing
        try:
            entries = fs.ls(self.path(key), detail=False)
        except FileNotFoundError:
            return []
        return sorted({entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries} - {""})

    def glob(self, pattern: str) -> list[str]:
        """Keys matching ``pattern`` (relative to the root), sorted."""
        root, fs = self.root + "/", self.fs
        fs.invalidate_cache()   # listings of every folder below may have changed
        return sorted(path[len(root):] for path in fs.glob(root + pattern) if path.startswith(root))

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.path(key))

    def info(self, key: str) -> dict:
        return self.fs.info(self.path(key))

    def upload(self, local: Path, key: str) -> None:
        """Copy a local file to ``key``: to a temporary key first, renamed into place."""
        target = self.path(key)
        if self.local_root is not None and Path(local).resolve() == Path(target).resolve():
            return
        parent = target.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        temporary = f"{target}{TEMPORARY_MARK}{uuid.uuid4().hex}"
        try:
            self.fs.put_file(str(local), temporary)
            self.fs.mv(temporary, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(temporary)

    def download(self, key: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(self.path(key), str(local))

    def commit(self, local_dir: Path, prefix: str, names: Iterable[str], marker: str | None = None) -> None:
        """Upload ``names`` from ``local_dir`` to ``prefix/``, ``marker`` (when given and present) last.

        On a local store whose folder is ``local_dir`` itself nothing moves.
        """
        for name in [*names, *([marker] if marker else [])]:
            if (local_dir / name).is_file():
                self.upload(local_dir / name, f"{prefix}/{name}" if prefix else name)

    @contextlib.contextmanager
    def staged(self, prefix: str, names: Iterable[str], scratch: Path | None = None) -> Iterator[Path]:
        """A local folder holding the files ``names`` of ``prefix/`` (those that exist).

        A local store yields its own folder (nothing copied); a remote one downloads into a
        fresh folder under ``scratch`` (default: the system's temporary folder), removed afterwards.
        """
        if self.local_root is not None:
            folder = self.local_root / prefix
            folder.mkdir(parents=True, exist_ok=True)
            yield folder
            return
        base = Path(scratch or tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="stage.", dir=base))
        folder = staging / prefix   # the same relative path as in the store: stages find their siblings
        folder.mkdir(parents=True, exist_ok=True)
        try:
            present = set(self.listdir(prefix))
            for name in names:
                if name in present:
                    self.download(f"{prefix}/{name}", folder / name)
            yield folder
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def remove_temporary(self, prefix: str = "") -> int:
        """Delete upload leftovers (``*.tmp-*``) below ``prefix``; how many."""
        leftovers = [key for key in self.glob(f"{prefix}/**" if prefix else "**") if TEMPORARY_MARK in key]
        for key in leftovers:
            self.remove(key)
        return len(leftovers)
