"""``biohuman preview``: a PNG contact sheet of a sequence's video frames with person boxes drawn.

Visible boxes are drawn in green; boxes of masked frames (``BOX_VISIBLE`` False) in red;
frames without any box are labelled "no box".
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from builder import layout
from builder.io import write_bytes_atomic
from builder.video import probe_video, read_video

VISIBLE_COLOUR, MASKED_COLOUR = (40, 220, 60), (230, 40, 40)


def _load_boxes(seq_dir: Path, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    boxes_path, visible_path = seq_dir / layout.BOXES, seq_dir / layout.BOX_VISIBLE
    if not boxes_path.is_file():
        return np.full((num_frames, 4), np.nan), np.zeros(num_frames, dtype=bool)
    boxes = np.load(boxes_path)
    visible = np.load(visible_path) if visible_path.is_file() else np.isfinite(boxes).all(axis=1)
    if boxes.shape != (num_frames, 4) or visible.shape != (num_frames,):
        raise ValueError(f"{seq_dir}: {boxes_path.name} {boxes.shape} / {visible_path.name} "
                         f"{visible.shape} do not match the video's {num_frames} frames")
    return boxes, visible


def contact_sheet(seq_dir: str | Path, num_frames: int = 12, columns: int = 4,
                  tile_width: int = 256) -> Image.Image:
    """A grid of ``num_frames`` evenly spaced frames of ``seq_dir``'s video with boxes and time stamps."""
    seq_dir = Path(seq_dir)
    video = seq_dir / layout.VIDEO
    info = probe_video(video)
    boxes, visible = _load_boxes(seq_dir, info.num_frames)
    indices = np.unique(np.linspace(0, info.num_frames - 1, min(num_frames, info.num_frames)).round().astype(int))
    frames, times = read_video(video, indices)
    scale = tile_width / info.width
    tile_height = round(info.height * scale)
    rows = -(-len(indices) // columns)
    sheet = Image.new("RGB", (columns * tile_width, rows * tile_height), (0, 0, 0))
    for slot, (index, frame, time) in enumerate(zip(indices, frames, times)):
        tile = Image.fromarray(frame).resize((tile_width, tile_height), Image.BILINEAR)
        draw = ImageDraw.Draw(tile)
        box = boxes[index]
        if np.all(np.isfinite(box)):
            colour = VISIBLE_COLOUR if visible[index] else MASKED_COLOUR
            draw.rectangle([(box[0] + 0.5) * scale, (box[1] + 0.5) * scale,
                            (box[2] + 0.5) * scale, (box[3] + 0.5) * scale], outline=colour, width=2)
        label = f"#{index} {time:.2f}s" + ("" if np.all(np.isfinite(box)) else " no box")
        draw.rectangle([0, 0, 8 + 7 * len(label), 14], fill=(0, 0, 0))
        draw.text((3, 2), label, fill=(255, 255, 255))
        sheet.paste(tile, ((slot % columns) * tile_width, (slot // columns) * tile_height))
    return sheet


def write_contact_sheet(seq_dir: str | Path, out_png: str | Path, **kwargs) -> Path:
    """Write :func:`contact_sheet` as a PNG, atomically; returns the path."""
    buffer = io.BytesIO()
    contact_sheet(seq_dir, **kwargs).save(buffer, format="PNG")
    write_bytes_atomic(out_png, buffer.getvalue())
    return Path(out_png)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("preview", help="PNG contact sheet of a sequence's frames with boxes")
    parser.add_argument("sequence_dir", type=Path, help=f"folder holding {layout.VIDEO} and {layout.BOXES}")
    parser.add_argument("-o", "--out", type=Path, help="PNG path (default: <sequence_dir>/preview.png)")
    parser.add_argument("--frames", type=int, default=12, help="number of frames shown")
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--tile-width", type=int, default=256)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    out = write_contact_sheet(args.sequence_dir, args.out or args.sequence_dir / "preview.png",
                              num_frames=args.frames, columns=args.columns, tile_width=args.tile_width)
    print(out)
    return 0
