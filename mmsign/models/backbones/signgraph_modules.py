"""SignGraph's graph modules (CVPR 2024, ``SIGNGRAPH_SPEC.md``): a local sign graph inside
every frame and a temporal sign graph between neighbouring frames.

A node is one position of a frame's feature map ``[C, H, W]`` (``n = h * W + w``, its
feature the C-vector). On the frames ``x`` ``[N, C, H, W]`` of all videos::

    LocalSignGraph(x):  y = BN(conv1x1(x))
                        N(i) = the k nodes of smallest d(i, j)        (k-NN in each frame)
                        d(i, j) = |u_i|^2 - 2 u_i.u_j + |u_j|^2 + R(i, j),  u = y / |y|
                        z_i = max_{j in N(i)} ReLU(BN(W [y_i ; y_j - y_i] + b))   (EdgeConvolution)
                        return BN(conv1x1(z))
    TemporalSignGraph(x, segments):
                        v = BN(conv_t3(x))                             (inside each video)
                        g = GCN(v) over the edges (t, p) <-> (t + 1, q), (p, q) in S
                        return BN(conv_t3(g))

``R`` is ViG's relative position table (:func:`relative_position_table`). ``S`` is the
released code's pair set (:func:`temporal_pairs`): its scores are all equal, so ``S`` is
whatever ``torch.topk`` picks among ties; it depends on the device only. The backbone adds
``alpha * M(x)`` for each module (``alpha`` starts at 1).
"""
import math
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn

from .corrnet_modules import TemporalSegments

_PAIR_CACHE: Dict[Tuple[int, int, str], Tuple[Tensor, Tensor]] = {}


def relative_position_table(height: int, width: int, channels: int) -> Tensor:
    """ViG's relative position term ``R`` of a ``height x width`` grid, ``[HW, HW]``.

    ``R(i, j) = -(2 / C) sum_{m < C/4} [cos(f_m (r_i - r_j)) + cos(f_m (c_i - c_j))]`` with
    ``f_m = 10000^(-m / (C/4))``, nodes ``i`` at row ``r_i``, column ``c_i``; computed in
    float64, returned as float32 (the released ``relative_pos`` tables hold exactly this).

    Args:
        height (int): Rows of the grid.
        width (int): Columns of the grid.
        channels (int): ``C``, a multiple of 4.

    Returns:
        Tensor: ``[H * W, H * W]`` float32, ``-1`` on the diagonal.
    """
    quarter = channels // 4
    frequencies = 1.0 / 10000**(torch.arange(quarter, dtype=torch.float64) / quarter)
    span = max(height, width)
    offsets = torch.arange(-span + 1, span, dtype=torch.float64)
    # cos_sum[o] = sum_m cos(f_m * o) for every offset o, indexed from -(span - 1).
    cos_sum = torch.cos(offsets[:, None] * frequencies[None, :]).sum(1)
    rows = torch.arange(height * width) // width
    cols = torch.arange(height * width) % width
    d_row = rows[:, None] - rows[None, :] + span - 1
    d_col = cols[:, None] - cols[None, :] + span - 1
    return (-(2.0 / channels) * (cos_sum[d_row] + cos_sum[d_col])).float()


