
import pytest
import torch
import torch.nn.functional as F

from torchstn.models import (
    MAX_PARAMS,
    MODEL_NAMES,
    TOLERANCE,
    ModelSpec,
    build_from_spec,
    build_model,
    choices,
    count_parameters,
    parameter_table,
    parse_name,
    registry,
)
from torchstn.models.registry import (
    classifier_batchnorm,
    default_pool,
    fit_width,
    localization_pool,
    model_spec,
    transformer_pool,
    transformer_view,
)

SHAPES = {"r": ((1, 28, 28), 10), "rts": ((1, 42, 42), 10), "tc": ((1, 60, 60), 10),
          "addition": ((2, 42, 42), 19)}


def test_names_cover_the_paper_and_the_other_families():
    for name in ["fcn", "cnn", "st-fcn-aff", "st-fcn-proj", "st-fcn-tps", "st-cnn-aff",
                 "st-cnn-proj", "st-cnn-tps", "st-cnn-att", "st-cnn-rts", "st-cnn-pwa"]:
        assert name in MODEL_NAMES
    assert parse_name("st-cnn-tps") == ("cnn", "tps")
    assert parse_name("fcn") == ("fcn", None)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown model 'st-cnn-foo'.*st-cnn-aff"):
        build_model("st-cnn-foo", (1, 28, 28), 10)


@pytest.mark.parametrize("dataset", list(SHAPES))
def test_every_model_matches_the_cnn_budget(dataset):
    shape, k = SHAPES[dataset]
    cnn = count_parameters(build_model("cnn", shape, k))
    for name in MODEL_NAMES:
        model = build_model(name, shape, k)
        n = count_parameters(model)
        assert abs(n - cnn) <= TOLERANCE * cnn, (name, n, cnn)
        assert n <= MAX_PARAMS
        assert model(torch.rand(2, *shape)).shape == (2, k)


def test_st_models_pay_with_a_narrower_classifier():
    shape, k = SHAPES["rts"]
    base = build_model("cnn", shape, k).spec.widths
    st = build_model("st-cnn-aff", shape, k).spec.widths
    assert st[0] < base[0] and st[1] < base[1]


def test_pool_rule():
    assert default_pool((1, 28, 28)) == 1
    assert default_pool((1, 42, 42)) == 2
    assert default_pool((1, 60, 60)) == 2


def test_fit_width_known_answer():
    assert fit_width(lambda w: w * w, 50) == 7  # 49 is closer to 50 than 64
    assert fit_width(lambda w: 10 * w, 5) == 1


@pytest.mark.parametrize("name", ["st-cnn-aff", "st-fcn-tps", "st-cnn-proj"])
def test_st_model_starts_as_identity_and_every_parameter_learns(name):
    shape, k = SHAPES["rts"]
    torch.manual_seed(0)
    model = build_model(name, shape, k)
    x = torch.rand(3, *shape)
    # the identity resamples the whole input at the transformer's output size (the RTS ST-FCNs
    # sample a smaller view), exactly what bilinear resizing with the same pixel centres gives
    warped = model.warp(x)
    expected = F.interpolate(x, size=warped.shape[-2:], mode="bilinear", align_corners=False)
    assert torch.allclose(warped, expected, atol=1e-5)
    model(x).logsumexp(1).sum().backward()
    reg = model.transformer.regressor
    # zero-initialised regression weights get a gradient through the sampler
    assert reg.weight.grad is not None and reg.weight.grad.abs().sum() > 0
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_spec_round_trip_rebuilds_same_architecture():
    model = build_model("st-cnn-att", (1, 28, 28), 10)
    spec = ModelSpec.from_dict(model.spec.to_dict())
    assert spec == model.spec
    clone = build_from_spec(spec)
    clone.load_state_dict(model.state_dict())
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(clone(x), model(x))


def test_bad_record_raises():
    with pytest.raises(ValueError, match="model record"):
        ModelSpec.from_dict({"name": "cnn"})


def test_wrong_input_shape_raises():
    model = build_model("cnn", (1, 28, 28), 10)
    with pytest.raises(ValueError, match=r"expected shape \(N, 1, 28, 28\)"):
        model(torch.rand(2, 1, 42, 42))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


def test_parameter_table_rts():
    rows = parameter_table("rts")
    assert [r["model"] for r in rows] == list(MODEL_NAMES)
    for r in rows:
        assert r["localization"] + r["classifier"] == r["total"]
        assert abs(r["vs_cnn"]) <= TOLERANCE
        assert (r["localization"] > 0) == r["model"].startswith("st-")


