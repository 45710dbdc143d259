from torchstn.cli.main import main
from torchstn.models import MODEL_NAMES


def test_models_prints_parameter_table(capsys):
    assert main(["models", "--dataset", "rts"]) == 0
    out = capsys.readouterr().out
    # the baseline is the CNN, although the FCN's row comes first
    assert "dataset rts: input (1, 42, 42), 10 classes, baseline cnn " in out
    for name in MODEL_NAMES:
        assert f"\n{name} " in out


def test_models_markdown_and_json(capsys):
    assert main(["models", "--dataset", "r", "--model", "st-cnn-tps", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| st-cnn-tps |" in out and "| cnn |" in out
    assert main(["models", "--dataset", "r", "--json"]) == 0
    import json

    table = json.loads(capsys.readouterr().out)
    assert table["r"]["num_classes"] == 10 and len(table["r"]["models"]) == len(MODEL_NAMES)


def test_models_names_the_pools_and_views_that_differ(capsys):
    assert main(["models", "--dataset", "addition", "--model", "2xst-fcn-tps"]) == 0
    out = capsys.readouterr().out
    assert "\n2xst-fcn-tps " in out and " 3 (loc 4) " in out
    assert main(["models", "--dataset", "tc", "--model", "st-fcn-aff", "--json"]) == 0
    import json

    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)["tc"]["models"]}
    assert rows["st-fcn-aff"]["view"] is not None and rows["cnn"]["view"] is None
    assert rows["st-fcn-aff"]["batchnorm"] and not rows["cnn"]["batchnorm"]
    assert main(["models", "--dataset", "tc", "--model", "fcn"]) == 0
    out = capsys.readouterr().out
    assert "\nfcn " in out and " (bn) " in out and "\ncnn " in out
