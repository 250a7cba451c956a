"""Chunked inference over long videos (paper 5.1): ordered windows, predictions merged in order."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers.utils import ModelOutput

PER_FRAME_INPUTS = ("pixel_values", "boxes", "attention_mask", "hmr_pose", "hmr_features")
MERGED_OUTPUTS = ("pose", "muscle_activations", "initial_pose", "adapted_pose", "betas", "transl", "attention_mask")


def window_starts(num_frames: int, window_length: int, overlap: int) -> list[int]:
    """Start frames of ordered windows covering ``num_frames`` (the last one ends at the last frame)."""
    if window_length < 1 or not 0 <= overlap < window_length:
        raise ValueError(f"need window_length >= 1 and 0 <= overlap < window_length, got {window_length}, {overlap}")
    stride = window_length - overlap
    starts = list(range(0, max(num_frames - window_length, 0) + 1, stride))
    if starts[-1] + window_length < num_frames:
        starts.append(num_frames - window_length)
    return starts


def owner_windows(num_frames: int, starts: list[int], window_length: int) -> torch.Tensor:
    """For each frame, the window in which it lies closest to the centre (earliest on ties)."""
    frames = torch.arange(num_frames, dtype=torch.float64)[:, None]
    start = torch.tensor(starts, dtype=torch.float64)[None]
    inside = (frames >= start) & (frames < start + window_length)
    distance = torch.where(inside, (frames - start - (window_length - 1) / 2).abs(), torch.inf)
    return distance.argmin(dim=1)


@torch.no_grad()
def predict_in_windows(model: nn.Module, window_length: int, overlap: int = 0, batch_size: int = 8,
                       progress: bool = False, **inputs: torch.Tensor) -> ModelOutput:
    """Run ``model`` on one long sequence given as (1, T, ...) or (T, ...) per-frame inputs.

    The sequence is cut into ordered windows of ``window_length`` frames (``overlap`` frames shared
    between neighbours; the last window is padded and masked), windows run in batches, and each frame
    keeps the prediction of the window where it sits most centrally. Returns the model's output
    class (``BioHumanOutput``) holding (1, T, ...) tensors.
    ``progress`` shows a tqdm bar over window batches.
    """
    unknown = set(inputs) - set(PER_FRAME_INPUTS)
    if unknown:
        raise ValueError(f"unsupported inputs {sorted(unknown)}; per-frame inputs are {PER_FRAME_INPUTS}")
    inputs = {k: v for k, v in inputs.items() if v is not None}
    reference = inputs.get("pixel_values", inputs.get("hmr_pose"))
    if reference is None:
        raise ValueError("predict_in_windows needs pixel_values or hmr_pose")
    batched_ndim = {"pixel_values": 5, "boxes": 3, "attention_mask": 2, "hmr_pose": 3, "hmr_features": 3}
    inputs = {k: (v[0] if v.ndim == batched_ndim[k] else v) for k, v in inputs.items()}
    num_frames = inputs.get("pixel_values", inputs.get("hmr_pose")).shape[0]
    inputs.setdefault("attention_mask", torch.ones(num_frames, dtype=torch.long, device=reference.device))
    return predict_window_batches(model, num_frames, window_length, overlap, batch_size,
                                  lambda starts: stack_windows(inputs, starts, window_length), progress)


@torch.no_grad()
def predict_window_batches(model: nn.Module, num_frames: int, window_length: int, overlap: int, batch_size: int,
                           window_inputs: Callable[[list[int]], dict[str, torch.Tensor]],
                           progress: bool = False) -> ModelOutput:
    """The windowing and merging of :func:`predict_in_windows` over inputs supplied on demand:
    ``window_inputs(starts)`` returns the (B, window_length, ...) inputs of the windows beginning at
    ``starts``; it is called with batches in increasing frame order, so a caller can decode a video
    as it goes and hold only the frames of pending windows."""
    starts = window_starts(num_frames, window_length, overlap)
    owners = owner_windows(num_frames, starts, window_length)
    merged: dict[str, torch.Tensor] = {}
    output_class = ModelOutput
    model.eval()
    for first in tqdm(range(0, len(starts), batch_size), desc="windows", unit="batch", disable=not progress):
        chunk = starts[first:first + batch_size]
        out = model(**window_inputs(chunk))
        output_class = type(out)
        for i, start in enumerate(chunk):
            frames = torch.nonzero(owners == first + i).squeeze(1)
            for key in MERGED_OUTPUTS:
                value = out.get(key)
                if value is None:
                    continue
                target = merged.setdefault(key, value.new_zeros(num_frames, *value.shape[2:]))
                target[frames] = value[i, frames - start]
    return output_class(**{k: v[None] for k, v in merged.items()})


def stack_windows(inputs: dict[str, torch.Tensor], starts: list[int], length: int, offset: int = 0
                  ) -> dict[str, torch.Tensor]:
    """(B, length, ...) windows beginning at ``starts`` of (T, ...) per-frame inputs whose first row is
    frame ``offset``; zero-padded past the end."""
    return {k: torch.stack([_window(v, s - offset, length) for s in starts]) for k, v in inputs.items()}


def _window(value: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """Frames [start, start + length) of a (T, ...) tensor, zero-padded past the end."""
    piece = value[start:start + length]
    if piece.shape[0] < length:
        piece = torch.cat([piece, piece.new_zeros(length - piece.shape[0], *piece.shape[1:])])
    return piece
