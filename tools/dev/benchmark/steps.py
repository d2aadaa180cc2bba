"""``train`` and ``inference``: speed of a recipe's recognizer, in real video frames per second.

Builds the config's recognizer with random weights (``model.backbone.pretrained=None``),
feeds it random uint8 frames at the config's crop size, with per-video lengths and gloss
counts drawn (seeded) from the real PHOENIX14 splits (``train_lengths.csv`` for
``train``, ``dev_lengths.csv`` for ``inference``), or every video ``--frames`` long, and
after warm-up times

- ``train``: real training steps, ``model.train_step`` with the config's optimiser
  wrapper (data preprocessor, forward, CTC + distillation losses, backward, optimiser
  step);
- ``inference``: evaluation steps, ``model.test_step`` under ``torch.no_grad`` (forward
  and the config's decoder; ``--no-decode`` stops at the logits).

It prints real frames per second (padding excluded), seconds per step, peak memory (GPU:
the allocator's peak over the timed steps; CPU: the process's peak resident set) and the
model FLOP utilisation: backbone FLOPs per frame (counted by
``mmsign.models.complexity.count_flops``; forward, or forward + backward for training)
times frames per second, over the device's peak (``--peak-tflops``, or on a GPU a dense
matrix product measured in the run's dtype). On the CPU it reports the achieved GFLOP/s
and MFU only with ``--peak-tflops``. The device is synchronised only around the timed
region.

Examples::

    python tools/analysis/benchmark.py train configs/adaptsign_phoenix14.py
    python tools/analysis/benchmark.py inference configs/adaptsign_phoenix14.py --json infer.json
    python tools/analysis/benchmark.py train configs/adaptsign_phoenix14.py --frames 64 \\
        --device cpu
    python tools/analysis/benchmark.py train configs/adaptsign_phoenix14.py \\
        --checkpointing selective --compile --worst-case-memory
"""
import argparse
import contextlib
import copy
import csv
import os.path as osp
import statistics
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.utils.flop_counter import FlopCounterMode

import mmsign  # noqa: F401  (registers the mmsign modules)
from mmsign.cli.runtime import DictAction, load_config
from mmsign.engine.optim_wrapper import skips_on_device
from mmsign.models.complexity import count_flops
from mmsign.utils.benchmark import (
    device_name,
    peak_memory,
    reset_peak_memory,
    synchronize,
    write_result,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'none': None}
DTYPE_NAMES = {torch.bfloat16: 'bf16', torch.float16: 'fp16', None: 'none'}
FLOP_COUNT_FRAMES = 64
#: Per-video frame and gloss counts of the PHOENIX14 release (data/README.md).
LENGTHS_ROOT = osp.join(osp.dirname(osp.abspath(__file__)), 'data', 'phoenix2014')


def default_lengths_file(split: str) -> str:
    """``<split>_lengths.csv`` of PHOENIX14, kept beside this tool (``data/phoenix2014``)."""
    return osp.join(LENGTHS_ROOT, f'{split}_lengths.csv')


