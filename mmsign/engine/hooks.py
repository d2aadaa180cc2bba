"""Hooks that keep long runs safe: checkpoints, random state, bad samples, mismatches.

configs/_base_/default_runtime.py names them for every recipe; docs/reliability.md
says what each case does.
"""
import logging
from collections import Counter
from typing import Any, Dict, List, Optional

import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import BaseOptimWrapper
from mmengine.runner import EpochBasedTrainLoop

from mmsign.datasets.base import SKIPPED_SAMPLES_KEY
from mmsign.engine.checkpoint import check_checkpoint_file, check_checkpoint_fits
from mmsign.engine.loops import ResumableEpochBasedTrainLoop
from mmsign.engine.random_state import (
    get_random_state,
    seed_samples_per_epoch,
    set_random_state,
)
from mmsign.utils.state_dict import first_difference

#: Skipped samples listed by name in a report; the rest are counted.
_MAX_LISTED = 50


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class TrainRandomStateHook(Hook):
    """Make a resumed run draw the same random numbers as an uninterrupted one.

    mmengine lacks it: its checkpoints record the seed, not the generators' state, so a
    resumed run draws other random numbers than the uninterrupted one would have.

    - Each checkpoint stores the state of the global generators (Python, numpy, torch
      CPU and CUDA) under ``random_state``, as it was after the last training iteration.
    - Validation during training runs on a copy of that state and the training state is
      put back afterwards, so validating (or not) never changes the training stream.
    - On resume (a checkpoint loaded and training continuing from iteration > 0), the
      state is restored before the next batch is drawn: by
      :class:`~mmsign.engine.loops.ResumableEpochBasedTrainLoop` after it has skipped
      the batches already trained, else at the start of training.

    - Before training, the training sampler is wrapped so that each sample's random
      numbers (data augmentation) depend on the run's seed, the epoch and the sample
      only (:func:`~mmsign.engine.random_state.seed_samples_per_epoch`): the generators
      of persistent DataLoader workers, which no checkpoint holds, do not matter.

    With seeded, deterministic runs (``--seed 0 --deterministic``), data loaded in the
    main process or by workers (persistent or not, as the recipes load it), the losses
    and the final model after a resume equal those of the uninterrupted run. With
    several processes the state of rank 0 alone is saved, so it is not restored there
    (the resumed run is correct, but draws other random numbers).
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._training_state: Optional[Dict[str, Any]] = None
        self._loaded_state: Optional[Dict[str, Any]] = None

    def before_val(self, runner) -> None:
        """Keep the training stream while validation draws from the generators."""
        self._training_state = get_random_state()

    def after_val(self, runner) -> None:
        """Put the training stream back."""
        if self._training_state is not None:
            set_random_state(self._training_state)
            self._training_state = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the training random state in the checkpoint."""
        checkpoint['random_state'] = self._training_state or get_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint's random state until training starts."""
        self._loaded_state = checkpoint.get('random_state')

    def before_train(self, runner) -> None:
        """Seed the training samples per epoch, and hand the loaded state to the loop, or
        restore it now."""
        # persistent workers' generators are not in any checkpoint: make them not matter
        seed_samples_per_epoch(runner.train_dataloader, runner.seed)
        state, self._loaded_state = self._loaded_state, None
        if runner.iter == 0:
            return  # load_from (fine-tuning), not a resume
        if state is None:
            print_log('the resumed checkpoint holds no random state (written without '
                      'TrainRandomStateHook): training continues with fresh random numbers',
                      logger='current', level=logging.WARNING)
            return
        if get_world_size() > 1:
            print_log('resumed with several processes: the random state of the checkpoint '
                      '(rank 0 only) is not restored', logger='current')
            return
        loop = runner.train_loop
        if isinstance(loop, ResumableEpochBasedTrainLoop):
            loop.resume_random_state = state
            return
        set_random_state(state)
        if isinstance(loop, EpochBasedTrainLoop) and runner.iter % len(loop.dataloader):
            print_log(f'resumed at iteration {runner.iter}, inside epoch {runner.epoch + 1}: '
                      f'{type(loop).__name__} starts the epoch again from its first batch; '
                      'use ResumableEpochBasedTrainLoop to continue where it stopped',
                      logger='current', level=logging.WARNING)


