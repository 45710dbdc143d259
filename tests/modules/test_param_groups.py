"""localization_param_groups: localisation nets at a scaled learning rate, each parameter once."""

import torch
from torch import nn

from torchstn import (
    ParallelTransformers,
    SpatialTransformer,
    fc_localization,
    localization_param_groups,
)

SHAPE = (1, 6, 6)


def st():
    return SpatialTransformer(fc_localization(SHAPE, hidden=(4,)), "affine", in_shape=SHAPE)


def model():
    return nn.Sequential(
        ParallelTransformers(st(), st()), nn.Flatten(), nn.Linear(2 * 36, 5), nn.ReLU(),
        nn.Linear(5, 3),
    )


def test_groups_cover_every_parameter_once_with_right_lr():
    m = model()
    groups = localization_param_groups(m, lr=0.1, loc_lr_mult=0.01, momentum=0.9)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in m.parameters()}
    by_name = {g["name"]: g for g in groups}
    assert by_name["localization"]["lr"] == 0.1 * 0.01
    assert by_name["rest"]["lr"] == 0.1
    assert all(g["momentum"] == 0.9 for g in groups)
    loc_ids = {id(p) for g in [by_name["localization"]] for p in g["params"]}
    for branch in m[0].branches:
        for p in [*branch.localization.parameters(), *branch.regressor.parameters()]:
            assert id(p) in loc_ids
    assert id(m[2].weight) not in loc_ids
    opt = torch.optim.SGD(groups, lr=1.0)
    assert [g["lr"] for g in opt.param_groups] == [0.001, 0.1]


def test_shared_transformer_counted_once_and_empty_groups_dropped():
    shared = st()
    m = nn.ModuleDict({"a": shared, "b": shared})
    groups = localization_param_groups(m, lr=1.0, loc_lr_mult=0.5)
    assert [g["name"] for g in groups] == ["localization"]
    assert len(groups[0]["params"]) == len(list(shared.parameters()))
    plain = localization_param_groups(nn.Linear(2, 2), lr=1.0, loc_lr_mult=0.5)
    assert [g["name"] for g in plain] == ["rest"]
