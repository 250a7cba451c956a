"""Synthetic video of a posed body for motion sources without video (pyrender on the CPU)."""

from builder.render.boxes import box_from_mask, box_iou, boxes_from_projection, clip_boxes
from builder.render.camera import Camera, CameraConfig, sample_camera
from builder.render.sequence import RenderConfig, RenderResult, render_sequence

__all__ = ["Camera", "CameraConfig", "RenderConfig", "RenderResult", "box_from_mask", "box_iou",
           "boxes_from_projection", "clip_boxes", "render_sequence", "sample_camera"]
