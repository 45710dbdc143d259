"""Co-localisation (``torchstn reproduce coloc``): the loss, the boxes, the loop and the driver."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from torchstn import save_model
from torchstn.cli.main import main
from torchstn.cli.reproduce import format_refine, parse_digits, parse_refine
from torchstn.models import build_model
from torchstn.reproduce import coloc


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


def test_triplet_loss_known_answers():
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    # each view 1 from the other and 0 from its random crop: every pair pays 1 - 0 + 1
    assert coloc.triplet_loss(z, z.clone()).item() == pytest.approx(2.0)
    # random crops 3 away (9 squared): every hinge is inactive
    assert coloc.triplet_loss(z, z + torch.tensor([0.0, 3.0])).item() == 0.0
    # margin 0.5, crops 1 away: pair (0, 1) pays 1 - 1 + 0.5; the diagonal does not count
    three = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    far = three + torch.tensor([0.0, 1.0])
    # pairs (0,1), (1,0), (1,2), (2,1): 0.5 each; (0,2), (2,0): 0 - 1 + 0.5 -> 0
    assert coloc.triplet_loss(three, far, 0.5).item() == pytest.approx(4 * 0.5 / 6)


def test_triplet_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match="N >= 2"):
        coloc.triplet_loss(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        coloc.triplet_loss(torch.zeros(4, 3), torch.zeros(4, 2))


def test_random_crops_are_slices_at_the_drawn_places():
    x = torch.rand(5, 2, 30, 40)
    crops = coloc.random_crops(x, torch.Generator().manual_seed(7), size=8)
    g = torch.Generator().manual_seed(7)
    top = torch.randint(0, 23, (5,), generator=g)
    left = torch.randint(0, 33, (5,), generator=g)
    assert crops.shape == (5, 2, 8, 8)
    for i in range(5):
        assert torch.equal(crops[i], x[i, :, top[i]:top[i] + 8, left[i]:left[i] + 8])


def test_boxes_and_iou_known_answers():
    params = torch.tensor([[1.0, 0.0, 0.0], [1 / 3, 0.0, 0.0], [1 / 3, -2 / 3, 0.5]])
    boxes = coloc.boxes_from_params(params)
    expected = torch.tensor([[0, 0, 84, 84], [28, 28, 56, 56], [0, 49, 28, 77]], dtype=torch.float)
    assert torch.allclose(boxes, expected, atol=1e-4)
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 2, 2]])
    b = torch.tensor([[0.0, 0, 2, 2], [1, 0, 3, 2], [5, 5, 6, 6]])
    assert torch.allclose(coloc.box_iou(a, b), torch.tensor([1.0, 2 / 6, 0.0]))


def test_the_box_is_what_the_transformer_samples():
    """At an integer-aligned box the attention view is exactly that crop of the canvas (the
    coordinate convention of boxes_from_params is the sampler's)."""
    st = coloc.coloc_transformer(inside=False)
    x = torch.rand(2, 1, 84, 84)
    with torch.no_grad():
        st.regressor.bias.copy_(torch.tensor([1 / 3, -2 / 3, 0.5]))
        out = st(x)
    x0, y0, x1, y1 = coloc.boxes_from_params(st.last_params)[0].round().int().tolist()
    assert (x0, y0, x1, y1) == (0, 49, 28, 77)
    assert torch.allclose(out, x[:, :, y0:y1, x0:x1], atol=1e-5)


def test_inside_attention_box_known_answer_and_bounds():
    """InsideAttention: t = (1 - s) tanh(u). u = atanh(-1/2), atanh(1/2) at s = 1/3 is the box
    x in [14, 42), y in [42, 70), exactly what predict_boxes reports and the view samples; any
    u keeps the box on the canvas; at s = 1 the view is the whole canvas."""
    st = coloc.coloc_transformer()
    assert isinstance(st.transform, coloc.InsideAttention)
    x = torch.rand(2, 1, 84, 84)
    half = torch.atanh(torch.tensor(0.5)).item()
    with torch.no_grad():
        st.regressor.bias.copy_(torch.tensor([1 / 3, -half, half]))
        out = st(x)
    x0, y0, x1, y1 = coloc.predict_boxes(st, x)[0].round().int().tolist()
    assert (x0, y0, x1, y1) == (14, 42, 42, 70)
    assert torch.allclose(out, x[:, :, y0:y1, x0:x1], atol=1e-5)
    raw = torch.cat([torch.rand(50, 1), 20 * torch.randn(50, 2)], 1)
    boxes = coloc.boxes_from_params(coloc.inside_params(raw))
    assert boxes.min() >= -1e-4 and boxes.max() <= 84 + 1e-4
    whole = coloc.inside_params(torch.tensor([[1.0, 5.0, -5.0]]))
    assert torch.equal(whole, torch.tensor([[1.0, 0.0, 0.0]]))


def test_transformer_starts_at_the_identity_and_scale_follows_the_curriculum():
    st = coloc.coloc_transformer()
    st(torch.rand(3, 1, 84, 84))
    assert torch.allclose(st.last_params, torch.tensor([[1.0, 0.0, 0.0]] * 3))
    cfg = coloc.ColocConfig(steps=100, anneal=0.5)
    assert coloc.scale_at(0, cfg) == 1.0
    assert coloc.scale_at(25, cfg) == pytest.approx((1 + 1 / 3) / 2)
    assert coloc.scale_at(50, cfg) == coloc.scale_at(100, cfg) == pytest.approx(1 / 3)


@pytest.mark.parametrize("bad", [{"steps": 0}, {"anneal": 0.0}, {"anneal": 1.5}, {"lr": -1.0},
                                 {"margin": 0.0}, {"restarts": 0}, {"refine": (("a", 0),)},
                                 {"refine": (("a", 1.5),)}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        coloc.ColocConfig(**bad)


def test_softmax_embedding_pads_to_the_encoder_and_is_frozen():
    enc = build_model("cnn", (1, 42, 42), 10)
    embed = coloc.softmax_embedding(enc)
    v = torch.rand(4, 1, 28, 28, requires_grad=True)
    p = embed(v)
    assert p.shape == (4, 10) and torch.allclose(p.sum(1), torch.ones(4))
    padded = torch.nn.functional.pad(v.detach(), (7, 7, 7, 7))
    assert torch.allclose(p, enc(padded).softmax(1))
    p.sum().backward()
    assert v.grad is not None and all(q.grad is None for q in enc.parameters())


def test_contrast_embedding_sends_an_empty_view_to_the_uniform_distribution():
    torch.manual_seed(0)
    enc = build_model("cnn", (1, 42, 42), 10)
    with torch.no_grad():  # an encoder with a class it prefers for an empty view
        enc.classifier[-1].bias.copy_(torch.arange(10.0))
    plain, contrast = coloc.softmax_embedding(enc), coloc.softmax_embedding(enc, contrast=True)
    empty = torch.zeros(3, 1, 28, 28)
    assert plain(empty)[0].argmax() == 9
    assert torch.allclose(contrast(empty), torch.full((3, 10), 0.1), atol=1e-6)
    v = torch.rand(4, 1, 28, 28, requires_grad=True)
    padded = torch.nn.functional.pad(v.detach(), (7, 7, 7, 7))
    expected = (enc(padded) - enc(torch.nn.functional.pad(empty[:1], (7, 7, 7, 7)))).softmax(1)
    got = contrast(v)
    assert torch.allclose(got, expected, atol=1e-6)
    got.sum().backward()
    assert v.grad is not None and all(q.grad is None for q in enc.parameters())


def _check_activation_embedding(make, hidden):
    """``make(encoder)`` embeds 28x28 views as ``hidden(encoder, x)`` (``x``: the views padded to
    the encoder's 42x42, normalised and pooled as its forward does), flattened and L2-normalised,
    with gradients to the views and none to the frozen encoder. The encoder, embedding, views and
    the embedded views."""
    torch.manual_seed(0)
    enc = build_model("cnn", (1, 42, 42), 10)
    embed = make(enc)
    v = torch.rand(4, 1, 28, 28, requires_grad=True)
    z = embed(v)
    padded = torch.nn.functional.pad(v.detach(), (7, 7, 7, 7))
    expected = hidden(enc, enc.pool(enc.normalize(padded))).flatten(1)
    assert z.shape == expected.shape and torch.allclose(z.norm(dim=1), torch.ones(4))
    assert torch.allclose(z, expected / expected.norm(dim=1, keepdim=True), atol=1e-6)
    z.sum().backward()
    assert v.grad is not None and all(q.grad is None for q in enc.parameters())
    return enc, embed, v, z


def test_feature_embedding_is_the_last_hidden_layer_normalised_and_frozen():
    # by hand: the classifier without its last layer
    enc, embed, v, z = _check_activation_embedding(
        coloc.feature_embedding, lambda enc, x: enc.classifier[:-1](x))
    width = enc.classifier[-1].in_features
    assert z.shape == (4, width)
    assert embed(v[:2]).shape == (2, width)  # the hook keeps no earlier batch
    with pytest.raises(ValueError, match="linear"):
        coloc.feature_embedding(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)))


def test_map_embedding_is_the_last_conv_maps_normalised_and_frozen():
    # by hand: the classifier up to the ReLU after its last convolution, before the pooling
    def last_conv(enc: torch.nn.Module) -> int:
        return [k for k, m in enumerate(enc.classifier) if isinstance(m, torch.nn.Conv2d)][-1]

    enc, _, _, z = _check_activation_embedding(
        coloc.map_embedding, lambda enc, x: enc.classifier[:last_conv(enc) + 2](x))
    assert isinstance(enc.classifier[last_conv(enc) + 1], torch.nn.ReLU)
    assert z.shape[1] > enc.classifier[-1].in_features
    with pytest.raises(ValueError, match="ReLU after its last Conv2d"):
        coloc.map_embedding(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)))
    with pytest.raises(ValueError, match="ReLU after its last Conv2d"):
        coloc.map_embedding(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Conv2d(1, 2, 3)))


