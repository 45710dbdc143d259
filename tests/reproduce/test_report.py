"""The Table 1 report's columns: the machines and wall times of a cell's seeds, and how many
seeds its means average."""

from __future__ import annotations

from torchstn.reproduce import provenance
from torchstn.reproduce.report import fmt_machine, fmt_wall, seeds_trained


def test_report_names_each_seeds_machines_when_they_differ():
    cpu = {"machine": "Xeon", "device": "cpu", "threads": 1}
    gpu = {"machine": "NVIDIA H200", "device": "cuda", "threads": 1}
    label = {k: provenance.machine_label(v) for k, v in (("cpu", cpu), ("gpu", gpu))}
    assert label == {"cpu": "Xeon (cpu, 1 threads)", "gpu": "NVIDIA H200 (cuda, 1 threads)"}
    same = {"error": 1.0, "wall_time_s": 90.0,
            "runs": [{"seed": 0, **cpu, "wall_time_s": 60.0},
                     {"seed": 1, **cpu, "machines": [label["cpu"]], "wall_time_s": 120.0}]}
    assert fmt_machine(same) == label["cpu"] and fmt_wall(same) == "1.5 min"
    mixed = {"error": 1.0, "wall_time_s": 0.0,
             "runs": [{"seed": 0, **cpu, "wall_time_s": 1200.0},
                      {"seed": 1, **gpu, "machines": [label["gpu"]], "wall_time_s": 420.0},
                      {"seed": 2, **gpu, "machines": [label["cpu"], label["gpu"]],
                       "wall_time_s": 600.0}]}
    assert fmt_machine(mixed) == (f"seed 0: {label['cpu']}; seed 1: {label['gpu']}; "
                                  f"seed 2: {label['cpu']} + {label['gpu']}")
    assert fmt_wall(mixed) == "20.0 min, 7.0 min, 10.0 min (per seed)"
    assert fmt_machine({"error": None, "runs": []}) == ""


def test_the_report_counts_the_seeds_its_means_average_from_the_rows():
    # the count comes from the finished seeds in the rows, not from --seeds (what to train):
    # a --report-only run without --seeds must not rewrite "3 per cell" as anything else
    three, one, not_run = {"seeds": [0, 1, 2]}, {"seeds": [0]}, {"seeds": []}
    assert seeds_trained([three, three, not_run]) == "3 per cell"
    assert seeds_trained([one, three]) == "1–3 per cell"
    assert seeds_trained([not_run]) == seeds_trained([]) == "no cell run yet"


def test_the_view_phrase_comes_from_the_registry(monkeypatch):
    from torchstn.models import choices, registry
    from torchstn.reproduce.report import view_phrase

    phrase = view_phrase()
    for shape, view in choices.ST_FCN_VIEWS.items():
        spec = registry.model_spec("st-fcn-aff", shape, 10)
        assert f"{view}x{view} view of the {shape[1]}x{shape[2]}" in phrase
        # what the view alone changes: the other model keeps the localisation pool
        full = registry.model_spec("st-fcn-aff", shape, 10, loc_pool=spec.localization_pool,
                                   view=shape[1])
        assert f"{spec.widths[0]} hidden units instead of {full.widths[0]}" in phrase
    assert "localisation" not in phrase
    registry.cached_model_spec.cache_clear()
    monkeypatch.setattr(choices, "ST_FCN_VIEWS", {})
    try:
        assert view_phrase() == ""  # no view: nothing to say
    finally:
        registry.cached_model_spec.cache_clear()


def test_the_loc_pool_phrase_names_the_columns_and_widths_from_the_registry(monkeypatch):
    from torchstn.models import choices, registry
    from torchstn.reproduce.report import loc_pool_phrase

    rts = registry.model_spec("st-fcn-aff", (1, 42, 42), 10)
    at_pool = registry.model_spec("st-fcn-aff", (1, 42, 42), 10, loc_pool=rts.pool)
    phrase = loc_pool_phrase()
    assert phrase.startswith("; the ST-FCNs' localisation nets see the input pooled more")
    assert f"on RTS {rts.localization_pool}x (14x14) and on TC" in phrase
    assert f"{rts.widths[0]} instead of {at_pool.widths[0]} on RTS and " in phrase
    registry.cached_model_spec.cache_clear()
    try:
        monkeypatch.setattr(choices, "ST_FCN_LOC_POOLS", {(1, 60, 60): 4})
        assert "RTS" not in loc_pool_phrase() and "on TC 4x (15x15)," in loc_pool_phrase()
        registry.cached_model_spec.cache_clear()
        # data sets of one shape are named together
        monkeypatch.setattr(choices, "ST_FCN_LOC_POOLS", {(1, 28, 28): 2, (1, 60, 60): 4})
        r = registry.model_spec("st-fcn-aff", (1, 28, 28), 10)
        assert "on R, P and E 2x (14x14) and on TC 4x (15x15)," in loc_pool_phrase()
        assert f"({r.widths[0]} instead of " in loc_pool_phrase()
        registry.cached_model_spec.cache_clear()
        monkeypatch.setattr(choices, "ST_FCN_LOC_POOLS", {})
        assert loc_pool_phrase() == ""  # the paper's layout: nothing to say
    finally:
        registry.cached_model_spec.cache_clear()


def test_the_batchnorm_phrase_names_the_columns_from_the_registry(monkeypatch):
    from torchstn.models import choices
    from torchstn.reproduce.report import batchnorm_phrase

    monkeypatch.setattr(choices, "FCN_BATCHNORM", frozenset({(1, 60, 60)}))
    assert batchnorm_phrase().startswith("; on TC the FCN's and the ST-FCNs' classifiers put "
                                         "batch norm before each hidden ReLU (")
    monkeypatch.setattr(choices, "FCN_BATCHNORM", frozenset({(1, 60, 60), (1, 28, 28)}))
    assert batchnorm_phrase().startswith("; on R, P, E and TC the FCN's")
    monkeypatch.setattr(choices, "FCN_BATCHNORM", frozenset())
    assert batchnorm_phrase() == ""


def test_the_iterations_phrase_comes_from_the_registry(monkeypatch):
    from torchstn.models import choices
    from torchstn.reproduce.report import iterations_phrase

    monkeypatch.setattr(choices, "ST_FCN_ITERATIONS", {
        ("st-fcn-tps", (1, 42, 42)): 2, ("st-fcn-aff", (1, 60, 60)): 2,
        ("st-fcn-aff", (1, 42, 42)): 2, ("st-fcn-proj", (1, 60, 60)): 3})
    assert iterations_phrase().startswith(
        "; the localisation nets of the RTS ST-FCN Aff and ST-FCN Tps and of the TC ST-FCN Aff "
        "look twice; the localisation net of the TC ST-FCN Proj looks 3 times (")
    monkeypatch.setattr(choices, "ST_FCN_ITERATIONS", {  # one shape, three data sets
        ("st-fcn-aff", (1, 28, 28)): 2, ("st-fcn-tps", (1, 28, 28)): 2,
        ("st-fcn-tps", (1, 42, 42)): 2})
    assert iterations_phrase().startswith(
        "; the localisation nets of the R, P and E ST-FCN Aff and ST-FCN Tps and of the RTS "
        "ST-FCN Tps look twice (")
    monkeypatch.setattr(choices, "ST_FCN_ITERATIONS", {("st-fcn-tps", (1, 60, 60)): 3})
    assert iterations_phrase().startswith("; the localisation net of the TC ST-FCN Tps looks "
                                          "3 times (an iterative transformer")
    monkeypatch.setattr(choices, "ST_FCN_ITERATIONS", {})
    assert iterations_phrase() == ""
