import pytest
import torch

from torchstn.export import MIN_OPSET, TOLERANCE, export_onnx, verify_onnx
from torchstn.models import build_model

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name, shape", [("st-cnn-aff", (1, 42, 42)), ("st-fcn-tps", (1, 28, 28)),
                                         ("st-fcn-aff", (1, 60, 60)),  # TC: batch norm
                                         ("st-fcn-aff", (1, 42, 42)),  # RTS: looks twice
                                         ("st-fcn-tps", (1, 42, 42))])  # TPS refined twice
def test_onnx_matches_pytorch(tmp_path, name, shape):
    import onnx

    torch.manual_seed(0)
    model = build_model(name, shape, 10)
    with torch.no_grad():  # a non-identity transformer, batch-norm statistics of a trained net
        model.transformer.regressor.weight.normal_(0, 0.02)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2)
    path = export_onnx(model, tmp_path / "m.onnx")
    graph = onnx.load(str(path))
    assert graph.opset_import[0].version >= MIN_OPSET
    assert "GridSample" in {n.op_type for n in graph.graph.node}
    assert verify_onnx(model, path, batch=3) < TOLERANCE  # batch differs from export's 1


def test_old_opset_refused(tmp_path):
    with pytest.raises(ValueError, match="GridSample"):
        export_onnx(build_model("cnn", (1, 28, 28), 10), tmp_path / "m.onnx", opset=13)