def test_config_embedding_choices():
    # the recipe's (results/coloc_exploration.md §10-11): maps without clutter, features with it
    cfg = coloc.ColocConfig()
    assert (cfg.for_setting(False).embedding, cfg.for_setting(True).embedding) == (
        "maps", "features")
    assert cfg.for_setting(True).clutter_embedding is None
    assert coloc.ColocConfig(clutter_embedding=None).for_setting(True).embedding == "maps"
    for bad in ({"embedding": "logits"}, {"clutter_embedding": "logits"}):
        with pytest.raises(ValueError, match="embedding"):
            coloc.ColocConfig(**bad)
    with pytest.raises(ValueError, match="contrast"):
        coloc.ColocConfig(embedding="softmax", contrast=True)  # the cluttered features
    coloc.ColocConfig(embedding="softmax", clutter_embedding=None, contrast=True)
    enc = build_model("cnn", (1, 28, 28), 10)
    v = torch.rand(2, 1, 28, 28)
    assert coloc.make_embedding(enc, coloc.ColocConfig(embedding="softmax"))(v).shape == (2, 10)
    assert coloc.make_embedding(enc, coloc.ColocConfig(embedding="features"))(v).shape == (
        2, enc.classifier[-1].in_features)
    assert coloc.make_embedding(enc, cfg)(v).shape == coloc.map_embedding(enc)(v).shape