def temporal_pairs(num_nodes: int, k: int, device: torch.device) -> Tuple[Tensor, Tensor]:
    """The released temporal graph's node pairs ``S``: ``(p, q)`` joins node ``p`` of
    frame ``t`` and node ``q`` of frame ``t + 1``.

    The release scores all ``N^2`` pairs, sets every score below 0.05 (all of them) to 100
    and keeps ``torch.topk``'s ``k`` picks among these ties, so ``S`` is the top-k of a
    constant vector on the features' device (CPU: the first 49 indices at ``N = 196``, a
    block around node 32 at ``N = 49``; CUDA: the first ``k``). Cached per device.

    Args:
        num_nodes (int): ``N``, nodes per frame.
        k (int): Pairs kept (at most ``N^2``).
        device (torch.device): Where the features are.

    Returns:
        tuple[Tensor, Tensor]: ``p`` and ``q``, ``[min(k, N^2)]`` long each, on ``device``.
    """
    key = (num_nodes, k, str(device))
    if key not in _PAIR_CACHE:
        scores = torch.full((num_nodes * num_nodes, ), 100.0, device=device)
        index = torch.topk(scores, min(k, scores.numel())).indices
        _PAIR_CACHE[key] = (index // num_nodes, index % num_nodes)
    return _PAIR_CACHE[key]


def nearest_neighbours(y: Tensor, k: int, relative_pos: Tensor) -> Tensor:
    """Each node's ``k`` nearest nodes of its frame (itself included), as ViG finds them.

    Distances ``(|u_i|^2 + (-2 u_i.u_j)) + |u_j|^2 + R(i, j)`` of the L2-normalised
    features ``u``, in float32 and in the released order (the k-NN is discontinuous).

    Args:
        y (Tensor): ``[N, C, V]`` node features of ``N`` frames, ``V`` nodes each.
        k (int): Neighbours per node, at most ``V``.
        relative_pos (Tensor): ``[V, V]`` :func:`relative_position_table`.

    Returns:
        Tensor: ``[N, V, k]`` long, node indices inside the frame (no gradient).
    """
    with torch.no_grad():
        u = F.normalize(y.detach().float(), dim=1).transpose(1, 2)      # [N, V, C]
        square = (u * u).sum(-1, keepdim=True)                           # [N, V, 1]
        inner = -2 * torch.bmm(u, u.transpose(1, 2))                     # [N, V, V]
        distance = square + inner + square.transpose(1, 2) + relative_pos
        return torch.topk(distance.neg_(), k).indices


class EdgeConvolution(nn.Module):
    """ViG's edge convolution with max aggregation, as released (groups=4):
    ``z_i = max_{j in N(i)} ReLU(BN(W [y_i ; y_j - y_i] + b))``, ``2C`` channels out.

    With 4 groups on ``[y_i ; y_j - y_i]``, output channels ``[0, C)`` see only ``y_i``
    and ``[C, 2C)`` only ``y_j - y_i``: the first half (``center``) is computed once per
    node, and only the second (``neighbour``) per edge, as ``W' y_j - W' y_i + b'`` from a
    per-node product gathered along the edges. ``max_j ReLU(v_j) = ReLU(max_j v_j)``, so
    of the ``[N, C, V, k]`` edge tensors backward keeps only the BatchNorm's input.

    Args:
        channels (int): ``C`` (even).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        # The released [2C, C/2] groups=4 kernel: groups 0-1 and groups 2-3.
        self.center_conv = nn.Conv2d(channels, channels, 1, groups=2)
        self.center_norm = nn.BatchNorm2d(channels)
        self.neighbour_conv = nn.Conv2d(channels, channels, 1, groups=2)
        self.neighbour_norm = nn.BatchNorm2d(channels)
        self.init_weights()

    def init_weights(self) -> None:
        """The release's: kaiming-normal (fan-out of the whole ``2C`` kernel), zero bias."""
        for conv in (self.center_conv, self.neighbour_conv):
            nn.init.normal_(conv.weight, std=math.sqrt(2.0 / (2 * conv.out_channels)))
            nn.init.zeros_(conv.bias)

    def forward(self, y: Tensor, neighbours: Tensor) -> Tensor:
        """Aggregate each node's edges.

        Args:
            y (Tensor): ``[N, C, V]`` node features.
            neighbours (Tensor): ``[N, V, k]`` :func:`nearest_neighbours`.

        Returns:
            Tensor: ``[N, 2C, V]``.
        """
        frames, channels, nodes = y.shape
        k = neighbours.shape[-1]
        y = y.unsqueeze(-1)                                                # [N, C, V, 1]
        center = torch.relu(self.center_norm(self.center_conv(y)))
        product = F.conv2d(y, self.neighbour_conv.weight, None, groups=2)  # W' y, [N,C,V,1]
        index = neighbours.reshape(frames, 1, nodes * k).expand(-1, channels, -1)
        edges = product.squeeze(-1).gather(2, index).view(frames, channels, nodes, k)
        edges = edges.sub_(product).add_(self.neighbour_conv.bias.view(1, -1, 1, 1))
        aggregated = torch.relu(torch.max(self.neighbour_norm(edges), -1).values)
        return torch.cat([center.squeeze(-1), aggregated], 1)


@MODELS.register_module()
class LocalSignGraph(nn.Module):
    """The local (intra-frame) sign graph: a k-NN graph of each frame's positions and an
    edge convolution over it (ViG's Grapher without its residual, as released).

    Args:
        channels (int): ``C``, a multiple of 4 (the stage width).
        k (int): Neighbours per node, the node itself included: 3 after stage 3 and 4
            after stage 4 in the release. Capped at the frame's node count.
    """

    def __init__(self, channels: int, k: int = 3) -> None:
        super().__init__()
        if channels % 4 or k < 1:
            raise ValueError(f'LocalSignGraph needs channels a multiple of 4 and k >= 1, got '
                             f'channels={channels}, k={k}')
        self.k = k
        self.node_proj = nn.Conv2d(channels, channels, 1)
        self.node_norm = nn.BatchNorm2d(channels)
        self.edge_conv = EdgeConvolution(channels)
        self.out_proj = nn.Conv2d(2 * channels, channels, 1)
        self.out_norm = nn.BatchNorm2d(channels)
        self._tables: Dict[Tuple[int, int, str], Tensor] = {}

    def init_weights(self) -> None:
        """Re-initialise the edge convolution as released (after the trunk's generic
        kaiming init, which sees its two halves as separate kernels)."""
        self.edge_conv.init_weights()

    def relative_position(self, height: int, width: int, device: torch.device) -> Tensor:
        """The ``[HW, HW]`` :func:`relative_position_table` of this width, cached."""
        key = (height, width, str(device))
        if key not in self._tables:
            table = relative_position_table(height, width, self.node_proj.in_channels)
            self._tables[key] = table.to(device)
        return self._tables[key]

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, H, W]`` frames -> the term to add, same shape (frames are independent;
        ``segments`` is unused)."""
        frames, channels, height, width = x.shape
        y = self.node_norm(self.node_proj(x)).flatten(2)                    # [N, C, V]
        nodes = height * width
        neighbours = nearest_neighbours(y, min(self.k, nodes),
                                        self.relative_position(height, width, x.device))
        z = self.edge_conv(y, neighbours)                                   # [N, 2C, V]
        return self.out_norm(self.out_proj(z.view(frames, 2 * channels, height, width)))


class GraphConvolution(nn.Module):
    """The GCN step on the temporal graph (Kipf & Welling; torch_geometric's ``GCNConv``
    with its defaults): ``out = b + D^-1/2 (A + I) D^-1/2 X W^T``.

    The graph joins node ``p`` of frame ``t`` and node ``q`` of frame ``t + 1`` in both
    directions for every ``(p, q)`` in ``S`` (:func:`temporal_pairs`) and consecutive frames
    of a video, padding frames of a padded clip included. With ``A`` the 0/1 matrix of
    ``S``, ``s_t = deg_t^-1/2`` and ``deg(t, n) = 1 + [t < T-1] #{q: (n, q) in S}
    + [t > 0] #{p: (p, n) in S}``::

        out_t = b + s_t (s_t X'_t + A (s_t+1 X'_t+1) + A^T (s_t-1 X'_t-1)),  X' = X W^T

    computed by gathering and scattering along ``S`` (no ``V x V`` matrix).

    Args:
        channels (int): ``C`` (in and out).
        k (int): Pairs in ``S``; capped at ``V^2``.
    """

    def __init__(self, channels: int, k: int = 49) -> None:
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.empty(channels, channels))   # [out, in]
        self.bias = nn.Parameter(torch.zeros(channels))
        self.init_weights()

    def init_weights(self) -> None:
        """torch_geometric's: glorot weight, zero bias."""
        nn.init.xavier_uniform_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, V]`` node features of the frames -> ``[N, C, V]``."""
        nodes = x.shape[-1]
        p, q = temporal_pairs(nodes, self.k, x.device)
        projected = F.conv1d(x, self.weight.to(x.dtype)[:, :, None])      # X' = W x_n
        # Degrees (self-loop included) from the pairs a frame has on each side.
        dtype = torch.promote_types(x.dtype, torch.float32)
        # Counts by comparison, not index_add_ (whose ONNX export drops repeated indices).
        node = torch.arange(nodes, device=x.device)
        out_degree = (p[:, None] == node).sum(0).to(dtype)
        in_degree = (q[:, None] == node).sum(0).to(dtype)
        degree = (1 + segments.has_next()[:, None] * out_degree
                  + segments.has_previous()[:, None] * in_degree)            # [N, V]
        scale = degree.rsqrt().to(x.dtype).unsqueeze(1)                    # [N, 1, V]
        scaled = scale * projected
        # Messages from frame t + 1 to the pairs' first nodes and from t - 1 to their
        # second ones (zero beyond the video); scatter_add keeps only its index for
        # backward (index_add_ would keep the gathered messages).
        sources = torch.cat([segments.shifted(scaled, 1).index_select(2, q),
                             segments.shifted(scaled, -1).index_select(2, p)], 2)
        targets = torch.cat([p, q]).expand(*sources.shape[:2], -1)
        messages = torch.zeros_like(scaled).scatter_add_(2, targets, sources)
        return scale * (scaled + messages) + self.bias.to(x.dtype)[:, None]


@MODELS.register_module()
class TemporalSignGraph(nn.Module):
    """The temporal (inter-frame) sign graph: a GCN over edges between the nodes of
    consecutive frames, between two 3-frame convolutions (each zero-padded at its video's
    ends).

    Args:
        channels (int): ``C`` (the stage width).
        k (int): Node pairs per pair of consecutive frames (49 in the release).
    """

    def __init__(self, channels: int, k: int = 49) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f'TemporalSignGraph needs k >= 1, got {k}')
        self.node_conv = nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0),
                                   bias=False)
        self.node_norm = nn.BatchNorm2d(channels)
        self.gcn = GraphConvolution(channels, k)
        self.out_conv = nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0),
                                  bias=False)
        self.out_norm = nn.BatchNorm2d(channels)

    def init_weights(self) -> None:
        """The GCN's own glorot init (the trunk's generic init leaves it alone)."""
        self.gcn.init_weights()

    def forward(self, x: Tensor, segments: TemporalSegments) -> Tensor:
        """``[N, C, H, W]`` frames -> the term to add, same shape."""
        (v, ) = segments.temporal_conv([self.node_conv], x)
        v = self.node_norm(v)
        g = self.gcn(v.flatten(2), segments).view_as(x)
        (out, ) = segments.temporal_conv([self.out_conv], g)
        return self.out_norm(out)
