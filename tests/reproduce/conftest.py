"""Every column's recipe trains as many epochs as the fake run folders of the tests record
(``test_table1.make_run``), so those folders follow their column's current recipe; tests marked
``real_recipes`` see the recipes as they are."""

import pytest

from torchstn.reproduce import recipes

from .test_table1 import EPOCH_TIMES


@pytest.fixture(autouse=True)
def short_recipes(monkeypatch, request):
    if request.node.get_closest_marker("real_recipes"):
        return
    for dataset, rec in list(recipes.RECIPES.items()):
        monkeypatch.setitem(recipes.RECIPES, dataset, {**rec, "epochs": len(EPOCH_TIMES)})
