"""The boxes a transformer looks at, in pixels, and their IoU with the digits' true boxes (the
score; no box enters the training)."""

from __future__ import annotations

import torch
from torch import Tensor

from ...coords import denormalize_points
from ...data.clutter import COLOC_CANVAS
from ...modules import SpatialTransformer
from .transformer import InsideAttention, inside_params


def boxes_from_params(params: Tensor, canvas: int = COLOC_CANVAS) -> Tensor:
    """The region an attention transformer samples, in pixel coordinates
    (:mod:`torchstn.coords`): ``(N, 3)`` ``(s, t_x, t_y)`` -> ``(N, 4)`` ``(x0, y0, x1, y1)``."""
    # the attention map sends the output's [-1, 1] to [t - s, t + s] on each axis
    size = (canvas, canvas)
    scale, shift = params[:, :1], params[:, 1:]
    return torch.cat([denormalize_points(shift - scale, size),
                      denormalize_points(shift + scale, size)], 1)


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Intersection over union of matching boxes ``(N, 4)`` ``(x0, y0, x1, y1)`` -> ``(N,)``."""
    a, b = a.double(), b.double()
    inter = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0)
    inter = inter.prod(1)
    area = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1) + (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    return (inter / (area - inter)).float()


@torch.no_grad()
def predict_boxes(st: SpatialTransformer, images: Tensor) -> Tensor:
    """The boxes ``(N, 4)`` the transformer looks at, in pixels."""
    st(images)
    params = st.last_params
    if isinstance(st.transform, InsideAttention):
        params = inside_params(params)
    return boxes_from_params(params, images.shape[-1])
