from torchstn.cli.main import main
from torchstn.models import MODEL_NAMES


def test_models_prints_parameter_table(capsys):
    assert main(["models", "--dataset", "rts"]) == 0
    out = capsys.readouterr().out
    assert "dataset rts: input (1, 42, 42), 10 classes" in out
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