def parse_args(argv: Optional[Sequence[str]] = None, mode: str = 'train',
               prog: Optional[str] = None) -> argparse.Namespace:
    """The options of the ``train`` or ``inference`` subcommand.

    Args:
        argv (list[str], optional): The arguments after the subcommand.
        mode (str): ``'train'`` or ``'infer'``.
        prog (str, optional): The name ``--help`` shows.

    Returns:
        argparse.Namespace: The options, with ``mode``.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=f'Real frames/s, s/step, peak memory and MFU of a '
        f'recognizer\'s {"training" if mode == "train" else "evaluation"} steps')
    parser.add_argument('config', help='config file, e.g. configs/adaptsign_phoenix14.py')
    parser.set_defaults(mode=mode)
    parser.add_argument('--frames', type=int, default=None,
                        help='every video this many frames (gloss count frames // 8), '
                        'one video per step, 1 warm-up and 1 timed step unless given '
                        '(default: PHOENIX14 lengths, 2 videos, 5 warm-up, 20 timed)')
    parser.add_argument('--batch-videos', type=int, default=None,
                        help='videos per step (default: 2, as the recipes; 1 with --frames)')
    parser.add_argument('--steps', type=int, default=None,
                        help='timed steps (default: 20; 1 with --frames)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed steps before (default: 5; 1 with --frames)')
    parser.add_argument('--amp', choices=['auto', 'bf16', 'fp16', 'none'], default='auto',
                        help="autocast dtype; 'auto': the config's optimiser wrapper decides "
                             '(SignAmpOptimWrapper: bf16 on GPUs that have it, fp16 '
                             'otherwise, fp32 on the CPU)')
    parser.add_argument('--compile', action='store_true',
                        help='wrap the backbone with torch.compile')
    parser.add_argument('--compile-mode', default=None,
                        help='torch.compile mode (default, reduce-overhead, max-autotune)')
    parser.add_argument('--checkpointing', choices=['none', 'selective', 'full'],
                        help="the backbone's activation checkpointing (default: the config's)")
    parser.add_argument('--device', default=None,
                        help="'cuda', 'cuda:1', 'cpu' (default: cuda if available)")
    parser.add_argument('--lengths-file', default=None,
                        help='CSV with num_frames and num_glosses columns (default: PHOENIX14 '
                             'train_lengths.csv / dev_lengths.csv in tools/dev/benchmark/'
                             'data)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the length draws')
    parser.add_argument('--no-decode', action='store_true',
                        help='inference: stop at the logits (no CTC decoding)')
    parser.add_argument('--peak-tflops', type=float, default=None,
                        help='peak device TFLOP/s for the MFU (default on a GPU: a dense '
                             'matrix product measured in the run\'s dtype)')
    parser.add_argument('--worst-case-memory', action='store_true',
                        help='after timing, one step with the longest videos of the lengths '
                             'file, for the peak memory a full epoch reaches')
    parser.add_argument('--sync-debug', action='store_true',
                        help='after timing, one step under torch.cuda.set_sync_debug_mode '
                             'listing every host-device synchronisation (GPU only)')
    parser.add_argument('--profile', metavar='FILE',
                        help='after timing, profile 3 steps with torch.profiler: the table '
                             'of the top operators and kernels to FILE, the launches per '
                             'step and the top 10 into the results')
    parser.add_argument('--json', help='also write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.padding_mode=frames')
    args = parser.parse_args(argv)
    fixed = args.frames is not None
    for name, default, with_frames in (('batch_videos', 2, 1), ('steps', 20, 1),
                                       ('warmup', 5, 1)):
        if getattr(args, name) is None:
            setattr(args, name, with_frames if fixed else default)
    if fixed and args.frames < 1:
        parser.error('--frames must be at least 1')
    if fixed and args.lengths_file:
        parser.error('--frames and --lengths-file exclude each other')
    for name in ('batch_videos', 'steps'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if args.warmup < 0:
        parser.error('--warmup must be at least 0')
    return args


def read_lengths(path: str) -> List[Tuple[str, int, int]]:
    """``(fileid, num_frames, num_glosses)`` of every video of a ``*_lengths.csv``."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'video lengths not found at {path}: pass --lengths-file (a CSV with '
            'num_frames and num_glosses columns, e.g. tools/dev/benchmark/data/phoenix2014/'
            'train_lengths.csv)')
    with open(path, newline='', encoding='utf-8') as f:
        rows = [(row.get('fileid', f'video{i}'), int(row['num_frames']),
                 int(row.get('num_glosses') or 1))
                for i, row in enumerate(csv.DictReader(f))]
    if not rows:
        raise ValueError(f'{path} lists no videos')
    return rows


def crop_size(cfg: Config) -> int:
    """The frame size the config's training pipeline hands to the model."""
    loader = cfg.get('train_dataloader') or cfg.get('test_dataloader') or {}
    for step in loader.get('dataset', {}).get('pipeline', []):
        if 'Crop' in step.get('type', '') and 'size' in step:
            size = step['size']
            return int(size if isinstance(size, int) else size[0])
    arch = cfg.model.backbone.get('arch')
    if isinstance(arch, dict) and 'image_size' in arch:
        return int(arch['image_size'])
    return 224


