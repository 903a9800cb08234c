"""PyTorch definitions of the networks neurostream ships as ONNX decoders.

Every network takes a fixed-shape float32 window (batch 1 at export) and is written with plain ops
(no fused attention kernels) so that torch.onnx.export at opset 13 gives a graph ONNX Runtime runs
without custom operators.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class EEGNet(nn.Module):
    """EEGNet-v4 (Lawhern et al. 2018): temporal conv, depthwise spatial conv, separable conv.

    Input [B, 1, C, T]; output class logits [B, n_classes].
    """

    def __init__(self, n_channels, n_samples, n_classes, f1=8, d=2, f2=16, k1=40, dropout=0.5):
        super().__init__()
        self.block1 = nn.Sequential(
            nn.Conv2d(1, f1, (1, k1), padding=(0, k1 // 2), bias=False),
            nn.BatchNorm2d(f1),
            nn.Conv2d(f1, f1 * d, (n_channels, 1), groups=f1, bias=False),
            nn.BatchNorm2d(f1 * d),
            nn.ELU(),
            nn.AvgPool2d((1, 4)),
            nn.Dropout(dropout),
        )
        self.block2 = nn.Sequential(
            nn.Conv2d(f1 * d, f1 * d, (1, 16), padding=(0, 8), groups=f1 * d, bias=False),
            nn.Conv2d(f1 * d, f2, 1, bias=False),
            nn.BatchNorm2d(f2),
            nn.ELU(),
            nn.AvgPool2d((1, 8)),
            nn.Dropout(dropout),
        )
        with torch.no_grad():
            n_flat = self.block2(self.block1(torch.zeros(1, 1, n_channels, n_samples))).numel()
        self.classify = nn.Linear(n_flat, n_classes)

    def forward(self, x):
        return self.classify(self.block2(self.block1(x)).flatten(1))

    def max_norm_(self):
        """EEGNet's max-norm constraints: depthwise spatial filters <= 1, classifier rows <= 0.25."""
        with torch.no_grad():
            w = self.block1[2].weight
            w.copy_(torch.renorm(w, 2, 0, 1.0))
            w = self.classify.weight
            w.copy_(torch.renorm(w, 2, 0, 0.25))


class ShallowConvNet(nn.Module):
    """ShallowFBCSPNet (Schirrmeister et al. 2017): temporal conv, spatial conv, square, mean pool, log.

    Input [B, 1, C, T]; output class logits [B, n_classes].
    """

    def __init__(self, n_channels, n_samples, n_classes, n_filters=40, k=25, pool=75, stride=15, dropout=0.5):
        super().__init__()
        self.temporal = nn.Conv2d(1, n_filters, (1, k))
        self.spatial = nn.Conv2d(n_filters, n_filters, (n_channels, 1), bias=False)
        self.bn = nn.BatchNorm2d(n_filters)
        self.pool = nn.AvgPool2d((1, pool), stride=(1, stride))
        self.drop = nn.Dropout(dropout)
        with torch.no_grad():
            n_flat = self._features(torch.zeros(1, 1, n_channels, n_samples)).numel()
        self.classify = nn.Linear(n_flat, n_classes)

    def _features(self, x):
        x = self.bn(self.spatial(self.temporal(x)))
        x = self.pool(x * x)
        return torch.log(torch.clamp(x, min=1e-6))

    def forward(self, x):
        return self.classify(self.drop(self._features(x)).flatten(1))


class AttentionBlock(nn.Module):
    """Pre-norm transformer encoder layer written with matmuls (exports to plain ONNX ops)."""

    def __init__(self, dim, heads, ff_mult=2, dropout=0.1):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x):  # x [B, N, D]
        b, n, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.ff(self.norm2(x)))


