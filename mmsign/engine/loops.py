"""An epoch-based training loop that resumes in the middle of an epoch exactly."""
from typing import Any, Dict, Optional

from mmaction.registry import LOOPS
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmsign.engine.random_state import set_random_state


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` that continues an epoch where it stopped.

    Resumed from a checkpoint written in the middle of an epoch (``CheckpointHook`` with
    ``by_epoch=False``), mmengine's loop starts that epoch again from its first batch,
    so the batches before the checkpoint are trained twice and the run ends
    ``iterations done`` batches late. This loop draws the epoch's batches in the same
    order (the sampler is seeded by epoch), skips the ones already trained, and only
    then restores the random state saved with the checkpoint
    (:class:`~mmsign.engine.hooks.TrainRandomStateHook` hands it over in
    ``resume_random_state``), so the rest of the epoch sees the same batches, the same
    augmentations and the same dropout as the uninterrupted run. Skipped batches are
    loaded and dropped (their augmentations draw from the generators before the restore);
    the model does not see them. Without a resume it is ``EpochBasedTrainLoop``.

    Args: as ``mmengine.runner.EpochBasedTrainLoop``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Random state to restore before the first trained batch after a resume.
        self.resume_random_state: Optional[Dict[str, Any]] = None

    def run_epoch(self) -> None:
        """Iterate one epoch, skipping the batches a resumed checkpoint already trained."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        num_batches = len(self.dataloader)
        done = min(max(self._iter - self._epoch * num_batches, 0), num_batches)
        state, self.resume_random_state = self.resume_random_state, None
        if state is not None and done == 0:
            set_random_state(state)
        if done < num_batches:
            batches = iter(self.dataloader)
            if done:
                print_log(f'resuming epoch {self._epoch + 1} after its batch {done} of '
                          f'{num_batches}: loading and skipping the batches already trained',
                          logger='current')
                for _ in range(done):
                    next(batches)
            if state is not None and done:
                set_random_state(state)
            for idx, data_batch in enumerate(batches, start=done):
                self.run_iter(idx, data_batch)
        elif state is not None:
            set_random_state(state)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
