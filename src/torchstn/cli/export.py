"""``torchstn export``: write a trained model as ONNX and check it against onnxruntime."""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = ("onnx",)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a trained model (ONNX)",
        description="Export a run's model to ONNX (opset >= 16, GridSample inside); when "
                    "onnxruntime is installed its outputs are compared with PyTorch's.")
    p.add_argument("path", metavar="RUN", help="run folder or model file")
    p.add_argument("--format", choices=FORMATS, default="onnx")
    p.add_argument("--out", help="output file (default: RUN/model.onnx)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17, >= 16)")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export import DEFAULT_OPSET, TOLERANCE, export_onnx, verify_onnx
    from ..io import load_model, resolve_model_path

    src = resolve_model_path(args.path)
    model = load_model(src)
    out = Path(args.out) if args.out else src.parent / "model.onnx"
    export_onnx(model, out, args.opset or DEFAULT_OPSET)
    line = f"wrote {out}"
    if not args.no_verify:
        try:
            diff = verify_onnx(model, out)
        except ImportError:
            line += " (onnxruntime not installed: not verified)"
        else:
            if diff > TOLERANCE:
                raise ValueError(f"ONNX output differs from PyTorch by {diff:.2e} "
                                 f"(> {TOLERANCE:.0e}); the file {out} may be wrong")
            line += f"; onnxruntime matches PyTorch (max abs difference {diff:.1e})"
    print(line)
    return 0
