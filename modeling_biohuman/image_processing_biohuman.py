"""Video-crop processor: frames + person boxes -> normalised, box-centred, aspect-preserving crops.

Coordinates are continuous pixel coordinates: pixel (col i, row j) covers [i, i+1) x [j, j+1), so
its centre is (i + 0.5, j + 0.5), and a box is (x1, y1, x2, y2) in those units. Every crop comes
with its 2x3 affine ``A`` (image -> crop: ``q = A[:, :2] @ p + A[:, 2]``) so that predictions in crop
coordinates map back to the image with :meth:`BioHumanVideoProcessor.crop_to_image`.

``crop_mode="box"`` (crop-based HMR, the GVHMR/4D-Humans/VitPose convention): centre on the box,
grow the shorter side to the crop's aspect ratio, enlarge by ``bbox_enlarge`` and warp to
``crop_size``. ``crop_mode="letterbox"`` (PromptHMR): scale the whole frame to fit ``crop_size``,
centred, padding the rest; the box then serves as a prompt. Regions outside the image are black
(zeros before normalisation). Frames whose box is missing (any NaN), degenerate or entirely outside
the image are masked: ``attention_mask`` 0, zero pixels, NaN affine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EFFICIENTNET_LITE_MEAN = (127.0 / 255,) * 3  # the Lite weights were trained on (x - 127) / 128
EFFICIENTNET_LITE_STD = (128.0 / 255,) * 3


def box_crop_affine(boxes: torch.Tensor, crop_size: tuple[int, int], enlarge: float) -> torch.Tensor:
    """(..., 4) xyxy boxes -> (..., 2, 3) image->crop affines for a (height, width) crop.

    The box is fitted to the crop aspect ratio (the shorter side grows), scaled by ``enlarge`` and
    its centre is mapped to the crop centre with one isotropic scale.
    """
    crop_h, crop_w = crop_size
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    width, height = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    aspect = crop_w / crop_h
    side_h = torch.maximum(height, width / aspect) * enlarge
    scale = crop_h / side_h
    return _scale_translate(scale, centre, crop_w, crop_h)


def letterbox_affine(image_hw: torch.Tensor, crop_size: tuple[int, int]) -> torch.Tensor:
    """(..., 2) image (height, width) -> (..., 2, 3) affines fitting the whole frame into the crop."""
    crop_h, crop_w = crop_size
    height, width = image_hw[..., 0].to(torch.float64), image_hw[..., 1].to(torch.float64)
    scale = torch.minimum(crop_h / height, crop_w / width)
    centre = torch.stack([width / 2, height / 2], dim=-1)
    return _scale_translate(scale, centre, crop_w, crop_h)


def _scale_translate(scale: torch.Tensor, centre: torch.Tensor, crop_w: int, crop_h: int) -> torch.Tensor:
    zero = torch.zeros_like(scale)
    row_x = torch.stack([scale, zero, crop_w / 2 - scale * centre[..., 0]], dim=-1)
    row_y = torch.stack([zero, scale, crop_h / 2 - scale * centre[..., 1]], dim=-1)
    return torch.stack([row_x, row_y], dim=-2)


def invert_affine(affine: torch.Tensor) -> torch.Tensor:
    """Inverse of (..., 2, 3) affines."""
    linear_inv = torch.linalg.inv(affine[..., :2])
    return torch.cat([linear_inv, -linear_inv @ affine[..., 2:]], dim=-1)


def apply_affine(points: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """Map (..., N, 2) points with (..., 2, 3) affines."""
    return points @ affine[..., :2].transpose(-1, -2) + affine[..., None, :, 2]


def warp_frames(frames: torch.Tensor, affines: torch.Tensor, crop_size: tuple[int, int]) -> torch.Tensor:
    """Bilinear warp of (N, C, H, W) float frames by (N, 2, 3) image->crop affines (zeros outside).

    The crop->image map is expressed in grid_sample's normalised coordinates (align_corners=False:
    -1/+1 are the outer pixel edges), so crop pixel centre q samples the image at A^-1 q exactly.
    """
    crop_h, crop_w = crop_size
    height, width = frames.shape[-2:]
    to_image = invert_affine(affines.to(torch.float64))
    from_crop_norm = torch.tensor([[crop_w / 2, 0.0, crop_w / 2], [0.0, crop_h / 2, crop_h / 2], [0.0, 0.0, 1.0]],
                                  dtype=torch.float64)
    to_image_norm = torch.tensor([[2.0 / width, 0.0, -1.0], [0.0, 2.0 / height, -1.0]], dtype=torch.float64)
    homogeneous_row = to_image.new_tensor([0.0, 0.0, 1.0]).expand(len(to_image), 1, 3)
    theta = to_image_norm @ torch.cat([to_image, homogeneous_row], dim=1)
    theta = theta @ from_crop_norm
    grid = F.affine_grid(theta.to(frames.dtype), [len(frames), frames.shape[1], crop_h, crop_w], align_corners=False)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def warp_region(frame: torch.Tensor, affine: torch.Tensor, crop_size: tuple[int, int]) -> torch.Tensor:
    """Warp one (3, H, W) uint8/float frame by a (2, 3) affine, reading (and converting to float) only
    the image region the crop covers (plus a 2-pixel margin), so cost follows the crop, not the frame."""
    crop_h, crop_w = crop_size
    corners = torch.tensor([[0.0, 0.0], [crop_w, 0.0], [0.0, crop_h], [crop_w, crop_h]], dtype=torch.float64)
    region = apply_affine(corners, invert_affine(affine.to(torch.float64)))
    height, width = frame.shape[-2:]
    x0 = int(min(max(math.floor(float(region[:, 0].min())) - 2, 0), width - 1))
    y0 = int(min(max(math.floor(float(region[:, 1].min())) - 2, 0), height - 1))
    x1 = int(max(min(math.ceil(float(region[:, 0].max())) + 2, width), x0 + 1))
    y1 = int(max(min(math.ceil(float(region[:, 1].max())) + 2, height), y0 + 1))
    shifted = affine.to(torch.float64).clone()
    shifted[:, 2] += shifted[:, :2] @ torch.tensor([x0, y0], dtype=torch.float64)
    return warp_frames(_to_unit_float(frame[None, :, y0:y1, x0:x1]), shifted[None], crop_size)[0]


def _writable(array: Any) -> np.ndarray:
    """A numpy view of ``array``, copied only when it is read-only (torch needs writable memory)."""
    return np.require(np.asarray(array), requirements="W")


def _as_video(video: Any, index: int) -> torch.Tensor:
    """One video as a (T, 3, H, W) tensor (a view: uint8 stays uint8; either channel order accepted)."""
    video = video if isinstance(video, torch.Tensor) else torch.as_tensor(_writable(video))
    if video.ndim != 4:
        raise ValueError(f"video {index}: expected (T, H, W, 3) or (T, 3, H, W), got shape {tuple(video.shape)}")
    if video.shape[-1] == 3 and video.shape[1] != 3:
        video = video.permute(0, 3, 1, 2)
    if video.shape[1] != 3:
        raise ValueError(f"video {index}: no RGB channel axis in shape {tuple(video.shape)}")
    return video


def _to_unit_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 0-255 or float 0-1 frames -> float32 in [0, 1]."""
    return frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()


