"""MNIST and the distorted MNIST data sets of the paper, generated exactly as DATASETS.md says.

* :mod:`.idx`, :mod:`.mnist`: reading, downloading, verifying and locating the MNIST files.
* :mod:`.geometric` (R, RTS, P), :mod:`.elastic` (E), :mod:`.clutter` (TC, co-localisation),
  :mod:`.pairs` (addition): one pure, batched function per variant, e.g.
  ``rts(images, generator)``, with its parameters drawn in one place (``rts_params(n, generator)``).
* :mod:`.sets`: the registry :data:`DATASETS`, fixed test sets (:func:`test_set`) and training
  batches (:func:`train_batches`); :mod:`.rng` says how per-sample determinism is achieved.
* :mod:`.preview`: a PNG grid of samples.
"""

from .clutter import coloc, tc
from .elastic import e
from .geometric import p, r, rts
from .idx import IDXError, read_idx, write_idx
from .loader import TrainBatches
from .mnist import DownloadError, data_dir, download, load, load_float
from .pairs import addition
from .sets import (
    DATASETS,
    TEST_SEED,
    DatasetSpec,
    coloc_set,
    coloc_test_set,
    num_train_batches,
    test_set,
    train_batches,
    validation_set,
)

__all__ = [
    "DATASETS", "TEST_SEED", "DatasetSpec", "test_set", "validation_set", "coloc_test_set",
    "coloc_set",
    "train_batches", "num_train_batches", "TrainBatches",
    "r", "rts", "p", "e", "tc", "addition", "coloc",
    "IDXError", "read_idx", "write_idx", "DownloadError", "data_dir", "download", "load",
    "load_float",
]