def model_config(cfg: Config, args: argparse.Namespace) -> dict:
    """The recognizer config with random weights and the requested checkpointing; a
    vocabulary that does not exist here is replaced by placeholder glosses."""
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    backbone = model_cfg['backbone']
    if 'pretrained' in backbone or backbone.get('type') in ('AdaptSignViT',
                                                            'AdaptSignMMPretrainViT'):
        backbone['pretrained'] = None
    if args.checkpointing is not None:
        backbone['checkpointing'] = args.checkpointing
    vocab = model_cfg.get('vocab')
    if vocab is None or (isinstance(vocab, str) and not osp.isfile(vocab)):
        num_classes = model_cfg['head'].get('num_classes') or cfg.get('num_classes')
        if not num_classes:
            raise ValueError('the config has neither a vocabulary here nor num_classes: '
                             'pass --cfg-options num_classes=<glosses + 1>')
        model_cfg['vocab'] = [f'GLOSS{i}' for i in range(1, num_classes)]
    return model_cfg


def resolve_amp(cfg: Config, choice: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype of the run (None for fp32)."""
    if choice != 'auto':
        dtype = AMP_DTYPES[choice]
    elif cfg.optim_wrapper.get('type', 'OptimWrapper') in ('SignAmpOptimWrapper',
                                                           'AmpOptimWrapper'):
        dtype = cfg.optim_wrapper.get('dtype', 'auto')
        if device.type != 'cuda':
            return None
        if dtype in ('auto', None):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return getattr(torch, dtype) if isinstance(dtype, str) else dtype
    else:
        return None
    if device.type == 'cpu' and dtype == torch.float16:
        raise ValueError('--amp fp16 needs a GPU; the CPU autocasts to bf16 only')
    return dtype


def optim_wrapper_config(cfg: Config, amp: Optional[torch.dtype], choice: str,
                         device: torch.device) -> dict:
    """The config's optimiser wrapper, switched to the requested precision."""
    wrapper = copy.deepcopy(cfg.optim_wrapper.to_dict())
    if choice == 'none':
        for key in ('dtype', 'loss_scale', 'cpu_dtype', 'fused'):
            wrapper.pop(key, None)
        wrapper['type'] = 'OptimWrapper'
    elif choice in ('bf16', 'fp16'):
        if wrapper.get('type', 'OptimWrapper') not in ('SignAmpOptimWrapper',):
            wrapper = dict(type='SignAmpOptimWrapper', optimizer=wrapper['optimizer'],
                           **{k: v for k, v in wrapper.items()
                              if k in ('clip_grad', 'accumulative_counts')})
        wrapper['dtype'] = 'bfloat16' if amp == torch.bfloat16 else 'float16'
        if device.type == 'cpu':
            wrapper['cpu_dtype'] = 'bfloat16'
    return wrapper


def draw_batches(rows: List[Tuple[str, int, int]], batch_videos: int, count: int,
                 seed: int) -> List[List[Tuple[str, int, int]]]:
    """``count`` batches of videos drawn with replacement, reproducibly."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(rows), (count, batch_videos), generator=generator).tolist()
    return [[rows[i] for i in batch] for batch in picks]


class FramePool:
    """Random uint8 videos to slice batches from (pinned on GPUs, as a DataLoader with
    ``pin_memory=True`` delivers them), so no step waits for frames to be made.

    Args:
        batch_videos (int): Videos per batch; each slot has its own frames.
        max_frames (int): Longest video.
        size (int): Frame height and width.
        pin (bool): Pin the memory.
    """

    def __init__(self, batch_videos: int, max_frames: int, size: int, pin: bool) -> None:
        generator = torch.Generator().manual_seed(1)
        self.frames = torch.randint(0, 256, (batch_videos, max_frames, 3, size, size),
                                    generator=generator, dtype=torch.uint8)
        if pin:
            self.frames = self.frames.pin_memory()

    def batch(self, videos: List[Tuple[str, int, int]], num_classes: int,
              seed: int) -> dict:
        """A collated batch (``pseudo_collate`` layout) with random gloss targets."""
        generator = torch.Generator().manual_seed(seed)
        inputs, samples = [], []
        for slot, (fileid, num_frames, num_glosses) in enumerate(videos):
            inputs.append(self.frames[slot, :num_frames])
            # At most ceil(T / 4) glosses, no two equal neighbours: CTC can align them.
            count = max(1, min(num_glosses, -(-num_frames // 4)))
            glosses = torch.randint(1, num_classes, (count, ), generator=generator)
            for i in range(1, count):
                if glosses[i] == glosses[i - 1]:
                    glosses[i] = glosses[i] % (num_classes - 1) + 1
            sample = ActionDataSample()
            sample.set_metainfo(dict(sample_id=fileid, num_frames=num_frames))
            sample.gt_glosses = glosses
            samples.append(sample)
        return dict(inputs=inputs, data_samples=samples)


def backbone_frames(model: torch.nn.Module, lengths: Sequence[int]) -> int:
    """Frames the backbone processes for videos of these lengths (padding included)."""
    if getattr(model, 'padding_mode', 'features') == 'frames':
        return len(lengths) * model.head.geometry.padded_length(max(lengths))
    return sum(lengths)


def flops_per_frame(model_cfg: dict, size: int, train: bool) -> float:
    """Backbone FLOPs per frame: forward, or forward and backward (weight gradients only
    for the trainable parameters, as in training), counted on the meta device for one
    video of :data:`FLOP_COUNT_FRAMES` frames; recomputation is not counted."""
    backbone_cfg = dict(copy.deepcopy(model_cfg['backbone']), pretrained=None)
    if 'checkpointing' in backbone_cfg:
        backbone_cfg['checkpointing'] = 'none'
    with torch.device('meta'):
        backbone = MODELS.build(backbone_cfg)
        frames = torch.empty(FLOP_COUNT_FRAMES, 3, size, size)
    if not train:
        total, _ = count_flops(backbone.eval(), frames, [FLOP_COUNT_FRAMES])
        return total / FLOP_COUNT_FRAMES
    with FlopCounterMode(display=False) as counter:
        backbone.train()(frames, [FLOP_COUNT_FRAMES]).float().sum().backward()
    return counter.get_total_flops() / FLOP_COUNT_FRAMES


def measure_peak_flops(device: torch.device, dtype: Optional[torch.dtype]) -> float:
    """FLOP/s of a dense 8192^3 matrix product in ``dtype`` (fp32 if None), median of 10."""
    dtype = dtype or torch.float32
    a = torch.randn(8192, 8192, device=device, dtype=dtype)
    b = torch.randn(8192, 8192, device=device, dtype=dtype)
    times = []
    for i in range(13):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.mm(a, b)
        end.record()
        end.synchronize()
        if i >= 3:
            times.append(start.elapsed_time(end) / 1e3)
    del a, b
    torch.cuda.empty_cache()
    return 2 * 8192**3 / statistics.median(times)


def make_step(model: torch.nn.Module, mode: str, optim_wrapper: Any,
              amp: Optional[torch.dtype], device: torch.device, decode: bool):
    """A function running one step on a batch (no synchronisation inside)."""
    if mode == 'train':
        return lambda data: model.train_step(data, optim_wrapper)

    def infer(data: dict) -> Any:
        autocast = (torch.autocast(device.type, dtype=amp) if amp is not None
                    else contextlib.nullcontext())
        with torch.no_grad(), autocast:
            if decode:
                return model.test_step(data)
            packed = model.data_preprocessor(data, False)
            return model(**packed, mode='tensor')

    return infer


def record_syncs(step, data: dict) -> List[str]:
    """The host-device synchronisations of one step, as ``file:line: message``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            step(data)
        finally:
            torch.cuda.set_sync_debug_mode('default')
    syncs = []
    for warning in caught:
        message = str(warning.message)
        if 'synchroniz' in message:
            where = warning.filename
            if where.startswith(REPO_ROOT):
                where = osp.relpath(where, REPO_ROOT)
            syncs.append(f'{where}:{warning.lineno}: {message.splitlines()[0]}')
    return syncs


PROFILED_STEPS = 3


def profile_steps(step, data: List[dict], device: torch.device, path: str) -> Dict[str, Any]:
    """Profile a few steps: the top operators to ``path``, launches per step returned.

    On a GPU a launch is a device kernel (``self_device_time`` ranks them); on the CPU each
    ATen operator call counts, which is what a GPU would launch kernels for.
    """
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for batch in data[:PROFILED_STEPS]:
            step(batch)
        synchronize(device)
    events = prof.key_averages()
    if device.type == 'cuda':
        sort_by = 'self_device_time_total'
        kernels = [e for e in events if e.device_type.name == 'CUDA']
    else:
        sort_by = 'self_cpu_time_total'
        kernels = [e for e in events if e.key.startswith('aten::')]
    with open(path, 'w', encoding='utf-8') as f:
        f.write(events.table(sort_by=sort_by, row_limit=40))
    top = sorted(kernels, key=lambda e: -getattr(e, sort_by))[:10]
    return dict(profile_file=osp.abspath(path), profiled_steps=PROFILED_STEPS,
                launches_per_step=sum(e.count for e in kernels) / PROFILED_STEPS,
                profile_top=[e.key for e in top])


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Build, warm up, time; returns the results (see the module docstring)."""
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    train = args.mode == 'train'
    if args.frames:
        lengths_file = None
        rows = [(f'video{args.frames}', args.frames, max(1, args.frames // 8))]
    else:
        lengths_file = osp.abspath(args.lengths_file
                                   or default_lengths_file('train' if train else 'dev'))
        rows = read_lengths(lengths_file)
    size = crop_size(cfg)
    model_cfg = model_config(cfg, args)
    amp = resolve_amp(cfg, args.amp, device)

    torch.manual_seed(args.seed)
    model = MODELS.build(model_cfg).to(device)
    model.train(train)
    optim_wrapper = None
    if train:
        wrapper_cfg = optim_wrapper_config(cfg, amp, args.amp, device)
        optim_wrapper = build_optim_wrapper(model, Config(dict(optim_wrapper=wrapper_cfg))
                                            .optim_wrapper)
    if args.compile:
        model.backbone = torch.compile(model.backbone, mode=args.compile_mode)
    step = make_step(model, args.mode, optim_wrapper, amp, device, not args.no_decode)

    num_classes = model.head.num_classes
    batches = draw_batches(rows, args.batch_videos, args.warmup + args.steps, args.seed)
    pool = FramePool(args.batch_videos, max(n for _, n, _ in rows), size,
                     pin=device.type == 'cuda')
    data = [pool.batch(videos, num_classes, seed=i) for i, videos in enumerate(batches)]

    build_start = time.perf_counter()
    for i in range(args.warmup):
        step(data[i])
    synchronize(device)
    warmup_seconds = time.perf_counter() - build_start
    reset_peak_memory(device)
    start = time.perf_counter()
    outputs = None
    for i in range(args.warmup, args.warmup + args.steps):
        outputs = step(data[i])
    synchronize(device)
    seconds = time.perf_counter() - start

    timed = batches[args.warmup:]
    real_frames = sum(n for batch in timed for _, n, _ in batch)
    model_frames = sum(backbone_frames(model, [n for _, n, _ in batch]) for batch in timed)
    result: Dict[str, Any] = dict(
        config=args.config, mode=args.mode, device=str(device),
        device_name=device_name(device), cpu_threads=torch.get_num_threads(),
        torch=torch.__version__,
        amp=DTYPE_NAMES[amp], compile=args.compile, compile_mode=args.compile_mode,
        checkpointing=model_cfg['backbone'].get('checkpointing'),
        padding_mode=getattr(model, 'padding_mode', None),
        batch_videos=args.batch_videos, warmup=args.warmup, steps=args.steps,
        image_size=size, lengths_file=lengths_file, frames=args.frames, seed=args.seed,
        decode=not train and not args.no_decode,
        real_frames=real_frames, backbone_frames=model_frames,
        frames_per_step=real_frames / args.steps, seconds=seconds,
        warmup_seconds=warmup_seconds, s_per_step=seconds / args.steps,
        frames_per_s=real_frames / seconds)

    if train:
        result['optimizer'] = type(optim_wrapper.optimizer).__name__
        result['optimizer_fused'] = all(g.get('fused') for g in
                                        optim_wrapper.optimizer.param_groups)
        result['device_side_skip'] = skips_on_device(optim_wrapper)
        result['last_loss'] = float(outputs['loss'].detach())
    result.update(peak_memory(device))

    per_frame = flops_per_frame(model_cfg, size, train)
    achieved = per_frame * model_frames / seconds
    peak, source = None, None
    if args.peak_tflops:
        peak, source = args.peak_tflops * 1e12, 'given (--peak-tflops)'
    elif device.type == 'cuda':
        peak = measure_peak_flops(device, amp)
        source = f'measured: dense 8192^3 matmul in {DTYPE_NAMES[amp]}'
    result.update(flops_per_frame=per_frame, achieved_flops_per_s=achieved,
                  peak_flops_per_s=peak, peak_source=source,
                  mfu=None if peak is None else achieved / peak)

    if args.worst_case_memory and device.type == 'cuda':
        longest = sorted(rows, key=lambda row: -row[1])[:args.batch_videos]
        reset_peak_memory(device)
        step(pool.batch(longest, num_classes, seed=len(data)))
        synchronize(device)
        result['worst_case_lengths'] = [n for _, n, _ in longest]
        result['worst_case_peak_mem_gib'] = torch.cuda.max_memory_allocated(device) / 2**30
        result['worst_case_peak_reserved_gib'] = (torch.cuda.max_memory_reserved(device)
                                                  / 2**30)
    if args.sync_debug and device.type == 'cuda':
        result['syncs'] = record_syncs(step, data[-1])
    if args.profile:
        result.update(profile_steps(step, data[args.warmup:], device, args.profile))
    return result


def format_report(result: Dict[str, Any]) -> str:
    """The results as a few readable lines."""
    cpu = result['peak_mem_gib'] is None
    lines = [
        f'{result["config"]}  {result["mode"]}  on {result["device"]} '
        f'({result["device_name"]}{", %d threads" % result["cpu_threads"] if cpu else ""})',
        f'  amp {result["amp"]}, compile {result["compile"]}, checkpointing '
        f'{result["checkpointing"]}, padding {result["padding_mode"]}, '
        f'{result["batch_videos"]} videos/step, {result["image_size"]} px',
        f'  {result["steps"]} steps after {result["warmup"]} warm-up: '
        f'{result["frames_per_step"]:.0f} real frames/step',
        f'  real frames/s      {result["frames_per_s"]:12,.1f}',
        f'  s/step             {result["s_per_step"]:12.4f}',
    ]
    if not cpu:
        lines.append(f'  peak memory        {result["peak_mem_gib"]:12.2f} GiB allocated, '
                     f'{result["peak_reserved_gib"]:.2f} GiB reserved')
    else:
        lines.append(f'  peak memory        {result["peak_rss_mib"]:12,.0f} MiB resident '
                     '(the process, model build included)')
    if 'worst_case_peak_mem_gib' in result:
        lines.append(f'  worst case {result["worst_case_lengths"]} frames: '
                     f'{result["worst_case_peak_mem_gib"]:.2f} GiB allocated, '
                     f'{result["worst_case_peak_reserved_gib"]:.2f} GiB reserved')
    lines.append(f'  backbone GFLOP/frame {result["flops_per_frame"] / 1e9:10.3f} '
                 f'({"forward + backward" if result["mode"] == "train" else "forward"})')
    lines.append(f'  achieved           {result["achieved_flops_per_s"] / 1e9:12,.1f} GFLOP/s')
    if result['mfu'] is None:
        lines.append('  MFU                         n/a (give --peak-tflops)')
    else:
        lines.append(f'  MFU                {100 * result["mfu"]:11.1f} %  of '
                     f'{result["peak_flops_per_s"] / 1e12:.0f} TFLOP/s '
                     f'({result["peak_source"]})')
    if 'optimizer' in result:
        lines.append(f'  optimiser {result["optimizer"]} fused={result["optimizer_fused"]}, '
                     f'non-finite skip on device={result["device_side_skip"]}, '
                     f'last loss {result["last_loss"]:.4g}')
    for sync in result.get('syncs', []):
        lines.append(f'  sync: {sync}')
    if 'launches_per_step' in result:
        lines.append(f'  profile: {result["launches_per_step"]:.0f} '
                     f'{"kernels" if not cpu else "ATen operators"} per step; top: '
                     f'{", ".join(result["profile_top"][:5])} ({result["profile_file"]})')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None, mode: str = 'train',
         prog: Optional[str] = None) -> int:
    """Run the ``train`` (``mode='train'``) or ``inference`` (``'infer'``) subcommand."""
    args = parse_args(argv, mode, prog)
    result = run(args)
    write_result(result, format_report(result), args.json)
    return 0
