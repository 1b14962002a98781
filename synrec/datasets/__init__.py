"""The datasets of the study on disk: one module per concern.

* :mod:`.split` - :class:`Split` (one split's images and labels, its content fingerprint) and where a dataset is read
  from (its own ``root`` or its hub copy);
* :mod:`.formats` - the readers of the on-disk formats (imagefolder, CIFAR pickles, CoOp's split JSON, webdataset),
  one registry, :func:`load_split`;
* :mod:`.labels` - the class-count and label-order checks every reader makes;
* :mod:`.checks` - complete and readable, split by split (``--check``, and before every workflow run);
* :mod:`.cli` - ``python -m synrec.datasets [--check]``.

The readers know nothing of :mod:`synrec.prepare` (the downloader); the CLI asks it how to fetch a missing dataset.
"""

from .checks import check_dataset, check_split, count_problem, has_val_split, splits_in_use
from .formats import READERS, ZEROSHOT_TEST, disk_classnames, load_split
from .split import IMAGE_EXTENSIONS, Split, _dataset_root, _under, dataset_folder, on_disk

#: feature sources that are splits of the real dataset (the others are synthetic image stores, ``syn-<strategy>``)
REAL_SOURCES = ("test", "zs-test", "train", "val")

__all__ = ["IMAGE_EXTENSIONS", "READERS", "REAL_SOURCES", "ZEROSHOT_TEST", "Split", "_dataset_root", "_under",
           "check_dataset", "check_split", "count_problem", "dataset_folder", "disk_classnames", "has_val_split",
           "load_split", "on_disk", "splits_in_use"]
