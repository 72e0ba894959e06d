"""Hand-written PyTorch reference implementations of the specgen reference networks.

These modules are the "hand-written baseline" for latency benchmarks against generated code
and an independent cross-check of parameter and MAC counts. They are written in the style of
torchvision (``nn.Module`` classes, ``nn.Sequential`` where natural, explicit ``forward``
methods) and follow the structures and exact published numbers listed in docs/cost.md (Reference
networks).

Conventions: a conv followed by BatchNorm has ``bias=False``, otherwise ``bias=True``;
BatchNorm uses PyTorch defaults; a k x k conv/pool is padded by ``(k - 1) // 2`` unless stated;
channel shuffle uses the torchvision ``view -> transpose -> contiguous -> view`` idiom.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "alexnet_two_tower",
    "channel_shuffle",
    "igc_cifar",
    "mobilefacenet",
    "mobilenet_v1",
    "shufflenet_v1",
]


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Channel shuffle (Zhang et al. 2017), torchvision idiom."""
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, c, h, w)


class ChannelShuffle(nn.Module):
    """Module wrapper around :func:`channel_shuffle`."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ConvBNAct(nn.Sequential):
    """k x k conv (no bias) -> BatchNorm -> optional activation."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        padding: int | None = None,
        activation: nn.Module | None = None,
    ) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        if activation is not None:
            layers.append(activation)
        super().__init__(*layers)


# ---------------------------------------------------------------------------------------------
# MobileNet V1
# ---------------------------------------------------------------------------------------------