def test_parameter_table_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'zz'.*rts"):
        parameter_table("zz")


@pytest.mark.parametrize("change", [{"pool": 0}, {"widths": [10**6, 10**6]},
                                    {"in_shape": [1, 10**6, 10**6]}, {"num_classes": 0},
                                    {"widths": [-1, 2]}])
def test_absurd_records_are_refused_before_allocation(change):
    d = {**build_model("cnn", (1, 28, 28), 10).spec.to_dict(), **change}
    with pytest.raises(ValueError, match="model record"):
        ModelSpec.from_dict(d)


def test_parallel_st_fcn_outputs_are_pooled_to_one_outputs_size():
    # addition: one output pooled 2x is 2 x 21 x 21 = 882 values; two pooled 2x would be 1764,
    # pooled 3x 4 x 14 x 14 = 784 <= 882
    assert transformer_pool("2xst-fcn-tps", (2, 42, 42)) == 3
    assert transformer_pool("st-fcn-tps", (2, 42, 42)) == 2
    assert transformer_pool("2xst-fcn-aff", (1, 28, 28)) == 2  # 2 x 14 x 14 <= 1 x 28 x 28
    assert transformer_pool("st-fcn-aff", (1, 28, 28)) == 1
    # ST-CNNs, FCN and CNN keep the default pool
    for name in ("2xst-cnn-aff", "fcn", "cnn"):
        assert transformer_pool(name, (2, 42, 42)) == default_pool((2, 42, 42))
    spec = model_spec("2xst-fcn-tps", (2, 42, 42), 19)
    assert spec.pool == 3
    assert build_from_spec(spec)(torch.rand(2, 2, 42, 42)).shape == (2, 19)


def test_parallel_st_fcn_localisation_nets_see_the_input_pooled_per_copy():
    spec = build_model("2xst-fcn-aff", (2, 42, 42), 19).spec
    assert (spec.pool, spec.loc_pool, spec.localization_pool) == (3, 4, 4)
    first = build_from_spec(spec).transformer.branches[0].localization
    assert first[0].k == 4  # AvgPool(4): the net reads 2x10x10
    assert build_model("st-fcn-aff", (2, 42, 42), 19).spec.loc_pool is None
    assert build_model("2xst-cnn-aff", (2, 42, 42), 19).spec.loc_pool is None
    # the record says so, and a record without it (made before) rebuilds the old nets
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    old = {k: v for k, v in spec.to_dict().items() if k != "loc_pool"}
    rebuilt = build_from_spec(ModelSpec.from_dict({**old, "widths": [35, 35], "pool": 2}))
    assert rebuilt.spec.localization_pool == 2
    assert rebuilt.transformer.branches[0].localization[0].k == 2
    with pytest.raises(ValueError, match="loc_pool"):
        ModelSpec.from_dict({**spec.to_dict(), "loc_pool": 0})


@pytest.mark.parametrize("name", ["st-cnn-tps", "cnn", "fcn"])
def test_only_st_fcns_take_a_localisation_pool(name):
    # an ST-CNN's localisation net has its own fixed input pool: a spec or record saying
    # otherwise would not describe the model built from it
    with pytest.raises(ValueError, match=f"only ST-FCN models .* got 3 for model '{name}'"):
        model_spec(name, (1, 42, 42), 10, loc_pool=3)
    record = model_spec(name, (1, 42, 42), 10).to_dict()
    with pytest.raises(ValueError, match="model record loc_pool: only ST-FCN"):
        ModelSpec.from_dict({**record, "loc_pool": 3})
    # the classifier's own pool is what they have: accepted, and recorded as nothing
    assert model_spec(name, (1, 42, 42), 10, loc_pool=2).loc_pool is None


def test_single_st_fcn_localisation_pool_comes_from_the_registry_table(monkeypatch):
    # TC: the localisation net reads the 60x60 input pooled 4x, the classifier the view pooled 2x
    spec = model_spec("st-fcn-aff", (1, 60, 60), 10)
    assert (spec.pool, spec.localization_pool) == (2, 4)
    assert build_from_spec(spec).transformer.localization[0].k == 4
    # a smaller localisation net leaves the classifier more of the same budget
    at_pool = model_spec("st-fcn-aff", (1, 60, 60), 10, loc_pool=2)
    assert at_pool.localization_pool == 2 and at_pool.widths[0] < spec.widths[0]
    # RTS: the 42x42 input pooled 3x (14x14), the classifier's 2x
    rts = model_spec("st-fcn-tps", (1, 42, 42), 10)
    assert (rts.pool, rts.localization_pool) == (2, 3)
    assert build_from_spec(rts).transformer.localization[0].k == 3
    # R, P and E: the 28x28 input pooled 2x (14x14), the classifier's not at all
    assert model_spec("st-fcn-proj", (1, 28, 28), 10).localization_pool == 2
    # other inputs and other models: the classifier's pool
    other = model_spec("st-fcn-aff", (1, 32, 32), 10)
    assert other.loc_pool is None and other.localization_pool == other.pool
    assert model_spec("2xst-fcn-aff", (2, 42, 42), 19).localization_pool == 4
    assert model_spec("st-cnn-aff", (1, 60, 60), 10).loc_pool is None
    monkeypatch.setattr(choices, "ST_FCN_LOC_POOLS", {})
    assert localization_pool("st-fcn-aff", (1, 60, 60), 2) == 2