@HOOKS.register_module()
class BadSampleReportHook(Hook):
    """Count and report the samples a dataset with ``on_error='skip'`` could not load.

    mmengine lacks it: a dataset that passes over a sample leaves no trace in its logs.

    The dataset logs each unreadable sample once and returns another sample in its
    place, naming the skipped one in the metainfo ``skipped_samples`` (this also works
    from DataLoader workers). This hook collects those names from every batch, gathers
    them from all ranks and, at the end of each training epoch and of each evaluation,
    logs how many samples were skipped, how often, with their files and reasons. In an
    evaluation a skipped sample has no prediction: with a reference file WERMetric
    scores it as ``[EMPTY]``, without one it is missing from the WER, which the report
    says.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._records: Dict[str, Dict[str, Dict[str, str]]] = {}
        self._counts: Dict[str, Counter] = {}

    def _collect(self, phase: str, data_batch: Any) -> None:
        samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else None
        for sample in samples or ():
            metainfo = getattr(sample, 'metainfo', None) or {}
            for record in metainfo.get(SKIPPED_SAMPLES_KEY, ()):
                self._records.setdefault(phase, {}).setdefault(record['sample_id'], record)
                self._counts.setdefault(phase, Counter())[record['sample_id']] += 1

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        """Collect the skipped samples of a training batch."""
        self._collect('train', data_batch)

    def after_val_iter(self, runner, batch_idx: int, data_batch: Any = None,
                       outputs: Any = None) -> None:
        """Collect the skipped samples of a validation batch."""
        self._collect('val', data_batch)

    def after_test_iter(self, runner, batch_idx: int, data_batch: Any = None,
                        outputs: Any = None) -> None:
        """Collect the skipped samples of a test batch."""
        self._collect('test', data_batch)

    def after_train_epoch(self, runner) -> None:
        """Report the epoch's skipped samples."""
        self._report('train', f'training epoch {runner.epoch + 1}',
                     'training went on with the next readable sample in their place')

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        """Report the samples missing from the validation metrics."""
        # The epoch keeps the messages apart: mmengine's logger drops repeated warnings.
        self._report('val', f'validation at epoch {runner.epoch}', _EVALUATION_CONSEQUENCE)

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        """Report the samples missing from the test metrics."""
        self._report('test', 'test', _EVALUATION_CONSEQUENCE)

    def _report(self, phase: str, where: str, consequence: str) -> None:
        local = (self._records.pop(phase, {}), self._counts.pop(phase, Counter()))
        records: Dict[str, Dict[str, str]] = {}
        counts: Counter = Counter()
        for rank_records, rank_counts in all_gather_object(local):
            records.update(rank_records)
            counts.update(rank_counts)
        if not records:
            return
        shown = sorted(records.items())[:_MAX_LISTED]
        listed = '\n  '.join(f'{sid} ({rec.get("path")}): {rec.get("reason")}'
                             for sid, rec in shown)
        more = len(records) - len(shown)
        print_log(f'{where}: {len(records)} unreadable sample(s) skipped '
                  f"(on_error='skip'), {sum(counts.values())} time(s) in all; "
                  f'{consequence}:\n  {listed}'
                  + (f'\n  ... and {more} more' if more > 0 else ''),
                  logger='current', level=logging.WARNING)


_EVALUATION_CONSEQUENCE = ('they have no prediction (WERMetric scores them as [EMPTY] with '
                           'a ref_file, and leaves them out of the WER without one)')


@HOOKS.register_module()
class CheckpointCompatibilityHook(Hook):
    """Refuse checkpoints and datasets that do not fit the model, instead of guessing.

    mmengine loads checkpoints with ``strict=False``: a tensor of another shape is only
    logged and keeps its random initial value, so a checkpoint trained with another
    vocabulary evaluates to a meaningless WER. This hook raises instead:

    - when a checkpoint is loaded, if any tensor's shape differs from the model's (for
      the classifier: the checkpoint's class count against the model's vocabulary), or
      if the checkpoint records a training vocabulary (``meta.dataset_meta.glosses``)
      other than the model's ``vocab``, which would decode class ids to wrong glosses;
    - before training, if the training dataset's vocabulary differs from the model's
      (the class ids of the labels would mean other glosses).
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Check the training dataset's vocabulary against the model's."""
        model = _unwrap(runner.model)
        vocab = getattr(model, 'vocab', None)
        dataset = runner.train_dataloader.dataset
        glosses = getattr(dataset, 'metainfo', {}).get('glosses')
        if vocab is None or glosses is None or list(glosses) == list(vocab.glosses):
            return
        raise ValueError(
            f'the training dataset ({type(dataset).__name__}) and the model disagree on the '
            f'vocabulary (dataset against model.vocab: '
            f'{first_difference(glosses, vocab.glosses)}): its labels would train the '
            'wrong classes. Set model.vocab to the vocab_file of the training dataset')

    def before_run(self, runner) -> None:
        """Refuse a ``load_from`` file that is plainly not a checkpoint, before mmengine's
        ``torch.load`` answers it with advice about ``weights_only``."""
        check_checkpoint_file(runner.cfg.get('load_from'))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Compare the checkpoint's tensors and vocabulary with the model.

        Evaluating (``tools/test.py``, ``runner.val()``) every tensor must fit: a
        checkpoint that lacks trained tensors, holds others or is of another backbone is
        refused. Training (fine-tuning from ``load_from``, resuming) only refuses other
        shapes, another backbone and another vocabulary.
        """
        model = _unwrap(runner.model)
        source = runner.cfg.get('load_from') or 'the checkpoint'
        # train() builds the optimiser wrapper before it loads; test() and val() do not.
        training = isinstance(getattr(runner, 'optim_wrapper', None), BaseOptimWrapper)
        backbone_cfg = runner.cfg.get('model', {}).get('backbone') or {}
        check_checkpoint_fits(model, checkpoint, source,
                              frozen_from_pretrained=backbone_cfg.get('pretrained') is not None,
                              strict_keys=not training)


__all__: List[str] = [
    'BadSampleReportHook', 'CheckpointCompatibilityHook', 'TrainRandomStateHook'
]