class BioHumanVideoProcessor(BaseImageProcessor):
    """Turns videos + per-frame person boxes into the model's ``pixel_values`` and crop transforms.

    Call ``processor(videos, boxes)`` with ``videos`` one (T, H, W, 3)/(T, 3, H, W) array or a list or
    (B, T, ...) batch of them (uint8 0-255 or float 0-1), and ``boxes`` (T, 4) / (B, T, 4) / list of
    (T_b, 4) xyxy pixel boxes (NaN where no person was found). Videos of different lengths are
    padded to the longest. Returns a ``BatchFeature`` with

    - ``pixel_values`` (B, T, 3, h, w) float32, ImageNet-normalised crops;
    - ``boxes`` (B, T, 4) the boxes in crop pixel coordinates (zeros where masked), the box prompt;
    - ``crop_affines`` (B, T, 2, 3) float64 image->crop affines (NaN where masked);
    - ``attention_mask`` (B, T) int64, 1 for frames within the video that have a usable box;
    - ``image_sizes`` (B, 2) int64 (height, width) of each video's frames.
    """

    model_input_names: ClassVar[list[str]] = ["pixel_values", "boxes", "attention_mask"]

    def __init__(
        self,
        crop_size: dict[str, int] | None = None,
        crop_mode: str = "box",
        bbox_enlarge: float = 1.2,
        image_mean: Sequence[float] = IMAGENET_MEAN,
        image_std: Sequence[float] = IMAGENET_STD,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if crop_mode not in ("box", "letterbox"):
            raise ValueError(f"crop_mode {crop_mode!r} must be 'box' or 'letterbox'")
        self.crop_size = dict(crop_size or {"height": 256, "width": 192})
        self.crop_mode = crop_mode
        self.bbox_enlarge = float(bbox_enlarge)
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)

    @classmethod
    def from_model_config(cls, config: Any, **overrides: Any) -> BioHumanVideoProcessor:
        """The processor matching a ``BioHumanConfig``: crop size from ``image_size``, letterboxing for
        PromptHMR, the EfficientNet-Lite normalisation for that encoder, ImageNet mean/std otherwise."""
        height, width = config.image_size
        kwargs: dict[str, Any] = {"crop_size": {"height": height, "width": width}}
        if config.image_encoder == "prompthmr":
            kwargs["crop_mode"] = "letterbox"
        if config.image_encoder == "efficientnet_lite0":
            kwargs.update(image_mean=EFFICIENTNET_LITE_MEAN, image_std=EFFICIENTNET_LITE_STD)
        return cls(**{**kwargs, **overrides})

    @property
    def _crop_hw(self) -> tuple[int, int]:
        return int(self.crop_size["height"]), int(self.crop_size["width"])

    def preprocess(self, videos: Any, boxes: Any, return_tensors: str | None = "pt", **kwargs: Any) -> BatchFeature:
        """Crop, warp and normalise; see the class docstring for inputs and outputs."""
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        video_list, box_list = self._split_batch(videos, boxes)
        crop_h, crop_w = self._crop_hw
        num_frames = max(v.shape[0] for v in video_list)
        batch = len(video_list)
        pixel_values = torch.zeros(batch, num_frames, 3, crop_h, crop_w)
        crop_boxes = torch.zeros(batch, num_frames, 4)
        affines = torch.full((batch, num_frames, 2, 3), float("nan"), dtype=torch.float64)
        mask = torch.zeros(batch, num_frames, dtype=torch.int64)
        sizes = torch.zeros(batch, 2, dtype=torch.int64)
        mean = torch.tensor(self.image_mean).view(3, 1, 1)
        std = torch.tensor(self.image_std).view(3, 1, 1)
        for b, (video, box) in enumerate(zip(video_list, box_list)):
            height, width = video.shape[-2:]
            sizes[b] = torch.tensor([height, width])
            valid = self._usable_boxes(box, height, width)
            if not valid.any():
                continue
            if self.crop_mode == "box":
                affine = box_crop_affine(box[valid], (crop_h, crop_w), self.bbox_enlarge)
            else:
                affine = letterbox_affine(torch.tensor([[height, width]]).expand(int(valid.sum()), 2),
                                          (crop_h, crop_w))
            index = torch.nonzero(valid).squeeze(1)
            for t, frame_affine in zip(index.tolist(), affine):
                crop = warp_region(video[t], frame_affine, (crop_h, crop_w))
                pixel_values[b, t] = ((crop - mean) / std).float()
            affines[b, index] = affine
            corners = box[valid].reshape(-1, 2, 2)
            crop_boxes[b, index] = apply_affine(corners, affine).reshape(-1, 4).float()
            mask[b, index] = 1
        data = {"pixel_values": pixel_values, "boxes": crop_boxes, "crop_affines": affines,
                "attention_mask": mask, "image_sizes": sizes}
        return BatchFeature(data=data, tensor_type=return_tensors)

    def __call__(self, videos: Any, boxes: Any, **kwargs: Any) -> BatchFeature:
        return self.preprocess(videos, boxes, **kwargs)

    @staticmethod
    def _usable_boxes(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Frames whose box is finite, non-degenerate and overlaps the image."""
        finite = torch.isfinite(boxes).all(-1)
        safe = torch.nan_to_num(boxes)
        positive = (safe[:, 2] > safe[:, 0]) & (safe[:, 3] > safe[:, 1])
        overlaps = (safe[:, 0] < width) & (safe[:, 2] > 0) & (safe[:, 1] < height) & (safe[:, 3] > 0)
        return finite & positive & overlaps

    @staticmethod
    def _split_batch(videos: Any, boxes: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if isinstance(videos, (list, tuple)):
            video_list = [_as_video(v, i) for i, v in enumerate(videos)]
            box_list = [torch.as_tensor(np.asarray(b, dtype=np.float64)) for b in boxes]
        else:
            array = videos if isinstance(videos, torch.Tensor) else torch.as_tensor(_writable(videos))
            stacked = array[None] if array.ndim == 4 else array
            video_list = [_as_video(v, i) for i, v in enumerate(stacked)]
            box_array = torch.as_tensor(np.asarray(boxes, dtype=np.float64))
            box_list = list(box_array[None] if box_array.ndim == 2 else box_array)
        if len(video_list) != len(box_list):
            raise ValueError(f"{len(video_list)} videos but {len(box_list)} box sequences")
        for i, (v, b) in enumerate(zip(video_list, box_list)):
            if b.shape != (v.shape[0], 4):
                raise ValueError(f"video {i}: boxes must have shape ({v.shape[0]}, 4), got {tuple(b.shape)}")
        return video_list, [b.to(torch.float64) for b in box_list]

    @staticmethod
    def crop_to_image(points: Any, crop_affines: Any) -> torch.Tensor:
        """Map (..., N, 2) crop-pixel points back to image pixels with the returned ``crop_affines``."""
        affines = torch.as_tensor(crop_affines, dtype=torch.float64)
        return apply_affine(torch.as_tensor(points, dtype=torch.float64), invert_affine(affines))

    @staticmethod
    def image_to_crop(points: Any, crop_affines: Any) -> torch.Tensor:
        """Map (..., N, 2) image-pixel points into crop pixels."""
        return apply_affine(torch.as_tensor(points, dtype=torch.float64),
                            torch.as_tensor(crop_affines, dtype=torch.float64))