def test_model_spec_refits_the_classifier_to_another_localisation_pool():
    default = model_spec("2xst-fcn-aff", (2, 42, 42), 19)
    assert model_spec("2xst-fcn-aff", (2, 42, 42), 19, 4) == default
    finer = model_spec("2xst-fcn-aff", (2, 42, 42), 19, 2)
    # the nets that see more of the input take more of the budget: a narrower classifier
    assert finer.localization_pool == 2 and finer.widths[0] < default.widths[0]
    target = count_parameters(build_model("cnn", (2, 42, 42), 19))
    assert abs(count_parameters(build_from_spec(finer)) - target) <= TOLERANCE * target
    with pytest.raises(ValueError, match="loc_pool"):
        model_spec("2xst-fcn-aff", (2, 42, 42), 19, 0)


def test_model_spec_refits_the_classifier_to_another_output_pool():
    finer = model_spec("2xst-fcn-tps", (2, 42, 42), 19, loc_pool=4, pool=2)
    coarser = model_spec("2xst-fcn-tps", (2, 42, 42), 19, loc_pool=4, pool=3)
    assert model_spec("2xst-fcn-tps", (2, 42, 42), 19) == coarser  # transformer_pool's
    # 4 x 14 x 14 classifier inputs instead of 4 x 21 x 21: wider layers for the same budget,
    # which stays the CNN's at the default pool
    assert (coarser.pool, coarser.localization_pool) == (3, 4)
    assert (finer.pool, finer.localization_pool) == (2, 4)
    assert coarser.widths[0] > finer.widths[0]
    model = build_from_spec(coarser)
    target = count_parameters(build_model("cnn", (2, 42, 42), 19))
    assert abs(count_parameters(model) - target) <= TOLERANCE * target
    assert model(torch.rand(2, 2, 42, 42)).shape == (2, 19)
    assert ModelSpec.from_dict(coarser.to_dict()) == coarser  # a saved run reloads as built
    with pytest.raises(ValueError, match="pool"):
        model_spec("2xst-fcn-tps", (2, 42, 42), 19, pool=0)


def test_an_st_fcn_can_sample_a_smaller_view_for_a_wider_classifier():
    # the input's own size: the model (and record) of before views existed
    default = model_spec("st-fcn-aff", (1, 60, 60), 10, view=60)
    assert default.view is None and "view" not in default.to_dict()
    small = model_spec("st-fcn-aff", (1, 60, 60), 10, view=40)
    # 40x40 pooled 2x: 400 classifier inputs instead of 900, so wider layers for the same budget
    assert (small.view, small.pool) == (40, 2) and small.widths[0] > default.widths[0]
    check_view_model(small, 40)


def check_view_model(spec: ModelSpec, view: int) -> None:
    """The model of ``spec`` samples a ``view`` x ``view`` output, classifies, keeps the CNN's
    parameter budget, and its record reloads as built."""
    c, h, w = spec.in_shape
    model = build_from_spec(spec)
    assert model.transformer.out_size == (view, view)
    assert model.warp(torch.rand(3, c, h, w)).shape == (3, c, view, view)
    assert model(torch.rand(3, c, h, w)).shape == (3, spec.num_classes)
    target = count_parameters(build_model("cnn", spec.in_shape, spec.num_classes))
    assert abs(count_parameters(model) - target) <= TOLERANCE * target
    assert ModelSpec.from_dict(spec.to_dict()) == spec and spec.to_dict()["view"] == view


def test_an_st_cnn_can_sample_a_larger_view_for_its_classifier():
    # RTS: a 56x56 output pooled 2x gives the CNN a 28x28 image, an MNIST digit's size
    default = model_spec("st-cnn-aff", (1, 42, 42), 10)
    spec = model_spec("st-cnn-aff", (1, 42, 42), 10, view=56)
    assert default.view is None and (spec.view, spec.pool) == (56, 2)
    check_view_model(spec, 56)


