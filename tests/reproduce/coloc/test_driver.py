"""``torchstn reproduce coloc`` end to end (``torchstn.reproduce.coloc.driver``, ``.runs``,
``.report``): its options, the result files, the restarts added later, the report."""

from __future__ import annotations

import dataclasses
import json

import pytest

from torchstn import save_model
from torchstn.cli.main import main
from torchstn.cli.reproduce import format_refine, parse_digits, parse_refine
from torchstn.models import build_model
from torchstn.reproduce import coloc
from torchstn.reproduce.coloc import report as coloc_report
from torchstn.reproduce.coloc import runs as coloc_runs


def write_fake_mnist(root):
    """The four MNIST files with 40 random digits a split, labels cycling 0..9."""
    import numpy as np

    from torchstn.data import mnist
    from torchstn.data.idx import write_idx

    rng = np.random.default_rng(0)
    folder = root / "mnist"
    folder.mkdir(parents=True)
    for split in ("train", "test"):
        image_name, label_name, _ = mnist.SPLITS[split]
        write_idx(folder / image_name, rng.integers(0, 256, (40, 28, 28), dtype=np.uint8))
        write_idx(folder / label_name, (np.arange(40) % 10).astype(np.uint8))
    return root


def test_parse_and_format_refine():
    assert parse_refine("a/p.safetensors:500,b:3") == (("a/p.safetensors", 500), ("b", 3))
    assert parse_refine("none") == ()
    for stages in ((), coloc.REFINE):
        assert parse_refine(format_refine(stages)) == stages
    for bad in ("a", "a:0", "a:x", ":3", "a:3,"):
        with pytest.raises(ValueError, match="--refine"):
            parse_refine(bad)


def test_parse_digits():
    assert parse_digits("0-9") == tuple(range(10))
    assert parse_digits("3") == (3,)
    assert parse_digits("5,0-2,1") == (5, 0, 1, 2)
    for bad in ("x", "3-11", "", "-1"):
        with pytest.raises(ValueError, match="--digits"):
            parse_digits(bad)


def test_driver_writes_one_file_per_class_skips_done_ones_and_reports(tmp_path, capsys):
    root = write_fake_mnist(tmp_path / "data")
    encoder = tmp_path / "enc.safetensors"
    save_model(build_model("cnn", (1, 42, 42), 10), encoder)
    narrow = tmp_path / "narrow.safetensors"
    save_model(build_model("cnn", (1, 28, 28), 10), narrow)
    runs, results = tmp_path / "runs", tmp_path / "results"
    args = ["reproduce", "coloc", "--digits", "1,2", "--clutter", "both", "--steps", "2",
            "--restarts", "2", "--clutter-restarts", "2", "--split", "test", "--refine",
            f"{narrow}:1",
            "--images", "4", "--encoder", str(encoder), "--runs-dir", str(runs),
            "--results-dir", str(results), "--data-dir", str(root), "--threads", "1",
            "--no-figures"]
    assert main(args) == 0
    files = sorted(p.relative_to(runs).as_posix() for p in runs.rglob("*.json"))
    assert files == ["clutter/digit1.json", "clutter/digit2.json", "plain/digit1.json",
                     "plain/digit2.json"]
    rows = json.loads((results / "colocalisation.json").read_text())
    assert [(r["digit"], r["clutter"]) for r in rows] == [(1, False), (2, False), (1, True),
                                                         (2, True)]
    for r in rows:
        assert 0.0 <= r["localised"] <= 1.0 and r["images"] == 4 and len(r["boxes"]) == 3
        assert r["config"]["steps"] == 2 and "--steps 2" in r["command"]
        assert len(r["restart_losses"]) == 2 and r["final_loss"] == min(r["restart_losses"])
        assert r["split"] == "test" and "--split test" in r["command"]
        assert r["config"]["refine"] == [[str(narrow), 1]] and f"{narrow}:1" in r["command"]
    md = (results / "colocalisation.md").read_text()
    assert f"| no clutter | not run | {100 * rows[0]['localised']:.0f} |" in md
    # done classes are skipped: no encoder needed any more
    encoder.unlink()
    narrow.unlink()
    assert main(args) == 0
    # results made with another recipe are not mixed into one report (fewer restarts than
    # made them neither)
    assert main([*args[:11], "1", *args[12:]]) != 0
    assert "other settings" in capsys.readouterr().err
    assert args[6:8] == ["--steps", "2"]
    assert main([*args[:7], "3", *args[8:]]) != 0
    assert "other settings" in capsys.readouterr().err
    # the report alone
    (results / "colocalisation.md").unlink()
    assert main([*args, "--report-only"]) == 0
    assert (results / "colocalisation.md").exists()


