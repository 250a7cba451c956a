"""Dataset cards (README.md with YAML front matter) of a built BioHuman10M folder.

The front matter declares the ``configs`` (one per stored format, one data-file pattern per split),
``dataset_info`` features, licence and task tags; the body is filled from the build's manifest:
statistics per source, filtering counts, BioSim settings, example figures and the muscle list.
One folder is served by one ``datasets`` builder, so the Parquet card sits at the dataset root and
the WebDataset card in its ``webdataset/`` folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import yaml

from .features import label_features, webdataset_features
from .vocabulary import MUSCLES

TEMPLATE = Path(__file__).with_name("card_template.md")
TAGS = ["biomechanics", "human-motion", "smpl", "muscle-activation", "opensim", "video", "3d-human-pose"]
TASKS = ["keypoint-detection", "video-classification", "other"]
SOURCE_TERMS = ("Labels are derived from the source motion datasets (MotionPRO, EMDB, 3DPW, Human3.6M, BEDLAM, "
                "or the embedded default motions), each under its own terms; using or redistributing windows of a "
                "source requires its licence. SMPL model files are not included.")


@dataclass
class CardInputs:
    """What the cards describe: the build's manifest and a few build facts."""

    name: str
    license: str
    manifest: dict
    figures: list[tuple[str, str]] = field(default_factory=list)   # (relative path, caption)
    biosim_settings: list[tuple[dict, int]] = field(default_factory=list)  # distinct settings, sequences
    webdataset_dir: str = "webdataset"
    parquet_dir: str = "data"


