"""``torch.utils.data`` integration: the generated training stream as an ``IterableDataset``.

Generation is batched (a whole batch is warped in one call), so the dataset yields *batches*: use
it with ``DataLoader(dataset, batch_size=None, num_workers=k)``. Worker ``i`` of ``k`` generates
batches ``i, i + k, ...`` of the epoch and the loader interleaves the workers in order, so the
loader yields exactly the batches of :func:`~torchstn.data.train_batches`, in the same order,
with the generation moved off the training process. Test sets are plain tensors:
``TensorDataset(*test_set(name))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch import Tensor
from torch.utils.data import IterableDataset, get_worker_info

from .sets import num_train_batches, train_batches


class TrainBatches(IterableDataset):
    """One epoch of freshly distorted training batches ``(images (B, C, H, W), labels (B,))``.

    Args:
        name: data set name (``"rts"``, ...).
        epoch: the epoch to generate; change it with :meth:`set_epoch` between epochs.
        **kwargs: any other argument of :func:`~torchstn.data.train_batches` (``root``,
            ``batch_size``, ``seed``, ``rank``, ``world_size``, ``limit``, ``drop_last``...).
    """

    def __init__(self, name: str, *, epoch: int = 0, **kwargs: Any) -> None:
        super().__init__()
        self.name = name
        self.epoch = epoch
        self.kwargs = kwargs

    def set_epoch(self, epoch: int) -> None:
        """Generate epoch ``epoch`` at the next iteration (fresh distortions and order)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        info = get_worker_info()
        worker = (0, 1) if info is None else (info.id, info.num_workers)
        kwargs = dict(self.kwargs)
        if info is not None:
            kwargs.setdefault("prefetch_depth", 0)  # the worker process is the prefetcher
        return train_batches(self.name, epoch=self.epoch, worker=worker, **kwargs)

    def __len__(self) -> int:
        keys = ("root", "batch_size", "world_size", "limit", "drop_last")
        return num_train_batches(self.name, **{k: v for k, v in self.kwargs.items() if k in keys})