@pytest.mark.parametrize("name, view, match", [
    ("cnn", 40, "only ST-FCN and ST-CNN"), ("fcn", 40, "only ST-FCN and ST-CNN"),
    ("st-fcn-aff", 1, "at least the pool"), ("st-fcn-aff", 10**6, "integer side"),
    ("st-fcn-aff", 40.0, "integer or None"), ("st-fcn-aff", True, "integer or None")])
def test_a_view_is_refused_where_it_makes_no_sense(name, view, match):
    with pytest.raises(ValueError, match=match):
        model_spec(name, (1, 60, 60), 10, view=view)


def test_a_record_with_a_bad_view_is_refused():
    record = model_spec("st-fcn-aff", (1, 60, 60), 10, view=40).to_dict()
    for bad in (1, -3, 10**6):
        with pytest.raises(ValueError, match="model record view"):
            ModelSpec.from_dict({**record, "view": bad})
    with pytest.raises(ValueError, match="only ST-FCN and ST-CNN"):
        ModelSpec.from_dict({**record, "name": "cnn", "loc_pool": None})


@pytest.mark.parametrize("side, view", [(60, 28), (42, 34)])
def test_the_tc_and_rts_st_fcns_sample_a_smaller_view(side, view):
    for name in ("st-fcn-aff", "st-fcn-proj", "st-fcn-tps"):
        spec = model_spec(name, (1, side, side), 10)
        assert spec.view == transformer_view(name, (1, side, side)) == view
        warped = build_from_spec(spec).warp(torch.rand(2, 1, side, side))
        assert warped.shape == (2, 1, view, view)
    # elsewhere, and for every other kind of model, the transformer keeps the input's size
    assert transformer_view("st-fcn-aff", (1, 28, 28)) is None
    assert model_spec("st-fcn-aff", (1, 28, 28), 10).view is None
    for name in ("fcn", "cnn", "st-cnn-aff", "2xst-fcn-aff"):
        assert transformer_view(name, (1, side, side)) is None


def test_the_rts_and_tc_fcn_classifiers_normalise_their_hidden_layers(monkeypatch):
    tc, rts, r = (1, 60, 60), (1, 42, 42), (1, 28, 28)
    for name in ("fcn", "st-fcn-aff", "st-fcn-tps", "2xst-fcn-aff"):
        assert classifier_batchnorm(name, tc) and model_spec(name, tc, 10).batchnorm
        assert classifier_batchnorm(name, rts) and model_spec(name, rts, 10).batchnorm
        assert not model_spec(name, r, 10).batchnorm
    assert not model_spec("2xst-fcn-aff", (2, 42, 42), 19).batchnorm  # addition: unchanged
    for name in ("cnn", "st-cnn-aff", "st3d-cnn"):
        assert not classifier_batchnorm(name, tc)
    spec = model_spec("st-fcn-aff", tc, 10)
    model = build_from_spec(spec)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.classifier) == 2
    # batch norm's scale and shift are paid for: the refitted widths stay on the CNN's budget
    plain = model_spec("st-fcn-aff", tc, 10, batchnorm=False)
    assert not plain.batchnorm and plain.widths[0] > spec.widths[0]
    target = count_parameters(build_model("cnn", tc, 10))
    assert abs(count_parameters(model) - target) <= TOLERANCE * target
    model(torch.rand(3, *tc)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    monkeypatch.setattr(choices, "FCN_BATCHNORM", frozenset())
    assert not classifier_batchnorm("st-fcn-aff", tc)


def test_a_batchnorm_record_round_trips_and_old_records_rebuild_without_it():
    spec = model_spec("fcn", (1, 60, 60), 10)
    record = spec.to_dict()
    assert record["batchnorm"] is True and ModelSpec.from_dict(record) == spec
    plain = model_spec("fcn", (1, 28, 28), 10)
    assert "batchnorm" not in plain.to_dict()  # records written before batch norm existed
    old = {k: v for k, v in record.items() if k != "batchnorm"}
    assert not build_from_spec(ModelSpec.from_dict(old)).spec.batchnorm
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="model record batchnorm: expected True or False"):
            ModelSpec.from_dict({**record, "batchnorm": bad})
    cnn = model_spec("cnn", (1, 60, 60), 10).to_dict()
    with pytest.raises(ValueError, match="only models with an FCN classifier"):
        ModelSpec.from_dict({**cnn, "batchnorm": True})