def test_driver_names_a_missing_encoder(tmp_path, capsys):
    root = write_fake_mnist(tmp_path / "data")
    assert main(["reproduce", "coloc", "--digits", "1", "--clutter", "no", "--steps", "1",
              "--images", "4", "--encoder", str(tmp_path / "none.safetensors"),
              "--runs-dir", str(tmp_path / "r"), "--results-dir", str(tmp_path / "o"),
              "--data-dir", str(root)]) != 0
    assert "encoder" in capsys.readouterr().err
    encoder = tmp_path / "enc.safetensors"
    save_model(build_model("cnn", (1, 42, 42), 10), encoder)
    assert main(["reproduce", "coloc", "--digits", "1", "--clutter", "no", "--steps", "1",
                 "--images", "4", "--encoder", str(encoder), "--refine", "gone.safetensors:5",
                 "--runs-dir", str(tmp_path / "r"), "--results-dir", str(tmp_path / "o"),
                 "--data-dir", str(root)]) != 0
    assert "refine: gone.safetensors not found" in capsys.readouterr().err


def test_more_restarts_run_only_the_missing_ones_and_keep_what_a_full_run_keeps(tmp_path):
    """A class run with 1 restart, then asked for 3, runs restarts 2 and 3 only; its row is the
    row of a run of 3 restarts from scratch (losses, kept run, boxes). The setting without
    clutter, at its own count already, is not run again."""
    root = write_fake_mnist(tmp_path / "data")
    encoder = tmp_path / "enc.safetensors"
    save_model(build_model("cnn", (1, 42, 42), 10), encoder)

    def run(runs: str, clutter_restarts: int) -> list[dict]:
        assert main(["reproduce", "coloc", "--digits", "2", "--clutter", "both", "--steps", "2",
                     "--restarts", "1", "--clutter-restarts", str(clutter_restarts),
                     "--refine", "none", "--images", "4", "--encoder", str(encoder),
                     "--runs-dir", str(tmp_path / runs), "--results-dir",
                     str(tmp_path / f"{runs}-results"), "--data-dir", str(root), "--threads",
                     "1", "--no-figures"]) == 0
        return json.loads((tmp_path / f"{runs}-results" / "colocalisation.json").read_text())

    plain_before, short = run("ext", 1)
    plain_after, extended = run("ext", 3)
    assert plain_after == plain_before  # not run again
    _, full = run("full", 3)
    assert len(short["restart_losses"]) == 1 and short["config"]["restarts"] == 1
    assert extended["restart_losses"][0] == short["restart_losses"][0]
    for key in ("restart_losses", "kept_restart", "final_loss", "localised", "mean_iou",
                "boxes", "config"):
        assert extended[key] == full[key], key  # each restart depends on its seed alone
    assert extended["extended_from"]["restarts"] == 1
    assert extended["wall_time_s"] >= short["wall_time_s"]
    md = (tmp_path / "ext-results" / "colocalisation.md").read_text()
    assert "restarts 1 without clutter, 3 with clutter" in md
    assert "--restarts 1 --clutter-restarts 3" in extended["command"]