def test_localise_trains_the_translation_only():
    x = torch.rand(6, 1, 84, 84)
    embed = coloc.softmax_embedding(build_model("cnn", (1, 28, 28), 10))
    st, loss = coloc.localise(x, embed, coloc.ColocConfig(steps=4, anneal=0.5, lr=1e-2,
                                                          refine=()))
    assert loss == loss  # finite, not NaN
    st(x)
    scale, shift = st.last_params[:, 0], st.last_params[:, 1:]
    assert torch.allclose(scale, torch.full((6,), 1 / 3))
    assert shift.abs().sum() > 0  # the translation moved away from the identity's


def test_restarts_keep_the_run_of_lowest_mean_loss():
    x = torch.rand(6, 1, 84, 84)
    embed = coloc.softmax_embedding(build_model("cnn", (1, 28, 28), 10))
    cfg = coloc.ColocConfig(steps=3, anneal=0.5, lr=1e-2, seed=4, restarts=3, refine=())
    st, losses, kept = coloc.localise_best(x, embed, cfg)
    assert len(losses) == 3 and losses[kept] == min(losses)
    # restart k is the plain run from seed 4 + k, scored on the same fixed crops
    again, _ = coloc.localise(x, embed, coloc.ColocConfig(steps=3, anneal=0.5, lr=1e-2,
                                                          seed=4 + kept, refine=()))
    assert coloc.mean_loss(again, x, embed, cfg) == pytest.approx(losses[kept])
    assert torch.equal(again.regressor.bias, st.regressor.bias)