class MVCNet(nn.Module):
    """MVCNet-style dual-branch network: a CNN branch (EEGNet-like, local temporal-spatial features) and a
    Transformer branch (global temporal dependencies over patch tokens), fused by concatenation.

    forward returns logits; features returns both branch embeddings, which the two contrastive losses
    (cross-view and cross-branch) use at training time.
    """

    def __init__(self, n_channels, n_samples, n_classes, f1=8, d=2, dim=32, patch=16, heads=4, layers=2, emb=32):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, f1, (1, 64), padding=(0, 32), bias=False),
            nn.BatchNorm2d(f1),
            nn.Conv2d(f1, f1 * d, (n_channels, 1), groups=f1, bias=False),
            nn.BatchNorm2d(f1 * d),
            nn.ELU(),
            nn.AvgPool2d((1, 8)),
            nn.Dropout(0.25),
            nn.Conv2d(f1 * d, f1 * d, (1, 16), padding=(0, 8), groups=f1 * d, bias=False),
            nn.Conv2d(f1 * d, 16, 1, bias=False),
            nn.BatchNorm2d(16),
            nn.ELU(),
            nn.AvgPool2d((1, 8)),
        )
        with torch.no_grad():
            n_cnn = self.cnn(torch.zeros(1, 1, n_channels, n_samples)).numel()
        self.cnn_head = nn.Linear(n_cnn, emb)
        # Transformer branch: a spatial mix to `dim` virtual channels, then non-overlapping temporal patches.
        self.spatial = nn.Conv1d(n_channels, dim, 1)
        self.patchify = nn.Conv1d(dim, dim, patch, stride=patch)
        n_tokens = n_samples // patch
        self.pos = nn.Parameter(torch.zeros(1, n_tokens, dim))
        self.blocks = nn.Sequential(*[AttentionBlock(dim, heads) for _ in range(layers)])
        self.tr_norm = nn.LayerNorm(dim)
        self.tr_head = nn.Linear(dim, emb)
        self.classify = nn.Linear(2 * emb, n_classes)

    def features(self, x):  # x [B, 1, C, T]
        zc = self.cnn_head(self.cnn(x).flatten(1))
        t = self.patchify(F.gelu(self.spatial(x[:, 0]))).transpose(1, 2) + self.pos
        zt = self.tr_head(self.tr_norm(self.blocks(t)).mean(dim=1))
        return zc, zt

    def forward(self, x):
        zc, zt = self.features(x)
        return self.classify(torch.cat([F.elu(zc), F.elu(zt)], dim=1))


def fourier_features(pos, n_freqs):
    """Défossez et al.'s spatial embedding: cos/sin of 2π(k x + l y) for k, l < n_freqs, pos in [0, 1]^2."""
    k = torch.arange(n_freqs, dtype=torch.float32)
    kx = k.view(-1, 1, 1)
    ly = k.view(1, -1, 1)
    phase = 2 * math.pi * (kx * pos[:, 0].view(1, 1, -1) + ly * pos[:, 1].view(1, 1, -1))
    phase = phase.reshape(n_freqs * n_freqs, -1)
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=0)  # [2 K^2, C]


class SpatialAttention(nn.Module):
    """Each output channel is a softmax-weighted sum of the sensors, the weights a learned function of the
    sensors' 2-D positions; spatial dropout removes the sensors near a random point while training."""

    def __init__(self, positions, out_channels, n_freqs=8, dropout_radius=0.1):
        super().__init__()
        self.register_buffer("pos", positions.float())
        self.register_buffer("feats", fourier_features(positions.float(), n_freqs))
        self.z = nn.Parameter(torch.randn(out_channels, 2 * n_freqs * n_freqs) / (2 * n_freqs * n_freqs))
        self.dropout_radius = dropout_radius

    def forward(self, x):  # x [B, C, T]
        logits = self.z @ self.feats  # [D, C]
        if self.training and self.dropout_radius > 0:
            centre = torch.rand(2, device=x.device)
            drop = ((self.pos - centre) ** 2).sum(dim=1).sqrt() < self.dropout_radius
            logits = logits.masked_fill(drop.view(1, -1), float("-inf"))
        att = torch.softmax(logits, dim=-1)
        return torch.einsum("dc,bct->bdt", att, x)


