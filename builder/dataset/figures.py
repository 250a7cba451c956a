"""Figures of a built dataset for its card: one example window and windows per source."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biohuman10m.frames import decode_jpeg, decode_mp4
from biohuman10m.vocabulary import MUSCLE_NAMES
from builder.biosim.validity_report import validity_histograms
from builder.io import atomic_path

from .shards import iter_tar, npy_array


def _save(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def _frames(members: dict[str, bytes]) -> np.ndarray:
    if "frames.mp4" in members:
        return decode_mp4(members["frames.mp4"])
    return np.stack([decode_jpeg(data) for name, data in sorted(members.items()) if name.endswith(".jpg")])


def example_window_figure(path: Path, members: dict[str, bytes], key: str) -> None:
    """Four frames of a window above its activation heat map (time x muscle)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    frames = _frames(members)
    activations = npy_array(members["activations.npy"])[: len(frames)]
    figure = plt.figure(figsize=(10, 6))
    shown = np.linspace(0, len(frames) - 1, min(4, len(frames))).round().astype(int)
    for column, index in enumerate(shown):
        axis = figure.add_subplot(2, 4, column + 1)
        axis.imshow(frames[index])
        box, visible = npy_array(members["boxes.npy"])[index], npy_array(members["box_visible.npy"])[index]
        if visible and "crop_affine.npy" not in members:   # boxes are in image pixels: draw them on full frames
            axis.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, color="yellow"))
        axis.set_title(f"frame {index}", fontsize=9)
        axis.axis("off")
    axis = figure.add_subplot(2, 1, 2)
    image = axis.imshow(activations.T, aspect="auto", vmin=0, vmax=1, cmap="magma", interpolation="nearest")
    axis.set_xlabel("frame in window")
    axis.set_ylabel(f"muscle channel (0 = {MUSCLE_NAMES[0]})")
    figure.colorbar(image, ax=axis, label="activation")
    figure.suptitle(key, fontsize=10)
    _save(figure, path)


def windows_per_source_figure(path: Path, manifest: dict) -> None:
    """Bar chart of windows per source, one bar per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = [s for s in manifest["counts"]["splits"] if s != "all"]
    sources = sorted({src for s in splits for src in manifest["counts"]["splits"][s]})
    figure, axis = plt.subplots(figsize=(6, 3))
    width = 0.8 / max(len(splits), 1)
    for i, split in enumerate(splits):
        counts = [manifest["counts"]["splits"][split].get(src, {}).get("windows", 0) for src in sources]
        axis.bar(np.arange(len(sources)) + i * width, counts, width, label=split)
    axis.set_xticks(np.arange(len(sources)) + width * (len(splits) - 1) / 2, sources)
    axis.set_ylabel("windows")
    axis.legend()
    figure.tight_layout()
    _save(figure, path)


def write_figures(root: Path, directory: str, manifest: dict) -> list[tuple[str, str]]:
    """Write the card's figures under ``root/directory``; return (relative path, caption) pairs."""
    figures = []
    shards = [entry["path"] for entry in manifest["files"] if entry.get("format") == "webdataset"]
    if shards:
        key, members = next(iter_tar(Path(root) / min(shards, key=lambda p: ("test" not in p, p))))
        example = f"{directory}/example_window.png"
        example_window_figure(Path(root) / example, members, key)
        figures.append((example, f"Example window {key}: frames and the 112 muscle activations"))
    counts = f"{directory}/windows_per_source.png"
    windows_per_source_figure(Path(root) / counts, manifest)
    figures.append((counts, "Windows per source dataset and split"))
    if manifest["counts"].get("validity", {}).get("sequences"):
        validity = f"{directory}/biosim_validity.png"
        validity_histograms(Path(root) / validity, manifest["counts"]["validity"])
        figures.append((validity, "BioSim validity of every audited sequence (see Filtering)"))
    return figures
