"""Frozen-weight preparation happens once, not per call, and leaves the weights as they are."""
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mmsign.models.backbones.clip_vit import FrozenCLIPBlock, build_clip_vit, clip_vit_config
from mmsign.models.backbones.mmpretrain_vit import mmpretrain_parts

TINY = dict(width=32, layers=1, heads=2, patch_size=8, image_size=16, output_dim=16)


class OutputShapes(TorchDispatchMode):
    """Records the shape of every new tensor an operation makes (views left out)."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {a.untyped_storage().data_ptr() for a in args if isinstance(a, torch.Tensor)}
        if isinstance(out, torch.Tensor) and out.untyped_storage().data_ptr() not in inputs:
            self.shapes.append(tuple(out.shape))
        return out


def tiny_block():
    torch.manual_seed(0)
    vit = build_clip_vit(clip_vit_config(TINY)[0])
    return vit.transformer.resblocks[0], FrozenCLIPBlock(vit.transformer.resblocks[0])


def test_clip_feed_forward_makes_no_weight_copy_and_equals_open_clip():
    block, frozen = tiny_block()
    x = torch.randn(3, 5, TINY['width'])
    with OutputShapes() as record:
        out = frozen.feed_forward(x)
    weights = {tuple(p.shape) for p in block.mlp.parameters() if p.dim() == 2}
    assert not weights & set(record.shapes), 'a rescaled copy of a frozen weight per call'
    torch.testing.assert_close(out, block.mlp(x), atol=1e-5, rtol=1e-5)
    # Weights loaded after construction, and a state_dict round trip, are used as they are.
    state = {k: v + 0.1 for k, v in frozen.state_dict().items()}
    frozen.load_state_dict(state)
    assert all(torch.equal(frozen.state_dict()[k], v) for k, v in state.items())
    torch.testing.assert_close(frozen.feed_forward(x), block.mlp(x), atol=1e-5, rtol=1e-5)


def test_mmpretrain_parts_are_looked_up_once():
    assert mmpretrain_parts() is mmpretrain_parts()