@pytest.mark.parametrize("name, value, match", [
    ("cnn", True, "only models with an FCN classifier"),
    ("st-cnn-aff", True, "only models with an FCN classifier"),
    ("fcn", 1, "expected True or False"), ("fcn", "on", "expected True or False")])
def test_model_spec_refuses_a_bad_batchnorm(name, value, match):
    with pytest.raises(ValueError, match=match):
        model_spec(name, (1, 60, 60), 10, batchnorm=value)


def test_the_st_fcns_look_twice_on_the_same_parameters(monkeypatch):
    rts = (1, 42, 42)
    spec = model_spec("st-fcn-aff", rts, 10)
    once = model_spec("st-fcn-aff", rts, 10, iterations=1)
    assert spec.iterations == 2 and once.iterations == 1 and spec.widths == once.widths
    model = build_from_spec(spec)
    assert model.transformer.iterations == 2
    assert count_parameters(model) == count_parameters(build_from_spec(once))
    model(torch.rand(3, *rts)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    for same in ("st-fcn-proj", "st-fcn-tps"):
        assert model_spec(same, rts, 10).iterations == 2
    for other in ("st-cnn-aff", "st-cnn-tps", "fcn"):
        assert model_spec(other, rts, 10).iterations == 1
    for name in ("st-fcn-aff", "st-fcn-proj", "st-fcn-tps"):  # R, P and E
        assert model_spec(name, (1, 28, 28), 10).iterations == 2
    assert model_spec("st-cnn-aff", (1, 28, 28), 10).iterations == 1
    assert model_spec("st-fcn-tps", (1, 60, 60), 10).iterations == 1
    assert model_spec("st-fcn-aff", (1, 60, 60), 10).iterations == 2
    monkeypatch.setattr(choices, "ST_FCN_ITERATIONS", {})
    assert registry.transformer_iterations("st-fcn-aff", rts) == 1


def test_an_iterations_record_round_trips_and_old_records_rebuild_with_one_look():
    spec = model_spec("st-fcn-aff", (1, 42, 42), 10)
    record = spec.to_dict()
    assert record["iterations"] == 2 and ModelSpec.from_dict(record) == spec
    assert "iterations" not in model_spec("st-cnn-tps", (1, 28, 28), 10).to_dict()
    old = {k: v for k, v in record.items() if k != "iterations"}  # written before iterations
    assert build_from_spec(ModelSpec.from_dict(old)).transformer.iterations == 1
    for bad, match in ((0, "expected an int in 1..8"), (9, "expected an int in 1..8"),
                       ("2", "expected an int in 1..8"), (True, "expected an int in 1..8")):
        with pytest.raises(ValueError, match=f"model record iterations: {match}"):
            ModelSpec.from_dict({**record, "iterations": bad})
    cnn = model_spec("cnn", (1, 42, 42), 10).to_dict()
    with pytest.raises(ValueError, match="expected 1 for 'cnn' \\(only the transformers of "
                                         "ST-FCNs and ST-CNNs iterate\\)"):
        ModelSpec.from_dict({**cnn, "iterations": 2})
    st_cnn = {**model_spec("st-cnn-aff", (1, 42, 42), 10).to_dict(), "iterations": 3}
    assert build_from_spec(ModelSpec.from_dict(st_cnn)).transformer.iterations == 3


def test_an_st_cnn_can_look_twice_on_the_same_parameters():
    once = model_spec("st-cnn-tps", (1, 42, 42), 10, iterations=1)
    twice = model_spec("st-cnn-tps", (1, 42, 42), 10, iterations=2)
    assert twice.iterations == 2 and twice.widths == once.widths
    torch.manual_seed(0)
    model = build_from_spec(twice)
    assert model.transformer.iterations == 2
    assert count_parameters(model) == count_parameters(build_from_spec(once))
    x = torch.rand(3, 1, 42, 42)
    assert torch.allclose(model.warp(x), x, atol=1e-5)  # identity at init, after two looks
    with torch.no_grad():  # off the identity, so that the second look's input depends on it
        model.transformer.regressor.weight.normal_(0, 0.02)
    model(x).logsumexp(1).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name, value, match", [
    ("fcn", 2, "only the transformers of ST-FCNs and ST-CNNs iterate"),
    ("cnn", 3, "only the transformers of ST-FCNs and ST-CNNs iterate"),
    ("st-fcn-aff", 0, "expected an int in 1..8"), ("st-fcn-aff", 2.0, "expected an int in 1..8")])
def test_model_spec_refuses_bad_iterations(name, value, match):
    with pytest.raises(ValueError, match=match):
        model_spec(name, (1, 42, 42), 10, iterations=value)
