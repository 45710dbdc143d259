"""torch.compile (CPU, default backend) of a SpatialTransformer matches eager. One test: ~20 s."""

import torch
from torch import nn

from torchstn import SpatialTransformer, fc_localization


def test_compiled_matches_eager():
    torch.manual_seed(0)
    shape = (1, 8, 8)
    st = SpatialTransformer(fc_localization(shape, hidden=(6,)), "affine", in_shape=shape,
                            out_size=(5, 6))
    with torch.no_grad():
        nn.init.normal_(st.regressor.weight, std=0.1)  # a non-identity warp
    x = torch.rand(2, *shape)
    eager = st(x)
    compiled = torch.compile(st)(x)
    torch.testing.assert_close(compiled, eager, atol=1e-5, rtol=0)