def test_refine_stages_train_with_their_own_embeddings_at_the_final_scale():
    """After the curriculum, each refine stage runs its steps with its embedding (views and
    random crops: two calls a step), the scale held at 28/84; the translation keeps moving."""
    x = torch.rand(6, 1, 84, 84)
    cnn = build_model("cnn", (1, 28, 28), 10)
    calls = {"first": 0, "second": 0}

    def counting(name):
        inner = coloc.softmax_embedding(cnn)

        def embed(v):
            calls[name] += 1
            return inner(v)
        return embed

    cfg = coloc.ColocConfig(steps=3, anneal=0.5, lr=1e-2, refine=(("p", 2), ("r", 4)))
    plain, _ = coloc.localise(x, counting("first"), coloc.ColocConfig(steps=3, anneal=0.5,
                                                                      lr=1e-2, refine=()))
    calls["first"] = 0
    st, loss = coloc.localise(x, counting("first"), cfg, refine=[counting("second")] * 2)
    assert calls == {"first": 2 * 3, "second": 2 * (2 + 4)}
    assert loss == loss
    st(x)
    assert torch.allclose(st.last_params[:, 0], torch.full((6,), 1 / 3))
    assert not torch.equal(st.regressor.bias, plain.regressor.bias)
    with pytest.raises(ValueError, match="2 embeddings"):
        coloc.localise(x, counting("first"), cfg, refine=[counting("second")])


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


def test_clutter_restarts_pick_the_count_of_each_setting():
    cfg = coloc.ColocConfig(restarts=3, clutter_restarts=8)
    assert cfg.for_setting(False).restarts == 3 and cfg.for_setting(True).restarts == 8
    assert cfg.for_setting(True).clutter_restarts is None
    assert coloc.ColocConfig(restarts=2, clutter_restarts=None).for_setting(True).restarts == 2
    with pytest.raises(ValueError, match="clutter_restarts"):
        coloc.ColocConfig(clutter_restarts=0)


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
    assert coloc._matches(row, wanted.for_setting(False), 4, "train") == "same"
    assert coloc._matches(row, dataclasses.replace(wanted, encoder="x").for_setting(False), 4,
                          "train") == "other"
    # one from before rows recorded their encoder was made with the first recipes' (RTS) CNN
    del row["encoder"]
    legacy = dataclasses.replace(wanted, encoder=coloc.LEGACY_ENCODER).for_setting(False)
    assert coloc._matches(row, legacy, 4, "train") == "same"
    assert coloc._matches(row, wanted.for_setting(False), 4, "train") == "other"
    assert coloc._encoders([row]) == {False: coloc.LEGACY_ENCODER}


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