class BrainModule(nn.Module):
    """Défossez et al. (2023)-style brain module: spatial attention over sensor positions, a 1x1 conv, a
    subject layer (one learned matrix per subject), residual dilated 1-D conv blocks with GELU, a GLU, and a
    projection. The time axis is pooled to `time_bins` bins and flattened into the embedding, as the paper
    flattens time for its CLIP loss.

    Inputs: x [B, C, T] and subject [B] (int64 index into the subject layer). Output [B, emb].
    """

    def __init__(self, positions, n_samples, n_subjects, emb, d1=64, hidden=80, n_blocks=3, time_bins=12):
        super().__init__()
        self.attention = SpatialAttention(positions, d1)
        self.merge = nn.Conv1d(d1, d1, 1)
        self.subject_layers = nn.Parameter(torch.eye(d1).repeat(n_subjects, 1, 1))
        self.inp = nn.Conv1d(d1, hidden, 1)
        convs, norms = [], []
        for k in range(n_blocks):
            for j in range(2):
                dil = 2 ** ((2 * k + j) % 5)
                convs.append(nn.Conv1d(hidden, hidden, 3, padding=dil, dilation=dil))
                norms.append(nn.BatchNorm1d(hidden))
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(norms)
        self.glu = nn.Conv1d(hidden, 2 * hidden, 3, padding=1)
        self.pool = nn.AvgPool1d(n_samples // time_bins)
        self.out = nn.Sequential(nn.Linear(hidden * time_bins, 2 * emb), nn.GELU(), nn.Linear(2 * emb, emb))

    def forward(self, x, subject):
        h = self.merge(self.attention(x))
        w = torch.index_select(self.subject_layers, 0, subject)  # [B, D, D]
        h = self.inp(torch.bmm(w, h))
        for conv, norm in zip(self.convs, self.norms):
            h = h + F.gelu(norm(conv(h)))
        h = F.glu(self.glu(h), dim=1)
        return self.out(self.pool(h).flatten(1))


def clip_loss(pred, target, temperature=0.1):
    """Symmetric InfoNCE between predictions and their targets over the batch (CLIP)."""
    p = F.normalize(pred, dim=1)
    t = F.normalize(target, dim=1)
    logits = p @ t.T / temperature
    labels = torch.arange(len(p))
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


class FoldedBrainModule(nn.Module):
    """Inference form of a trained BrainModule for one subject. Once trained, the spatial attention is a
    fixed [D, C] matrix (its softmax weights depend on the sensor positions, not on the signal), and it,
    the 1x1 merge conv, the chosen subject's layer and the 1x1 input conv are consecutive linear maps of
    the sensors: they fold into one 1x1 conv (sensors -> hidden), computed here in float64. The output
    equals BrainModule(x, subject) up to float32 rounding, with a quarter of the front end's
    multiply-adds at the published size and no subject input (export one model per subject)."""

    def __init__(self, m, subject):
        super().__init__()
        with torch.no_grad():
            a = m.attention
            att = torch.softmax((a.z @ a.feats).double(), dim=-1)                      # [D, C]
            wm, bm = m.merge.weight[:, :, 0].double(), m.merge.bias.double()           # [D, D], [D]
            s = m.subject_layers[subject].double()                                     # [D, D]
            wi, bi = m.inp.weight[:, :, 0].double(), m.inp.bias.double()               # [H, D], [H]
            w = wi @ s @ wm @ att                                                      # [H, C]
            b = wi @ s @ bm + bi
        self.front = nn.Conv1d(w.shape[1], w.shape[0], 1)
        with torch.no_grad():
            self.front.weight.copy_(w.float().unsqueeze(-1))
            self.front.bias.copy_(b.float())
        self.convs, self.norms, self.glu, self.pool, self.out = m.convs, m.norms, m.glu, m.pool, m.out

    def forward(self, x):
        h = self.front(x)
        for conv, norm in zip(self.convs, self.norms):
            h = h + F.gelu(norm(conv(h)))
        h = F.glu(self.glu(h), dim=1)
        return self.out(self.pool(h).flatten(1))


def _as_conv2d(m):
    """The 2-D equivalent of a 1-D layer acting on [B, C, T], for input [B, C, 1, T]; other modules as is."""
    if isinstance(m, nn.Conv1d):
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            raise ValueError("only zero padding given as a number is supported")
        c = nn.Conv2d(m.in_channels, m.out_channels, (1, m.kernel_size[0]), stride=(1, m.stride[0]),
                      padding=(0, m.padding[0]), dilation=(1, m.dilation[0]), groups=m.groups, bias=m.bias is not None)
        with torch.no_grad():
            c.weight.copy_(m.weight.unsqueeze(2))
            if m.bias is not None:
                c.bias.copy_(m.bias)
        return c
    if isinstance(m, nn.BatchNorm1d):
        b = nn.BatchNorm2d(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                           track_running_stats=m.track_running_stats)
        b.load_state_dict(m.state_dict())
        return b
    if isinstance(m, nn.AvgPool1d):
        return nn.AvgPool2d((1, m.kernel_size[0]), stride=(1, m.stride[0]), padding=(0, m.padding[0]),
                            ceil_mode=m.ceil_mode, count_include_pad=m.count_include_pad)
    return m


class Conv2dFoldedBrainModule(nn.Module):
    """A FoldedBrainModule computed on [B, C, 1, T]: every Conv1d, BatchNorm1d and AvgPool1d becomes the
    Conv2d, BatchNorm2d and AvgPool2d with a (1, k) kernel, (1, d) dilation and (0, p) padding and the
    same weights; GELU, the residual sums, the GLU (over channels) and the flatten (of [B, H, 1, bins],
    the same order as [B, H, bins]) are unchanged. Same input [B, C, T] and output, same arithmetic:
    it exists because ONNX Runtime's x86 CPU provider runs 2-D convolutions with its blocked NCHWc
    kernels and 1-D ones with a generic im2col + GEMM path."""

    def __init__(self, folded):
        super().__init__()
        self.front = _as_conv2d(folded.front)
        self.convs = nn.ModuleList(_as_conv2d(c) for c in folded.convs)
        self.norms = nn.ModuleList(_as_conv2d(n) for n in folded.norms)
        self.glu = _as_conv2d(folded.glu)
        self.pool = _as_conv2d(folded.pool)
        self.out = folded.out

    def forward(self, x):  # x [B, C, T]
        h = self.front(x.unsqueeze(2))
        for conv, norm in zip(self.convs, self.norms):
            h = h + F.gelu(norm(conv(h)))
        h = F.glu(self.glu(h), dim=1)
        return self.out(self.pool(h).flatten(1))
