"""SignGraph's graph modules and backbone against independent restatements of
SIGNGRAPH_SPEC.md: dense adjacency forms on random tensors, the released temporal pair set,
the plain trunk at zero mixing weights, packed vs batched videos."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from mmsign.models.backbones import CorrNetResNet
from mmsign.models.backbones.corrnet_modules import TemporalSegments
from mmsign.models.backbones.signgraph_modules import (
    EdgeConvolution,
    GraphConvolution,
    LocalSignGraph,
    TemporalSignGraph,
    nearest_neighbours,
    relative_position_table,
    temporal_pairs,
)

SIGNGRAPH_STAGES = dict(
    layer3=[dict(type='LocalSignGraph', k=3), dict(type='TemporalSignGraph', k=49)],
    layer4=[dict(type='LocalSignGraph', k=4), dict(type='TemporalSignGraph', k=49)])


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values in every parameter and BatchNorm buffer (BatchNorm scales of both
    signs: the edge convolution's max must come after its BatchNorm)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in itertools.chain(module.named_parameters(), module.named_buffers()):
            if name.endswith('num_batches_tracked'):
                continue
            values = torch.randn(tensor.shape, generator=generator, dtype=torch.float64)
            if name.endswith('running_var'):
                values = values.abs() + 0.5
            tensor.copy_(values * (0.3 if tensor.dim() > 1 else 1.0))
    return module


def frames_of(x):
    """``[B, C, T, H, W]`` -> ``[B * T, C, H, W]``."""
    return x.transpose(1, 2).flatten(0, 1)


def eval_bn(x, bn):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0,
                        bn.eps)


# ---- the spec's formulas, restated ----------------------------------------------------
def spec_relative_pos(height, width, channels):
    """R(i, j) term by term, in float64 (SIGNGRAPH_SPEC.md, LSG step 2)."""
    nodes = height * width
    table = torch.zeros(nodes, nodes, dtype=torch.float64)
    freq = [10000**(-m / (channels // 4)) for m in range(channels // 4)]
    for i, j in itertools.product(range(nodes), repeat=2):
        dr, dc = i // width - j // width, i % width - j % width
        table[i, j] = -(2 / channels) * sum(math.cos(f * dr) + math.cos(f * dc) for f in freq)
    return table


def vig_relative_pos(grid, channels):
    """ViG's construction: 2-D sin-cos embeddings P ``[N, C]``, ``-2 P P^T / C``."""
    def one_d(dim, pos):
        omega = 1.0 / 10000**(torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
        out = pos.reshape(-1, 1) * omega
        return torch.cat([torch.sin(out), torch.cos(out)], 1)

    coords = torch.arange(grid, dtype=torch.float64)
    cols, rows = torch.meshgrid(coords, coords, indexing='xy')
    embed = torch.cat([one_d(channels // 2, cols), one_d(channels // 2, rows)], 1)
    return -(2 * embed @ embed.T / channels)


def spec_local_graph(x, module):
    """LSG on ``[N, C, H, W]`` frames, eval mode: a dense ``V x V`` neighbour mask and the
    released groups=4 edge convolution on ``[y_i ; y_j - y_i]`` for every pair."""
    frames, channels, height, width = x.shape
    nodes = height * width
    y = eval_bn(F.conv2d(x, module.node_proj.weight, module.node_proj.bias), module.node_norm)
    y = y.flatten(2)                                                      # [N, C, V]
    u = y.float() / y.float().norm(dim=1, keepdim=True).clamp_min(1e-12)
    gram = torch.einsum('ncv,ncw->nvw', u, u)
    sq = (u * u).sum(1)
    dist = (sq[:, :, None] + (-2 * gram)) + sq[:, None, :] + spec_relative_pos(
        height, width, channels).float()
    k = min(module.k, nodes)
    kth = dist.sort(-1).values[..., k - 1:k]
    mask = dist <= kth                                                    # [N, V, V]
    assert (mask.sum(-1) == k).all()
    # Every pair (i, j): e_ij = [y_i ; y_j - y_i], the released 2C -> 2C groups=4 conv.
    edge = module.edge_conv
    weight = torch.cat([edge.center_conv.weight, edge.neighbour_conv.weight])
    bias = torch.cat([edge.center_conv.bias, edge.neighbour_conv.bias])
    yi = y[:, :, :, None].expand(-1, -1, -1, nodes)
    yj = y[:, :, None, :].expand(-1, -1, nodes, -1)
    e = F.conv2d(torch.cat([yi, yj - yi], 1), weight, bias, groups=4)   # [N, 2C, V, V]
    norm = torch.nn.BatchNorm2d(2 * channels).double().eval()
    for name in ('weight', 'bias', 'running_mean', 'running_var'):
        getattr(norm, name).data = torch.cat([getattr(edge.center_norm, name),
                                              getattr(edge.neighbour_norm, name)])
    h = torch.relu(norm(e)).masked_fill(~mask[:, None], float('-inf'))
    z = h.max(-1).values.view(frames, 2 * channels, height, width)
    return eval_bn(F.conv2d(z, module.out_proj.weight, module.out_proj.bias),
                   module.out_norm)


def dense_gcn(x, weight, bias, pairs, frames):
    """torch_geometric's GCNConv on one video: ``[T, C, V]`` -> ``[T, C, V]`` with the
    ``TV x TV`` adjacency of the edges ``(t, p) <-> (t + 1, q)`` plus self loops."""
    _, channels, nodes = x.shape
    total = frames * nodes
    adjacency = torch.eye(total, dtype=x.dtype)
    for t in range(frames - 1):
        for p, q in pairs:
            adjacency[t * nodes + p, (t + 1) * nodes + q] = 1
            adjacency[(t + 1) * nodes + q, t * nodes + p] = 1
    scale = adjacency.sum(1).rsqrt()
    propagation = scale[:, None] * adjacency * scale[None, :]
    features = x.transpose(1, 2).reshape(total, channels) @ weight.T       # X W^T
    out = propagation @ features + bias
    return out.view(frames, nodes, channels).transpose(1, 2)


def spec_temporal_graph(video, module, pairs):
    """TSG on one video ``[1, C, T, H, W]``: zero-padded 3-frame convolutions, dense GCN."""
    _, channels, frames, height, width = video.shape
    v = F.conv3d(video, module.node_conv.weight, padding=(1, 0, 0))
    v = eval_bn(frames_of(v), module.node_norm).flatten(2)                 # [T, C, V]
    g = dense_gcn(v, module.gcn.weight, module.gcn.bias, pairs, frames)
    g = g.view(frames, channels, height, width).transpose(0, 1).unsqueeze(0)
    return eval_bn(frames_of(F.conv3d(g, module.out_conv.weight, padding=(1, 0, 0))),
                   module.out_norm)


# ---- tests -----------------------------------------------------------------------------
def test_relative_position_table_is_the_spec_formula_and_vig_construction():
    for height, width, channels in [(3, 3, 16), (2, 4, 8), (7, 7, 512)]:
        table = relative_position_table(height, width, channels)
        spec = spec_relative_pos(height, width, channels)
        assert table.dtype == torch.float32
        assert torch.equal(table, spec.float())
        assert torch.diagonal(table).eq(-1).all()
    for grid, channels in [(14, 256), (7, 512)]:
        torch.testing.assert_close(relative_position_table(grid, grid, channels),
                                   vig_relative_pos(grid, channels).float(), rtol=0,
                                   atol=1e-7)
    table = relative_position_table(14, 14, 256)
    off_diagonal = table[~torch.eye(196, dtype=torch.bool)]
    assert -0.99 < off_diagonal.min() and off_diagonal.max() < -0.65


def released_pairs_cpu(nodes):
    """SIGNGRAPH_SPEC.md, TSG step 2: the pairs torch.topk picks on the CPU."""
    if nodes == 196:
        return [(0, q) for q in range(49)]
    return [(32, q) for q in range(8, 46)] + [(33, q) for q in [*range(16, 26), 32]]


@pytest.mark.parametrize('nodes', [196, 49])
def test_temporal_pairs_are_the_released_ties_on_the_cpu(nodes):
    p, q = temporal_pairs(nodes, 49, torch.device('cpu'))
    assert sorted(zip(p.tolist(), q.tolist())) == released_pairs_cpu(nodes)
    # The released form: top-k of a [B, T - 1, N^2] block of equal scores, per row.
    index = torch.topk(torch.full((2, 5, nodes * nodes), 100.0), 49).indices
    assert all(sorted(row.tolist()) == sorted((p * nodes + q).tolist())
               for row in index.flatten(0, 1))
    assert temporal_pairs(2, 49, torch.device('cpu'))[0].numel() == 4   # capped at N^2


def test_nearest_neighbours_include_self_and_follow_the_distance():
    y = torch.randn(3, 16, 12, generator=torch.Generator().manual_seed(0))
    table = relative_position_table(3, 4, 16)
    got = nearest_neighbours(y, 3, table)
    assert got.shape == (3, 12, 3)
    assert (got == torch.arange(12)[None, :, None]).any(-1).all()        # d(i, i) = -1
    u = F.normalize(y, dim=1)
    distance = torch.cdist(u.transpose(1, 2), u.transpose(1, 2))**2 + table
    want = distance.topk(3, largest=False).indices
    assert torch.equal(got.sort(-1).values, want.sort(-1).values)


@pytest.mark.parametrize('grid,k', [((3, 4), 3), ((2, 2), 4), ((1, 1), 4)])
def test_local_sign_graph_is_the_dense_spec_form(grid, k):
    module = randomize(LocalSignGraph(16, k=k)).double().eval()
    x = torch.randn(5, 16, *grid, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = module(x, TemporalSegments([2, 3], x.device))
    torch.testing.assert_close(got, spec_local_graph(x, module), rtol=1e-10, atol=1e-10)
    assert (module.edge_conv.center_norm.weight < 0).any()  # both signs were exercised


def test_edge_convolution_trains_as_the_released_edge_tensor():
    """Training mode: the BatchNorm statistics of the released ``[N, 2C, V, k]`` edge
    tensor (the centre half repeated k times has the same mean and variance)."""
    edge = randomize(EdgeConvolution(8)).double().train()
    y = torch.randn(4, 8, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    neighbours = nearest_neighbours(y, 3, relative_position_table(2, 3, 8))
    reference = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 1, groups=4),
                                    torch.nn.BatchNorm2d(16), torch.nn.ReLU()).double()
    with torch.no_grad():
        reference[0].weight.copy_(torch.cat([edge.center_conv.weight,
                                             edge.neighbour_conv.weight]))
        reference[0].bias.copy_(torch.cat([edge.center_conv.bias, edge.neighbour_conv.bias]))
        for name in ('weight', 'bias', 'running_mean', 'running_var'):
            getattr(reference[1], name).copy_(torch.cat([getattr(edge.center_norm, name),
                                                         getattr(edge.neighbour_norm, name)]))
    yi = y[:, :, :, None].expand(-1, -1, -1, 3)
    yj = torch.stack([y[n][:, neighbours[n]] for n in range(4)])        # [N, C, V, k]
    want = reference(torch.cat([yi, yj - yi], 1)).max(-1).values
    got = edge(y, neighbours)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    for name in ('running_mean', 'running_var'):
        torch.testing.assert_close(getattr(edge.neighbour_norm, name),
                                   getattr(reference[1], name)[8:], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(edge.center_norm.running_mean,
                               reference[1].running_mean[:8], rtol=1e-10, atol=1e-10)
    # The centre half's running variance counts nodes, not their k copies, in its
    # unbiased correction: n / (n - 1) with n = 24 here (72 released); a relative 1 / n
    # difference in each update (below 1e-5 at the release's 150,000 nodes per batch).
    torch.testing.assert_close(edge.center_norm.running_var,
                               reference[1].running_var[:8], rtol=0.01, atol=0)
    assert not torch.allclose(edge.center_norm.running_var, reference[1].running_var[:8],
                              rtol=1e-6, atol=0)


def test_graph_convolution_is_the_dense_gcn_per_video():
    gcn = randomize(GraphConvolution(8, k=5)).double()
    lengths = [3, 1, 4]
    x = torch.randn(8, 8, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    pairs = list(zip(*(t.tolist() for t in temporal_pairs(9, 5, x.device))))
    got = gcn(x, TemporalSegments(lengths, x.device))
    want = torch.cat([dense_gcn(v, gcn.weight, gcn.bias, pairs, len(v))
                      for v in x.split(lengths)])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('nodes,k', [(196, 49), (49, 49)])
def test_graph_convolution_with_the_released_pairs(nodes, k):
    """The released sizes: S with repeated rows (N = 196, all from node 0) and the CPU set
    of N = 49; one uniform batch of two videos."""
    gcn = randomize(GraphConvolution(4, k=k)).double()
    x = torch.randn(6, 4, nodes, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    got = gcn(x, TemporalSegments([3, 3], x.device))
    pairs = released_pairs_cpu(nodes)
    want = torch.cat([dense_gcn(v, gcn.weight, gcn.bias, pairs, 3) for v in x.split(3)])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    untouched = sorted(set(range(nodes)) - {n for pair in pairs for n in pair})
    torch.testing.assert_close(  # nodes outside S: X W^T + b
        got[:, :, untouched], torch.einsum('oc,ncv->nov', gcn.weight, x[:, :, untouched])
        + gcn.bias[:, None], rtol=1e-10, atol=1e-10)


def test_temporal_sign_graph_is_the_dense_spec_form_per_video():
    module = randomize(TemporalSignGraph(8, k=6)).double().eval()
    lengths = [2, 4, 1]
    videos = [torch.randn(1, 8, n, 3, 3, dtype=torch.float64) for n in lengths]
    pairs = list(zip(*(t.tolist() for t in temporal_pairs(9, 6, torch.device('cpu')))))
    packed = module(torch.cat([frames_of(v) for v in videos]),
                    TemporalSegments(lengths, torch.device('cpu')))
    want = torch.cat([spec_temporal_graph(v, module, pairs) for v in videos])
    torch.testing.assert_close(packed, want, rtol=1e-10, atol=1e-10)
    # Equal lengths: the direct [B, T, ...] form and the indexed one agree.
    x = torch.randn(6, 8, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(module(x, TemporalSegments([3, 3], x.device)),
                               module(x, TemporalSegments([3, 3], x.device, packed=True)),
                               rtol=1e-10, atol=1e-10)


def test_release_initialisation_and_parameter_counts():
    """The release's init, and SIGNGRAPH_SPEC.md's counts at full width: LSG 265,216 /
    1,054,720, TSG 460,032 / 1,837,568, graph modules + alpha 3,617,540."""
    backbone = CorrNetResNet(stage_modules=SIGNGRAPH_STAGES, mixing_init=1.0)
    assert backbone.alpha.tolist() == [1.0] * 4
    modules = [m for name in ('layer3', 'layer4') for m in backbone.stage_modules[name]]
    counts = [sum(p.numel() for p in m.parameters()) for m in modules]
    assert counts == [265216, 460032, 1054720, 1837568]
    assert sum(counts) + backbone.alpha.numel() == 3617540
    local, temporal = modules[2], modules[3]
    edge = local.edge_conv
    for conv in (edge.center_conv, edge.neighbour_conv):  # kaiming fan-out of [1024, 256]
        assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 1024), rel=0.05)
        assert conv.bias.abs().max() == 0
    assert local.node_proj.weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.05)
    assert local.node_proj.bias.abs().max() > 0  # PyTorch's uniform default kept
    bound = math.sqrt(6 / 1024)  # glorot
    assert temporal.gcn.weight.abs().max() <= bound and temporal.gcn.weight.std() > bound / 2
    assert temporal.gcn.bias.abs().max() == 0
    assert not any(name.endswith('relative_pos') for name in backbone.state_dict())


def test_zero_mixing_weights_give_the_plain_trunk():
    torch.manual_seed(0)
    graph = randomize(CorrNetResNet(base_channels=16, stage_modules=SIGNGRAPH_STAGES,
                                     mixing_init=0.0)).double().eval()
    with torch.no_grad():
        graph.alpha.zero_()
    plain = CorrNetResNet(base_channels=16, stage_modules={}).double().eval()
    plain.load_state_dict({k: v for k, v in graph.state_dict().items()
                           if not k.startswith('stage_modules.') and k != 'alpha'},
                          strict=False)
    assert plain.alpha.numel() == 0
    frames = torch.randn(7, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(graph(frames, [3, 4]), plain(frames, [3, 4]), rtol=0,
                                   atol=0)
        graph.alpha.fill_(1.0)
        assert not torch.allclose(graph(frames, [3, 4]), plain(frames, [3, 4]))


def test_packed_and_batched_backbone_paths_agree():
    backbone = randomize(CorrNetResNet(base_channels=16, stage_modules=SIGNGRAPH_STAGES,
                                       mixing_init=1.0)).double().eval()
    frames = torch.randn(12, 3, 64, 64, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        batched = backbone(frames, [6, 6])
        packed = backbone.forward_packed(frames, [6, 6])
        videos = backbone.forward_videos(frames.view(2, 6, 3, 64, 64).transpose(1, 2))
        mixed = backbone(frames, [5, 7])
        alone = torch.cat([backbone(frames[:5], [5]), backbone(frames[5:], [7])])
    torch.testing.assert_close(packed, batched, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(videos, batched, rtol=0, atol=0)
    torch.testing.assert_close(mixed, alone, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(mixed[:5], batched[:5])  # the temporal graph reaches frames


def test_everything_trains_and_alpha_gets_a_gradient():
    backbone = CorrNetResNet(base_channels=16, stage_modules=SIGNGRAPH_STAGES,
                             mixing_init=1.0)
    backbone(torch.randn(7, 3, 64, 64), [3, 4]).square().mean().backward()
    assert all(p.grad is not None for p in backbone.parameters())
    assert backbone.alpha.grad.abs().min() > 0
    for module in backbone.stage_modules['layer3']:
        assert all(p.grad.abs().sum() > 0 for p in module.parameters())


def test_training_keeps_one_edge_tensor_per_local_graph():
    """What autograd saves of the ``[N, C, V, k]``-sized edge tensors: the neighbour
    BatchNorm's input only (the released form keeps three of ``[N, 2C, V, k]``)."""
    module = LocalSignGraph(16, k=3).train()
    frames, nodes = 5, 6 * 6
    x = torch.randn(frames, 16, 6, 6, requires_grad=True)
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()  # an expanded index has a small one
        if storage.nbytes() >= frames * 16 * nodes * 3 * tensor.element_size():
            saved[storage.data_ptr()] = storage.nbytes() // tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = module(x, TemporalSegments([5], x.device))
    assert list(saved.values()) == [frames * 16 * nodes * 3]
    out.sum().backward()
    assert x.grad is not None


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match='multiple of 4'):
        LocalSignGraph(18)
    with pytest.raises(ValueError, match='k >= 1'):
        TemporalSignGraph(16, k=0)
