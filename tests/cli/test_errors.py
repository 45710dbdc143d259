"""Bad command lines: one-line errors and exit code 2, no traceback."""

from __future__ import annotations

import pytest

from torchstn.cli.main import main


def run_main(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line_error(code, err, match):
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("torchstn: error:") and match in err, err


@pytest.mark.parametrize("argv, match", [
    (["--dataset", "nope", "--model", "cnn"], "unknown dataset 'nope'"),
    (["--dataset", "rts", "--model", "st-cnn-nope"], "unknown model 'st-cnn-nope'; expected"),
    (["--dataset", "rts", "--model", "cnn", "--epochs", "-3"], "epochs: expected a positive"),
    (["--dataset", "rts", "--model", "cnn", "--batch-size", "0"], "batch_size"),
    (["--dataset", "rts", "--model", "cnn", "--data-dir", "/no/such/dir"],
     "data directory '/no/such/dir' does not exist"),
    (["--dataset", "rts"], "--model is required"),
])
def test_train_bad_input(tmp_path, capsys, argv, match):
    code, err = run_main(capsys, "train", "--out", str(tmp_path / "run"), *argv)
    assert_one_line_error(code, err, match)
    assert not (tmp_path / "run").exists()


def test_resume_from_missing_checkpoint(tmp_path, capsys):
    code, err = run_main(capsys, "train", "--out", str(tmp_path / "run"), "--resume")
    assert_one_line_error(code, err, "no checkpoint")


def test_resume_from_corrupt_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    code, err = run_main(capsys, "train", "--out", str(run), "--resume")
    assert_one_line_error(code, err, "corrupt")
    (run / "other.pt").write_bytes(b"")
    code, err = run_main(capsys, "train", "--out", str(run), "--resume", str(run / "other.pt"))
    assert_one_line_error(code, err, "corrupt")


def test_eval_bad_input(tmp_path, capsys):
    code, err = run_main(capsys, "eval", str(tmp_path / "missing"))
    assert_one_line_error(code, err, "no run folder or model file")
    (tmp_path / "junk.safetensors").write_bytes(b"junk" * 10)
    code, err = run_main(capsys, "eval", str(tmp_path / "junk.safetensors"), "--dataset", "rts")
    assert_one_line_error(code, err, "not a readable safetensors")


def test_models_bad_input(capsys):
    code, err = run_main(capsys, "models", "--dataset", "nope")
    assert_one_line_error(code, err, "unknown dataset 'nope'")
    code, err = run_main(capsys, "models", "--model", "xyz")
    assert_one_line_error(code, err, "st-cnn-aff")


def test_visualize_and_export_bad_input(tmp_path, capsys):
    code, err = run_main(capsys, "visualize", str(tmp_path / "none"), "--out", "f.png")
    assert_one_line_error(code, err, "no run folder")
    code, err = run_main(capsys, "export", str(tmp_path / "none"))
    assert_one_line_error(code, err, "no run folder")
