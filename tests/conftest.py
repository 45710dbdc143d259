"""Session-wide test set-up."""

import os

import torch

# Triton decides at *import* time whether its standard library (tl.zeros, tl.sum, ...) is built for
# the interpreter. Some tests import Triton indirectly (torch.onnx -> torch._dynamo), so on a
# machine without CUDA switch the interpreter on before anything can import it; the kernels only
# run on CPU tensors when TORCHSTN_FORCE_TRITON=1 as well (tests/kernels sets that).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
