"""The synthetic dataset, generated on first use and read like PHOENIX14."""
import os.path as osp
from typing import Any, Optional

from mmaction.registry import DATASETS
from mmengine.dist import barrier, get_dist_info

from mmsign.datasets.releases import Phoenix2014Dataset
from mmsign.datasets.synthetic import (
    FRAME_DIR,
    PHOENIX_DIR,
    SyntheticOptions,
    ensure_synthetic_dataset,
)


@DATASETS.register_module()
class SyntheticSignDataset(Phoenix2014Dataset):
    """Synthetic sign videos (:mod:`mmsign.datasets.synthetic`) in the PHOENIX14 layout.

    The data is generated into ``data_root`` when it is missing or was made with other
    ``generator`` options (rank 0 generates, the other ranks wait), then read by the real
    PHOENIX14 reader, so the quick start exercises the same code as a real run. The
    frames are generated at their final size in the release's ``fullFrame-210x260px``
    folder, so no resizing step is needed.

    Args:
        data_root (str): Folder of the generated dataset (it holds
            ``phoenix-2014-multisigner/``).
        generator (dict, optional): The fields of
            :class:`~mmsign.datasets.synthetic.SyntheticOptions` (``num_glosses``,
            ``num_train``, ``image_size``, ``seed``, ...); unknown names are refused here.
        **kwargs: :class:`Phoenix2014Dataset` arguments (``split``, ``vocab_file``,
            ``pipeline``, ``test_mode``, ...).
    """

    def __init__(self, data_root: str, generator: Optional[dict] = None,
                 **kwargs: Any) -> None:
        self.synthetic_root = data_root
        self.generator = SyntheticOptions.from_dict(generator or {})
        kwargs.setdefault('data_prefix', dict(frames=FRAME_DIR))
        super().__init__(data_root=osp.join(data_root, PHOENIX_DIR), **kwargs)

    def full_init(self) -> None:
        """Generate the data if needed (rank 0; the others wait), then read it."""
        if self._fully_initialized:
            return
        rank, world_size = get_dist_info()
        if rank == 0:
            ensure_synthetic_dataset(self.synthetic_root, self.generator)
        if world_size > 1:
            barrier()
        super().full_init()
