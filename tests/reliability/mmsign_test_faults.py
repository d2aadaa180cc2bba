"""Faults injected into the training runs the reliability tests start (a custom_imports module).

The test configs import this module and add ``FaultInjectionHook``; the environment
variable ``MMSIGN_FAULT`` of the run says what goes wrong (nothing when unset):

- ``kill_at_iter=N``: the process SIGKILLs itself before training iteration N
  (``runner.iter``, from 0);
- ``kill_in_save=NAME``: the process SIGKILLs itself half-way through writing a file
  whose name starts with NAME (e.g. ``epoch_2.pth``), leaving half of it on disk;
- ``fsize_after_epoch=N,fsize=BYTES``: after epoch N (and its checkpoint) no file of
  more than BYTES bytes can be written (``RLIMIT_FSIZE``, SIGXFSZ ignored: writes fail
  with EFBIG as they would on a full disk);
- ``stop_at_iter=N,rank=R``: rank R SIGSTOPs itself before training iteration N (a hung
  rank: the others wait in the next collective);
- ``nan_at_iter=N`` (``,rank=R``): the backbone output of iteration N (on rank R only)
  is NaN; the hook writes ``nan_step_rank<rank>.json`` into the work dir saying whether
  any parameter, BatchNorm statistic or optimiser state changed in that iteration, and
  whether the next iteration changed the parameters.

Every run also writes ``losses_rank<rank>.json`` (iteration -> logged loss, the
iteration's sample ids, and ``skipped_step``).
"""
import json
import os
import os.path as osp
import resource
import signal
from typing import Dict

import torch
from mmaction.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def _fault() -> Dict[str, str]:
    text = os.environ.get('MMSIGN_FAULT', '')
    return dict(item.split('=', 1) for item in text.split(',') if item)


def _kill_half_way(prefix: str) -> None:
    put = LocalBackend.put

    def put_then_die(self, obj, filepath):
        if osp.basename(str(filepath)).startswith(prefix):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        return put(self, obj, filepath)

    LocalBackend.put = put_then_die


def _state(model, optimizer) -> Dict[str, torch.Tensor]:
    state = {f'param.{k}': v.detach().clone() for k, v in model.named_parameters()}
    state.update({f'buffer.{k}': v.detach().clone() for k, v in model.named_buffers()})
    for index, entry in optimizer.state_dict()['state'].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                state[f'optim.{index}.{key}'] = value.detach().clone()
    return state


def _changed(before: Dict[str, torch.Tensor], after: Dict[str, torch.Tensor],
             prefix: str) -> list:
    keys = {k for k in before if k.startswith(prefix)} | {
        k for k in after if k.startswith(prefix)}
    return sorted(k for k in keys if k not in before or k not in after
                  or not torch.equal(before[k], after[k]))


@HOOKS.register_module()
class FaultInjectionHook(Hook):
    """Injects the fault named by ``MMSIGN_FAULT`` and records the losses."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.fault = _fault()
        if 'kill_in_save' in self.fault:
            _kill_half_way(self.fault['kill_in_save'])
        self.losses: Dict[int, dict] = {}
        self.nan_report: dict = {}
        self._handle = None
        self._before = None

    def before_run(self, runner) -> None:
        # A resumed run continues the record of the run it resumes.
        path = osp.join(runner.work_dir, f'losses_rank{get_rank()}.json')
        if osp.isfile(path):
            with open(path) as f:
                self.losses = {int(k): v for k, v in json.load(f).items()}

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == int(self.fault.get('fsize_after_epoch', -1)):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            limit = int(self.fault['fsize'])
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    def _model(self, runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _nan_here(self, runner) -> bool:
        return ('nan_at_iter' in self.fault
                and int(self.fault.get('rank', get_rank())) == get_rank())

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == int(self.fault.get('kill_at_iter', -1)):
            os.kill(os.getpid(), signal.SIGKILL)
        if runner.iter == int(self.fault.get('stop_at_iter', -1)) and int(
                self.fault.get('rank', 0)) == get_rank():
            os.kill(os.getpid(), signal.SIGSTOP)
        nan_iter = int(self.fault.get('nan_at_iter', -2))
        if runner.iter in (nan_iter, nan_iter + 1):
            self._before = _state(self._model(runner), runner.optim_wrapper.optimizer)
        if runner.iter == nan_iter and self._nan_here(runner):
            self._handle = self._model(runner).backbone.register_forward_hook(
                lambda module, inputs, output: output * float('nan'))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        ids = [s.metainfo['sample_id'] for s in data_batch['data_samples']]
        # logged by NonFiniteStepHook (priority HIGH, before this hook)
        skipped = runner.message_hub.get_scalar('train/skipped_step').current()
        self.losses[runner.iter] = dict(loss=float(outputs['loss'].detach()), sample_ids=ids,
                                        skipped_step=float(skipped))
        nan_iter = int(self.fault.get('nan_at_iter', -2))
        if self._before is not None and runner.iter in (nan_iter, nan_iter + 1):
            after = _state(self._model(runner), runner.optim_wrapper.optimizer)
            if runner.iter == nan_iter:
                if self._handle is not None:
                    self._handle.remove()
                    self._handle = None
                self.nan_report.update(
                    sample_ids=ids, skipped_step=float(skipped),
                    changed_params=_changed(self._before, after, 'param.'),
                    changed_buffers=_changed(self._before, after, 'buffer.'),
                    changed_optimizer=_changed(self._before, after, 'optim.'),
                    buffers_finite=all(bool(torch.isfinite(v).all())
                                       for k, v in after.items()
                                       if k.startswith('buffer.') and v.is_floating_point()))
            else:
                self.nan_report['next_changed_params'] = len(
                    _changed(self._before, after, 'param.'))
            self._before = None
            self._write(runner, 'nan_step', self.nan_report)
        self._write(runner, 'losses', self.losses)

    def _write(self, runner, name: str, value) -> None:
        with open(osp.join(runner.work_dir, f'{name}_rank{get_rank()}.json'), 'w') as f:
            json.dump(value, f)