class MobileNetV1(nn.Module):
    """MobileNet V1 (Howard et al. 2017, Table 1), last depthwise layer with stride 1."""

    # (output channels, stride) of the 13 depthwise-separable blocks at width 1.0
    CFG: tuple[tuple[int, int], ...] = (
        (64, 1),
        (128, 2),
        (128, 1),
        (256, 2),
        (256, 1),
        (512, 2),
        (512, 1),
        (512, 1),
        (512, 1),
        (512, 1),
        (512, 1),
        (1024, 2),
        (1024, 1),
    )

    def __init__(self, width: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        in_ch = int(32 * width)
        layers: list[nn.Module] = [ConvBNAct(3, in_ch, 3, stride=2, activation=nn.ReLU(True))]
        for out, stride in self.CFG:
            out_ch = int(out * width)
            layers.append(
                nn.Sequential(
                    ConvBNAct(in_ch, in_ch, 3, stride, groups=in_ch, activation=nn.ReLU(True)),
                    ConvBNAct(in_ch, out_ch, 1, activation=nn.ReLU(True)),
                )
            )
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_ch, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def mobilenet_v1(width: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """MobileNet V1, input 3x224x224.

    Published counts: at width 1.0, 4,231,976 params and 568,740,352 MACs.
    """
    return MobileNetV1(width, num_classes)


# ---------------------------------------------------------------------------------------------
# ShuffleNet V1
# ---------------------------------------------------------------------------------------------

SHUFFLENET_V1_CHANNELS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}


class ShuffleUnit(nn.Module):
    """ShuffleNet V1 unit.

    1x1 group conv (``first_groups``) -> BN -> ReLU -> shuffle(``first_groups``) ->
    3x3 depthwise (stride) -> BN -> 1x1 group conv (``groups``) -> BN. Stride 1: residual add
    then ReLU. Stride 2: concat with a 3x3/s2 average-pooled shortcut, then ReLU; the last conv
    then outputs ``out_ch - in_ch`` channels.
    """

    def __init__(
        self, in_ch: int, out_ch: int, stride: int, groups: int, first_groups: int
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.stride = stride
        mid = out_ch // 4
        branch_out = out_ch - in_ch if stride == 2 else out_ch
        if stride == 1 and in_ch != out_ch:
            raise ValueError("a stride-1 ShuffleNet unit needs in_ch == out_ch")
        self.branch = nn.Sequential(
            ConvBNAct(in_ch, mid, 1, groups=first_groups, activation=nn.ReLU(True)),
            ChannelShuffle(first_groups),
            ConvBNAct(mid, mid, 3, stride=stride, groups=mid),
            ConvBNAct(mid, branch_out, 1, groups=groups),
        )
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else None
        self.relu = nn.ReLU(True)

    def forward(self, x: Tensor) -> Tensor:
        if self.shortcut is None:
            return self.relu(x + self.branch(x))
        return self.relu(torch.cat([self.shortcut(x), self.branch(x)], dim=1))


class ShuffleNetV1(nn.Module):
    """ShuffleNet V1 1x (Zhang et al. 2017, Table 1)."""

    def __init__(self, groups: int = 3, num_classes: int = 1000) -> None:
        super().__init__()
        if groups not in SHUFFLENET_V1_CHANNELS:
            raise ValueError(f"groups must be one of {sorted(SHUFFLENET_V1_CHANNELS)}")
        self.stem = nn.Sequential(
            ConvBNAct(3, 24, 3, stride=2, activation=nn.ReLU(True)),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        in_ch = 24
        stages: list[nn.Module] = []
        for stage_idx, (out_ch, repeats) in enumerate(
            zip(SHUFFLENET_V1_CHANNELS[groups], (4, 8, 4), strict=True)
        ):
            units: list[nn.Module] = []
            for i in range(repeats):
                stride = 2 if i == 0 else 1
                # The very first pointwise conv of stage 2 is not grouped.
                first_groups = 1 if (stage_idx == 0 and i == 0) else groups
                units.append(ShuffleUnit(in_ch, out_ch, stride, groups, first_groups))
                in_ch = out_ch
            stages.append(nn.Sequential(*units))
        self.stage2, self.stage3, self.stage4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.stage2(x)
        x = self.stage3(x)
        x = self.stage4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def shufflenet_v1(groups: int = 3, num_classes: int = 1000) -> nn.Module:
    """ShuffleNet V1 1x with ``groups`` in {1, 2, 3, 4, 8}, input 3x224x224.

    Published counts: g=3 has 1,865,728 params and 137,460,672 MACs; g=1/2/4/8 have
    1,531,936 / 1,733,848 / 1,968,344 / 2,434,768 params and 143,078,976 / 140,836,512 /
    134,339,776 / 138,365,952 MACs.
    """
    return ShuffleNetV1(groups, num_classes)


# ---------------------------------------------------------------------------------------------
# MobileFaceNet
# ---------------------------------------------------------------------------------------------


class FaceBottleneck(nn.Module):
    """MobileFaceNet bottleneck: 1x1 expand -> BN -> PReLU -> 3x3 dw -> BN -> PReLU ->
    1x1 linear -> BN, with a residual add when stride is 1 and in == out."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_ch * expansion
        self.use_residual = stride == 1 and in_ch == out_ch
        self.block = nn.Sequential(
            ConvBNAct(in_ch, hidden, 1, activation=nn.PReLU(hidden)),
            ConvBNAct(hidden, hidden, 3, stride, groups=hidden, activation=nn.PReLU(hidden)),
            ConvBNAct(hidden, out_ch, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        if self.use_residual:
            out = x + out
        return out


class MobileFaceNet(nn.Module):
    """MobileFaceNet (Chen et al. 2018, Table 1) with per-channel PReLU and no biases."""

    # (expansion t, output channels c, repeats n, first stride s)
    CFG: tuple[tuple[int, int, int, int], ...] = (
        (2, 64, 5, 2),
        (4, 128, 1, 2),
        (2, 128, 6, 1),
        (4, 128, 1, 2),
        (2, 128, 2, 1),
    )

    def __init__(self, embedding: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            ConvBNAct(3, 64, 3, stride=2, activation=nn.PReLU(64)),
            ConvBNAct(64, 64, 3, groups=64, activation=nn.PReLU(64)),
        ]
        in_ch = 64
        for t, c, n, s in self.CFG:
            for i in range(n):
                layers.append(FaceBottleneck(in_ch, c, s if i == 0 else 1, t))
                in_ch = c
        layers.append(ConvBNAct(in_ch, 512, 1, activation=nn.PReLU(512)))
        self.features = nn.Sequential(*layers)
        # Global depthwise conv: kernel = whole 7x7 map, valid padding, linear (no activation).
        self.gdc = ConvBNAct(512, 512, 7, groups=512, padding=0)
        self.embedding = ConvBNAct(512, embedding, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.gdc(x)
        return self.embedding(x)


def mobilefacenet(embedding: int = 128) -> nn.Module:
    """MobileFaceNet, input 3x112x112, output (N, embedding, 1, 1).

    Published counts: 1,003,136 params and 220,965,376 MACs.
    """
    return MobileFaceNet(embedding)


# ---------------------------------------------------------------------------------------------
# AlexNet (original two-tower)
# ---------------------------------------------------------------------------------------------


class AlexNetTwoTower(nn.Module):
    """AlexNet as in Krizhevsky et al. 2012, the two GPU towers expressed as ``groups=2``
    (LRN omitted: it carries no params and no MACs)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4, padding=0),
            nn.ReLU(True),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2),
            nn.ReLU(True),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(256, 384, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(384, 384, 3, padding=1, groups=2),
            nn.ReLU(True),
            nn.Conv2d(384, 256, 3, padding=1, groups=2),
            nn.ReLU(True),
            nn.MaxPool2d(3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def alexnet_two_tower(num_classes: int = 1000) -> nn.Module:
    """Original two-tower AlexNet, input 3x227x227.

    Published counts: 60,965,224 params and 724,406,816 MACs.
    """
    return AlexNetTwoTower(num_classes)


# ---------------------------------------------------------------------------------------------
# IGC (interleaved group convolutions) CIFAR network
# ---------------------------------------------------------------------------------------------


class IGCBlock(nn.Module):
    """IGC block (Zhang et al. 2017), width G = M*L, no BN.

    primary 3x3 group conv (L groups of M channels) -> interleave (shuffle, groups=L) ->
    secondary 1x1 group conv (M groups of L channels) -> permute back (shuffle, groups=M).
    Params = G * (9*M + L).
    """

    def __init__(self, M: int, L: int, stride: int = 1) -> None:
        super().__init__()
        g = M * L
        self.M = M
        self.L = L
        self.primary = nn.Conv2d(g, g, 3, stride=stride, padding=1, groups=L, bias=False)
        self.secondary = nn.Conv2d(g, g, 1, groups=M, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.primary(x)
        x = channel_shuffle(x, self.L)
        x = self.secondary(x)
        return channel_shuffle(x, self.M)


class IGCUnit(nn.Module):
    """Residual unit: relu(x + BN(IGC(relu(BN(IGC(x)))))), width M*L, stride 1."""

    def __init__(self, M: int, L: int) -> None:
        super().__init__()
        g = M * L
        self.body = nn.Sequential(
            IGCBlock(M, L),
            nn.BatchNorm2d(g),
            nn.ReLU(True),
            IGCBlock(M, L),
            nn.BatchNorm2d(g),
        )
        self.relu = nn.ReLU(True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(x + self.body(x))


class IGCDownUnit(nn.Module):
    """Downsampling unit from M*L/2 to M*L channels at stride 2.

    main: 1x1 conv BN ReLU, IGC(stride 2) BN ReLU, IGC BN; shortcut: 1x1 conv stride 2, BN.
    """

    def __init__(self, in_ch: int, M: int, L: int) -> None:
        super().__init__()
        g = M * L
        self.main = nn.Sequential(
            ConvBNAct(in_ch, g, 1, activation=nn.ReLU(True)),
            IGCBlock(M, L, stride=2),
            nn.BatchNorm2d(g),
            nn.ReLU(True),
            IGCBlock(M, L),
            nn.BatchNorm2d(g),
        )
        self.shortcut = ConvBNAct(in_ch, g, 1, stride=2)
        self.relu = nn.ReLU(True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.main(x) + self.shortcut(x))


class IGCCifar(nn.Module):
    """ResNet-style CIFAR network whose 3x3 convs are IGC blocks; widths M*L, 2*M*L, 4*M*L."""

    def __init__(self, M: int = 2, L: int = 24, n: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        if n < 1:
            raise ValueError("n must be >= 1")
        width = M * L
        self.stem = ConvBNAct(3, width, 3, activation=nn.ReLU(True))
        self.stage1 = nn.Sequential(*[IGCUnit(M, L) for _ in range(n)])
        self.stage2 = nn.Sequential(
            IGCDownUnit(width, M, 2 * L), *[IGCUnit(M, 2 * L) for _ in range(n - 1)]
        )
        self.stage3 = nn.Sequential(
            IGCDownUnit(2 * width, M, 4 * L), *[IGCUnit(M, 4 * L) for _ in range(n - 1)]
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.stage1(x)
        x = self.stage2(x)
        x = self.stage3(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def igc_cifar(M: int = 2, L: int = 24, n: int = 3, num_classes: int = 10) -> nn.Module:
    """IGC CIFAR network (input 3x32x32) with IGC blocks of M x L, n units per stage.

    No published numbers; parameters follow the IGC formula (docs/cost.md).
    """
    return IGCCifar(M, L, n, num_classes)
