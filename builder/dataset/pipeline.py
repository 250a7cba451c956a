"""One command from motions to the dataset: BioSim kinematics and dynamics, video, windows, shards, card.

Each stage is the project's own ``biohuman`` sub-command, run in this process, and each is
resumable (a finished sequence is skipped), so re-running after an interruption continues where
it stopped. Without motion inputs the embedded default motions are used: the DeepMimic clips of
the ``pybullet`` wheel performed by several Anny subjects (``builder.sources.embedded``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from builder import layout
from .build import BuildConfig, build_dataset
from .sequence_files import read_record

logger = logging.getLogger(__name__)


def embedded_default_motions(folder: Path, fps: float = 30.0) -> list[Path]:
    """Write the embedded default motions (DeepMimic clips x Anny subjects) into ``folder``; their files."""
    from builder.sources.embedded import write_embedded_default

    return write_embedded_default(folder, fps=fps)


def _stage(argv: list[str]) -> None:
    from builder.cli import run

    started = time.perf_counter()
    code = run(argv)   # a BioHumanError stops the pipeline; per-sequence failures only count
    logger.info("biohuman %s: exit %d in %.0f s", argv[0], code, time.perf_counter() - started)
    if code:   # failures are per sequence, recorded in record.json, and counted in the card
        logger.warning("biohuman %s reported failed sequences; continuing with the others", argv[0])


def run_pipeline(motions: list[Path] | None, work: Path, out: Path, config: BuildConfig | None = None,
                 fps: float | None = 30.0, biosim_workers: int = 1) -> dict:
    """Motion files or folders (default: the embedded motions) -> ``work/sequences/`` -> dataset ``out``."""
    config = config or BuildConfig()
    inputs = [str(path) for path in (motions or embedded_default_motions(Path(work) / "motions", fps or 30.0))]
    _stage(["kinematics", *inputs, "-o", str(work), "--workers", str(biosim_workers)]
           + (["--fps", str(fps)] if fps else []))
    _stage(["dynamics", str(work), "--workers", str(biosim_workers)])
    folders = sorted(p for p in (Path(work) / "sequences").iterdir() if (p / layout.RECORD).is_file())
    to_render = [str(p) for p in folders if read_record(p)["kept"] or config.keep_dropped]
    if not to_render:
        raise RuntimeError(f"{work}: BioSim kept no sequence; see the record.json files for why")
    _stage(["render", *to_render])
    return build_dataset(work, out, config)
