"""Export a trained model to ONNX (opset >= 16, where ``GridSample`` exists).

The exported graph takes ``images`` ``(batch, C, H, W)`` float32 in [0, 1] (the batch axis is
dynamic) and returns ``logits`` ``(batch, num_classes)``; normalisation and the spatial transformer
(``GridSample``, bilinear, zeros padding, ``align_corners=0``) are inside.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

MIN_OPSET = 16  # first opset with GridSample
DEFAULT_OPSET = 17
TOLERANCE = 1e-4  # max |onnxruntime - PyTorch| accepted by verify_onnx
VERIFY_BATCH = 4


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> Path:
    """Write ``model`` (a :func:`torchstn.load_model` model) as ONNX to ``path``."""
    if opset < MIN_OPSET:
        raise ValueError(f"opset: expected >= {MIN_OPSET} (GridSample), got {opset}")
    in_shape = tuple(model.spec.in_shape)
    model = model.eval()
    example = torch.rand(1, *in_shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        model(example)  # builds cached constants (e.g. the TPS weight matrix) outside the trace
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about Python-level shape checks
            # TorchScript-based exporter: folds the shape checks, keeps the batch axis dynamic
            torch.onnx.export(
                model, (example,), str(path), opset_version=opset, dynamo=False,
                input_names=["images"], output_names=["logits"],
                dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            )
    return path


def verify_onnx(model: nn.Module, path: str | os.PathLike, batch: int = VERIFY_BATCH,
                seed: int = 0) -> float:
    """Max ``|onnxruntime - PyTorch|`` of the logits on a random batch (needs onnxruntime)."""
    import onnxruntime as ort

    x = torch.rand(batch, *model.spec.in_shape, generator=torch.Generator().manual_seed(seed))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        want = model.eval()(x).numpy()
    return float(abs(got - want).max())
