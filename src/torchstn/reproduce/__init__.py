"""Reproducing the paper's MNIST experiments: ``torchstn reproduce table1|addition|3d|coloc``.

Table 1 (and, with the same machinery, addition and 3D: :mod:`.addition`, :mod:`.volume`):

* :mod:`.recipes`: the cells, the paper's errors (PAPER.md §2) and one training recipe per column.
* :mod:`.table1`: cell parsing, run-folder states, commands.
* :mod:`.jobs`: what to do with each cell and seed, and training it in a child process.
* :mod:`.evaluation`: test errors of finished runs, committed checkpoints, one result per cell.
* :mod:`.report`: ``results/table1.json`` and ``results/table1.md``.
* :mod:`.figures`: Figure-1-style pictures of the ST-CNNs.
* :mod:`.driver`: ``torchstn reproduce table1`` end to end.

Co-localisation trains no classifier and has its own package, :mod:`.coloc`.
"""

from .driver import Options, report, reproduce_table1
from .figures import write_figures
from .jobs import plan
from .recipes import COLUMNS, PAPER_ERRORS, RECIPES, Cell, all_cells, recipe
from .table1 import parse_cells, run_state

__all__ = ["Options", "report", "reproduce_table1", "write_figures", "COLUMNS", "PAPER_ERRORS",
           "RECIPES", "Cell", "all_cells", "recipe", "parse_cells", "plan", "run_state"]
