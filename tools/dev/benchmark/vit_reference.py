"""The reference of the speed targets: a plain frozen ViT written the obvious way.

Example::

    python tools/analysis/benchmark.py vit-reference --train --json vit_train.json
    python tools/analysis/benchmark.py vit-reference --infer --json vit_infer.json

A ViT-B/16 (random weights, bf16 on GPUs, fp32 on the CPU unless ``--dtype``) built from
``torch.nn.functional.scaled_dot_product_attention`` and ``nn.Linear``, fed the frames of
the same batches as the ``train`` / ``inference`` subcommands draw (PHOENIX14 train or
dev lengths, the same seed, ``--batch-videos`` videos a step): ``--train`` times forward
plus the backward to the input (a frozen ViT needs no weight gradients), ``--infer`` the
forward under ``no_grad``. The JSON has the fields the ``gpu`` subcommand tabulates, so
the ratio of AdaptSign to this reference comes from one run on one GPU.
"""
import argparse
import os.path as osp
import sys
import time
from typing import Any, Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from steps import default_lengths_file, draw_batches, read_lengths  # noqa: E402

from mmsign.utils.benchmark import (  # noqa: E402
    device_name,
    peak_memory,
    reset_peak_memory,
    synchronize,
    write_result,
)

DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': torch.float32}


class Block(nn.Module):
    """Pre-norm transformer block: SDPA attention and a GELU MLP."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.fc1, self.fc2 = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x: Tensor) -> Tensor:
        n, length, width = x.shape
        # [N, L, 3, heads, d] -> three [N, heads, L, d]
        q, k, v = self.qkv(self.ln1(x)).view(n, length, 3, self.heads, -1).unbind(2)
        attn = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                              v.transpose(1, 2))
        x = x + self.proj(attn.transpose(1, 2).reshape(n, length, width))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class PlainViT(nn.Module):
    """Patch embedding, class token, position embedding, blocks, final norm."""

    def __init__(self, width: int = 768, depth: int = 12, heads: int = 12,
                 patch: int = 16, size: int = 224) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, width, patch, patch, bias=False)
        self.cls = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (size // patch)**2 + 1, width) * 0.02)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)

    def forward(self, frames: Tensor) -> Tensor:
        x = self.patch_embed(frames).flatten(2).transpose(1, 2)  # [N, 196, D]
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], 1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, 0])  # [N, D]


def parse_args(argv: Optional[Sequence[str]] = None,
               prog: Optional[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n\n')[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--train', dest='mode', action='store_const', const='train')
    mode.add_argument('--infer', dest='mode', action='store_const', const='infer')
    parser.set_defaults(mode='train')
    parser.add_argument('--batch-videos', type=int, default=2)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0, help='seed of the length draws')
    parser.add_argument('--lengths-file', default=None,
                        help='default: PHOENIX14 train (--train) or dev (--infer) lengths')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default=None,
                        help='default: bf16 on GPUs, fp32 on the CPU')
    parser.add_argument('--device', default=None, help="default: cuda if available")
    parser.add_argument('--arch', default='768,12,12,16,224',
                        help='width,depth,heads,patch,size (default: ViT-B/16 at 224)')
    parser.add_argument('--compile', action='store_true', help='torch.compile the ViT')
    parser.add_argument('--json', help='also write the results to this JSON file')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    dtype = DTYPES[args.dtype] if args.dtype else (
        torch.bfloat16 if device.type == 'cuda' else torch.float32)
    width, depth, heads, patch, size = (int(v) for v in args.arch.split(','))
    torch.manual_seed(0)
    model = PlainViT(width, depth, heads, patch, size).to(device, dtype).eval()
    model.requires_grad_(False)
    net = torch.compile(model) if args.compile else model
    lengths_file = args.lengths_file or default_lengths_file(
        'train' if args.mode == 'train' else 'dev')
    rows = read_lengths(lengths_file)
    batches = draw_batches(rows, args.batch_videos, args.warmup + args.steps, args.seed)
    longest = max(n for batch in batches for _, n, _ in batch) * args.batch_videos
    pool = torch.randn(longest, 3, size, size, device=device, dtype=dtype)

    def step(frames: int) -> None:
        if args.mode == 'train':
            x = pool[:frames].detach().requires_grad_(True)
            net(x).float().square().mean().backward()
        else:
            with torch.no_grad():
                net(pool[:frames])

    counts = [sum(n for _, n, _ in batch) for batch in batches]
    for frames in counts[:args.warmup]:
        step(frames)
    synchronize(device)
    reset_peak_memory(device)
    start = time.perf_counter()
    for frames in counts[args.warmup:]:
        step(frames)
    synchronize(device)
    seconds = time.perf_counter() - start
    real_frames = sum(counts[args.warmup:])
    return dict(
        reference='plain frozen ViT (SDPA)', mode=args.mode, arch=args.arch,
        device=str(device), device_name=device_name(device),
        torch=torch.__version__, amp={torch.bfloat16: 'bf16', torch.float16: 'fp16',
                                      torch.float32: 'none'}[dtype],
        checkpointing=None, compile=args.compile, batch_videos=args.batch_videos,
        steps=args.steps, warmup=args.warmup, lengths_file=osp.abspath(lengths_file),
        real_frames=real_frames, seconds=seconds, s_per_step=seconds / args.steps,
        frames_per_s=real_frames / seconds, **peak_memory(device))


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    args = parse_args(argv, prog)
    result = run(args)
    write_result(result, f'plain ViT {args.mode}: {result["frames_per_s"]:,.1f} frames/s, '
                 f'{result["s_per_step"]:.3f} s/step ({result["real_frames"]} frames in '
                 f'{args.steps} steps, {result["amp"]}, {result["device_name"]})', args.json)
    return 0

