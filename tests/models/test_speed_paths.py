"""The speed-minded forms of the hot path compute what the plain forms compute.

BiLSTM sorting on the host, LayerNorm in the stream's dtype, QuickGELU folded into the
frozen MLP's weights, in-place normalisation of the frames (the non-finite-loss skip
that stays on the device with a fused optimiser: tests/engine/test_nonfinite_skip.py).
"""

import open_clip
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from open_clip.transformer import LayerNorm as CLIPLayerNorm
from open_clip.transformer import QuickGELU as CLIPQuickGELU
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mmsign.models.backbones.adaptsign_layers import LayerNorm, layer_norm
from mmsign.models.backbones.clip_vit import FrozenCLIPBlock
from mmsign.models.heads.ctc_head import BiLSTM

VOCAB = ['A', 'B', 'C', 'D']


def test_bilstm_host_sorting_equals_torch_sorting():
    torch.manual_seed(0)
    lstm = BiLSTM(8, num_layers=2, dropout=0.0)
    lengths = [3, 7, 5, 7, 1]
    x = torch.randn(7, len(lengths), 8, requires_grad=True)
    out = lstm(x, lengths)
    ref_x = x.detach().clone().requires_grad_(True)
    packed = pack_padded_sequence(ref_x, torch.tensor(lengths), enforce_sorted=False)
    ref, _ = pad_packed_sequence(lstm.rnn(packed)[0], total_length=7)
    assert torch.equal(out, ref)
    grad = torch.randn_like(out)
    out.backward(grad)
    ref.backward(grad)
    assert torch.equal(x.grad, ref_x.grad)


def test_layer_norm_fp32_is_unchanged():
    torch.manual_seed(0)
    norm = LayerNorm(16)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(3, 5, 16)
    assert torch.equal(norm(x), nn.LayerNorm.forward(norm, x))


def test_layer_norm_under_autocast_stays_in_the_stream_dtype():
    torch.manual_seed(0)
    norm = CLIPLayerNorm(16)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = (torch.randn(3, 5, 16) * 4 + 2).bfloat16().requires_grad_(True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer_norm(x, norm)
    assert out.dtype == torch.bfloat16
    ref = F.layer_norm(x.detach().float(), (16, ), norm.weight, norm.bias, norm.eps)
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=2e-2)
    out.float().sum().backward()
    assert norm.weight.grad.dtype == torch.float32 and x.grad.dtype == torch.bfloat16


def test_folded_quick_gelu_mlp_equals_open_clip_mlp():
    torch.manual_seed(0)
    vit = open_clip.transformer.VisionTransformer(
        image_size=32, patch_size=16, width=64, layers=1, heads=2, mlp_ratio=4.0,
        output_dim=32, act_layer=CLIPQuickGELU, norm_layer=CLIPLayerNorm)
    block = vit.transformer.resblocks[0]
    with torch.no_grad():
        for p in block.mlp.parameters():
            p.normal_(0, 0.3)
    frozen = FrozenCLIPBlock(block)
    x = torch.randn(4, 5, 64)
    torch.testing.assert_close(frozen.feed_forward(x), block.mlp(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(frozen.mlp_norm(x), block.ln_2(x), rtol=0, atol=0)


def test_preprocessor_leaves_float_input_untouched():
    video = torch.rand(4, 3, 2, 2) * 255
    copy_of_video = video.clone()
    out = MODELS.build(dict(type='SignDataPreprocessor'))(dict(inputs=[video]))
    assert torch.equal(video, copy_of_video)
    assert torch.equal(out['inputs'], (video - 127.5) / 127.5)