def test_clutter_encoder_is_the_cluttered_settings_own(tmp_path, capsys):
    cfg = coloc.ColocConfig(encoder="a.safetensors", clutter_encoder="b.safetensors")
    assert cfg.for_setting(False).encoder == "a.safetensors"
    assert cfg.for_setting(True).encoder == "b.safetensors"
    assert cfg.for_setting(True).clutter_encoder is None
    assert coloc.ColocConfig(encoder="a").for_setting(True).encoder == "a"

    root = write_fake_mnist(tmp_path / "data")
    plain, cluttered = tmp_path / "plain.safetensors", tmp_path / "clutter.safetensors"
    save_model(build_model("cnn", (1, 42, 42), 10), plain)
    save_model(build_model("cnn", (1, 60, 60), 10), cluttered)
    runs, results = tmp_path / "runs", tmp_path / "results"
    args = ["reproduce", "coloc", "--digits", "2", "--clutter", "both", "--steps", "2",
            "--restarts", "1", "--refine", "none", "--images", "4", "--encoder", str(plain),
            "--clutter-encoder", str(cluttered), "--runs-dir", str(runs), "--results-dir",
            str(results), "--data-dir", str(root), "--threads", "1", "--no-figures",
            "--embedding", "maps", "--clutter-embedding", "features"]
    assert main(args) == 0
    rows = json.loads((results / "colocalisation.json").read_text())
    # each setting's row records its own embedding, under the one command of both
    assert [r["config"]["embedding"] for r in rows] == ["maps", "features"]
    assert "--embedding maps --clutter-embedding features" in rows[0]["command"]
    assert [(r["clutter"], r["encoder"], r["config"]["encoder"]) for r in rows] == [
        (False, str(plain), str(plain)), (True, str(cluttered), str(cluttered))]
    assert f"--clutter-encoder {cluttered}" in rows[1]["command"]
    md = (results / "colocalisation.md").read_text()
    assert f"Encoder: `{plain}` without clutter, `{cluttered}` with clutter." in md
    assert "without clutter and" in md  # the departures clause names both
    assert ("the embedding is the encoder's last convolutional feature maps, L2-normalised "
            "(`maps`) without clutter and the encoder's last hidden activations") in md
    assert "embedding maps without clutter, features with clutter" in md  # the Runs line
    # the one command that wrote both settings' files, said so
    assert f"    # no clutter and with clutter\n    {rows[0]['command']}\n" in md
    # the mean has a decimal (99.8 must not read as the paper's 100)
    mean = 100 * rows[0]["localised"]
    assert f"| {mean:.1f} | 100 |" in md and f"| {mean:.0f} | 100 |" not in md
    # another encoder for the cluttered sets is another recipe
    assert args[16] == "--clutter-encoder"
    assert main([*args[:17], str(plain), *args[18:]]) != 0
    assert "other settings" in capsys.readouterr().err
    # a row from before the encoder was a config field matches by its row's encoder
    row = json.loads((runs / "plain" / "digit2.json").read_text())
    del row["config"]["encoder"], row["config"]["clutter_encoder"]
    wanted = coloc.ColocConfig(steps=2, restarts=1, refine=(), encoder=str(plain),
                               embedding="maps")
    assert coloc_runs._matches(row, wanted.for_setting(False), 4, "train") == "same"
    assert coloc_runs._matches(row, dataclasses.replace(wanted, encoder="x").for_setting(False), 4,
                          "train") == "other"
    # one from before rows recorded their encoder was made with the first recipes' (RTS) CNN
    del row["encoder"]
    legacy = dataclasses.replace(wanted, encoder=coloc.LEGACY_ENCODER).for_setting(False)
    assert coloc_runs._matches(row, legacy, 4, "train") == "same"
    assert coloc_runs._matches(row, wanted.for_setting(False), 4, "train") == "other"
    assert coloc_report._encoders([row]) == {False: coloc.LEGACY_ENCODER}


def test_the_command_line_defaults_are_the_recipe(tmp_path, monkeypatch):
    """``torchstn reproduce coloc`` without options runs :class:`ColocConfig`'s defaults (its
    --encoder and --refine defaults once still named the previous recipe's)."""
    root = write_fake_mnist(tmp_path / "data")
    seen = {}
    monkeypatch.setattr(coloc, "reproduce_coloc",
                        lambda digits, settings, cfg, **kw: seen.update(cfg=cfg, **kw))
    assert main(["reproduce", "coloc", "--data-dir", str(root)]) == 0
    assert seen["cfg"] == coloc.ColocConfig()
    assert seen["cfg"].refine == () and "--refine none" in seen["command"]
