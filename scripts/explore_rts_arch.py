"""Exploratory RTS run of a CNN classifier variant (results/exploration.md, run D).

    python scripts/explore_rts_arch.py {ceil,pad2,padboth} {st,cnn} EPOCHS

A stand-alone loop with the library's data, transformer and localisation net: AdamW, one-cycle
lr 2e-3, bf16 autocast, one thread. Prints per-epoch training loss/accuracy, then the RTS test
error as JSON.
"""

from __future__ import annotations

import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from torchstn import SpatialTransformer, conv_localization
from torchstn.data import test_set, train_batches
from torchstn.models import MNIST_MEAN, MNIST_STD

PADDINGS = {"ceil": (0, 0), "pad2": (0, 3), "padboth": (4, 3)}
IN_SHAPE = (1, 42, 42)


def classifier(pads: tuple[int, int], widths=(32, 64), side: int = 21) -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = 1
    for width, k, p in zip(widths, (9, 7), pads, strict=True):
        layers += [nn.Conv2d(prev, width, k, padding=p), nn.ReLU(),
                   nn.MaxPool2d(2, ceil_mode=True)]
        side = math.ceil((side + 2 * p - k + 1) / 2)
        prev = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(prev * side * side, 10))


class Net(nn.Module):
    def __init__(self, pads: tuple[int, int], st: bool) -> None:
        super().__init__()
        self.st = (SpatialTransformer(conv_localization(IN_SHAPE), "affine", in_shape=IN_SHAPE)
                   if st else nn.Identity())
        self.pool = nn.AvgPool2d(2)
        self.cls = classifier(pads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls(self.pool((self.st(x) - MNIST_MEAN) / MNIST_STD))


def main() -> None:
    variant, model_name, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = Net(PADDINGS[variant], model_name == "st").to(memory_format=torch.channels_last)
    print(variant, model_name, sum(p.numel() for p in net.parameters()), flush=True)
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3,
                                                total_steps=epochs * math.ceil(60000 / 256))
    t0 = time.time()
    for ep in range(epochs):
        total_loss, correct, seen = 0.0, 0, 0
        for x, y in train_batches("rts", batch_size=256, seed=0, epoch=ep):
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = net(x)
                loss = F.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(y)
            correct += (out.argmax(1) == y).sum().item()
            seen += len(y)
        print(f"ep {ep + 1} loss {total_loss / seen:.4f} acc {correct / seen:.4f} "
              f"t {time.time() - t0:.0f}s", flush=True)
    net.eval()
    images, labels = test_set("rts")
    with torch.no_grad():
        errors = sum((net(images[i:i + 1000]).argmax(1) != labels[i:i + 1000]).sum().item()
                     for i in range(0, len(labels), 1000))
    print(json.dumps({"variant": variant, "model": model_name, "epochs": epochs,
                      "error": errors / len(labels), "time": time.time() - t0}))


if __name__ == "__main__":
    main()
