"""The embeddings ``e`` (``torchstn.reproduce.coloc.embedding``): softmax, features and maps of a
frozen encoder."""

from __future__ import annotations

import pytest
import torch

from torchstn.models import build_model
from torchstn.reproduce import coloc


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