def _size_category(windows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if windows < limit:
            return name
    return "10M<n<100M"


def _split_counts(manifest: dict, file_format: str) -> dict[str, int]:
    """Windows per split stored in ``file_format``, train first."""
    counts: dict[str, int] = {}
    for entry in manifest["files"]:
        if entry.get("format") == file_format:
            counts[entry["split"]] = counts.get(entry["split"], 0) + entry["windows"]
    return dict(sorted(counts.items(), key=lambda item: (item[0] != "train", item[0])))


def front_matter(card: CardInputs, file_format: str) -> dict:
    """YAML header of the card serving ``file_format`` ("parquet" at the root, "webdataset" in its folder)."""
    window = card.manifest["settings"]["window"]
    crops = window["frames"] == "crop"
    counts = _split_counts(card.manifest, file_format)
    if file_format == "parquet":
        features = label_features(window["size"], crops)
        pattern = f"{card.parquet_dir}/{{split}}-*.parquet"
    else:
        features = webdataset_features(window["size"], window["image_format"], crops)
        pattern = "{split}-*.tar"
    return {
        "license": card.license,
        "pretty_name": card.name,
        "task_categories": TASKS,
        "tags": TAGS + (["webdataset"] if file_format == "webdataset" else ["parquet"]),
        "size_categories": [_size_category(sum(counts.values()))],
        "configs": [{"config_name": "default", "default": True,
                     "data_files": [{"split": split, "path": pattern.format(split=split)} for split in counts]}],
        # download_size (bytes of this format's files) also keys datasets' cache: a folder rebuilt in
        # place with different data is not served from an older build's cache.
        "dataset_info": {"config_name": "default", "features": features._to_yaml_list(),
                         "download_size": sum(entry["bytes"] for entry in card.manifest["files"]
                                              if entry.get("format") == file_format)},
    }


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def stats_table(manifest: dict) -> str:
    """Per source and split: sequences (and how many of them are extra rendered views of the others: same
    motion and labels, another camera and look), subjects, frames, frames with muscle labels, windows."""
    rows = []
    keys = ("sequences", "views", "subjects", "frames", "muscle_frames", "windows")
    for split, sources in manifest["counts"]["splits"].items():
        for source, c in sources.items():
            rows.append([source, split, *_stats_cells({key: c.get(key, 0) for key in keys})])
        total = {key: sum(c.get(key, 0) for c in sources.values()) for key in keys}
        rows.append(["**all sources**", split, *_stats_cells(total)])
    rows.sort(key=lambda row: (row[0].startswith("**"), row[0], {"train": 0, "test": 1}.get(row[1], 2)))
    return _table(["source", "split", "sequences", "of them extra views", "subjects", "frames",
                   "frames with muscle labels", "windows"], rows)


def _stats_cells(c: dict) -> list:
    return [c["sequences"], c["views"], c["subjects"], f"{c['frames']:,}", f"{c['muscle_frames']:,}",
            f"{c['windows']:,}"]


def filtering_table(manifest: dict) -> str:
    rows = []
    for source, counts in manifest["counts"]["filtering"].items():
        reasons = "; ".join(f"{reason.removeprefix('dropped: ')} ({n})" for reason, n in counts.items()
                            if reason.startswith("dropped: ")) or "-"
        rows.append([source, counts.get("kept", 0), counts.get("dropped", 0), reasons])
    table = _table(["source", "kept", "dropped", "reasons (a sequence may have several)"], rows)
    validity = manifest["counts"].get("validity")
    if not validity or not validity.get("by_source"):
        return table
    return table + "\n\nFrame-level audit of the BioSim sequences:\n\n" + validity_table(validity)


def validity_table(validity: dict) -> str:
    """BioSim's validity figures (``manifest["counts"]["validity"]``): medians per source with masked frames,
    then per motion where several sequences play one (the embedded default's clips), each with how many kept
    sequences meet the label bounds on their kept frames."""
    keys = list(validity["figures"])
    bounds = validity.get("bounds")

    def cells(row: dict) -> list:
        within = [f"{row['within_bounds']}/{row['kept']}"] if bounds else []
        return [row["audited"], *within, *("-" if row[k] is None else f"{row[k]:.3f}" for k in keys)]

    within_header = ["kept within bounds"] if bounds else []
    rows = []
    for source, row in validity["by_source"].items():
        frames = row["frames"]
        checks = ", ".join(f"{k} {v}" for k, v in frames.items() if k not in ("frames", "valid_frames") and v) or "-"
        rows.append([source, *cells(row), frames.get("frames", 0), frames.get("valid_frames", 0), checks])
    header = ["source", "audited", *within_header, *keys, "frames", "kept frames", "masked frames by check"]
    text = _table(header, rows)
    if validity.get("by_motion"):
        text += "\n\nPer motion (medians over the subjects that play it):\n\n" + _table(
            ["motion", "source", "audited", *within_header, *keys],
            [[motion, row["source"], *cells(row)] for motion, row in validity["by_motion"].items()])
    legend = "\n".join(f"- `{key}`: {text} (median over the source's or motion's sequences)"
                       for key, text in validity["figures"].items())
    if bounds:
        legend = (f"- kept within bounds: kept sequences whose kept frames leave under "
                  f"{bounds['reserve_share']:.0%} of the RMS leg + lumbar joint moment to the reserves with under "
                  f"{bounds['saturated']:.0%} of raw SO activations saturated (`LABEL_BOUNDS` in "
                  f"`builder.biosim.validity_report`); the other kept sequences' labels lean on reserves or on "
                  f"muscles at full activation\n" + legend)
    return text + "\n\n" + legend


def muscle_table() -> str:
    return _table(["channel", "name", "side", "group", "muscle"],
                  [[i, f"`{m.name}`", m.side, m.group, m.description] for i, m in enumerate(MUSCLES)])


def _settings_text(settings: list[tuple[dict, int]]) -> str:
    if not settings:
        return "No settings were recorded."
    blocks = [f"Used for {n} sequence(s):\n\n```json\n{json.dumps(s, indent=2, sort_keys=True)}\n```"
              for s, n in settings]
    return "\n\n".join(blocks)


def _render(card: CardInputs, file_format: str, link_prefix: str) -> str:
    window = card.manifest["settings"]["window"]
    if file_format == "parquet":
        note = (f"This folder serves the Parquet labels (`{card.parquet_dir}/`); the frames are in the WebDataset "
                f"shards of `{card.webdataset_dir}/`, which has its own card.")
    else:
        note = ("This folder serves the WebDataset shards: one tar sample per window with its frames, `.npy` "
                "arrays and a `.json` of metadata. The Parquet labels are in the parent folder.")
    frames = (f"H.264 MP4 (`frames.mp4`, CRF {window['crf']})" if window["image_format"] == "mp4"
              else f"JPEG files `f00.jpg`, `f01.jpg`, ... (quality {window['jpeg_quality']})")
    frames += (f" of {window['crop_size']}x{window['crop_size']} person crops (box side x {window['crop_scale']})"
               if window["frames"] == "crop" else " of the full video frames") + "; only real frames are stored"
    figures = "\n\n".join(f"![{caption}]({link_prefix}{path})\n\n*{caption}*" for path, caption in card.figures)
    values = {
        "front_matter": yaml.safe_dump(front_matter(card, file_format), sort_keys=False, width=120).strip(),
        "name": card.name, "window_size": window["size"], "stride": window["stride"], "format_note": note,
        "repo_hint": "path/to/biohuman10m", "webdataset_dir": card.webdataset_dir,
        "image_format": window["image_format"], "crops": window["frames"] == "crop", "frames_description": frames,
        "stats_table": stats_table(card.manifest), "filtering_table": filtering_table(card.manifest),
        "biosim_settings": _settings_text(card.biosim_settings), "figures": figures or "No figures.",
        "muscle_table": muscle_table(), "license_note": f"`{card.license}`. {SOURCE_TERMS}",
    }
    return Template(TEMPLATE.read_text()).substitute(values)


def dataset_card(card: CardInputs) -> str:
    """README.md of the dataset root (Parquet config)."""
    return _render(card, "parquet", "")


def webdataset_card(card: CardInputs) -> str:
    """README.md of the WebDataset folder."""
    return _render(card, "webdataset", "../")
