"""The dro-seg U-Net (docs/method.md §4) in PyTorch, with parameter names equal to dro-seg's arena names,
and the Dice+CE loss as dro-seg defines it (nnU-Net's DC_and_CE_loss + 1). Shared by
check_against_torch.py and bench_torch_unet.py. Outside CI: needs `pip install torch`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def zyx(v):
    """dro-seg's [x, y, z] (NIfTI order) → torch's (D, H, W) = (z, y, x)."""
    return tuple(reversed(v))


class ConvBlock(nn.Module):
    """kernel, stride: per tensor axis (D, H, W) or an int; padding k//2 per axis."""
    def __init__(self, cin, cout, stride, eps, slope, kernel=3):
        super().__init__()
        kernel = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=tuple(k // 2 for k in kernel), bias=True)
        self.norm = nn.InstanceNorm3d(cout, eps=eps, affine=True)
        self.slope = slope
        # Optional: a tensor whose sign decides the LeakyReLU branch (check_against_torch.py sets
        # it to dro-seg's block output, so both sides differentiate the same linear piece).
        self.branch = None
        self.disagreements = 0

    def forward(self, x):
        u = self.norm(self.conv(x))
        if self.branch is None:
            return F.leaky_relu(u, self.slope)
        positive = self.branch.reshape(u.shape) > 0
        self.disagreements = int((positive != (u > 0)).sum())
        return torch.where(positive, u, self.slope * u)


class DecoderLevel(nn.Module):
    """Children: `up` (ConvTranspose3d, kernel = stride, 2 by default) and blocks named "0", "1", ..."""
    def __init__(self, cin, cout, convs, eps, slope, kernel=3, up_stride=2):
        super().__init__()
        self.up = nn.ConvTranspose3d(cin, cout, up_stride, stride=up_stride, bias=True)
        self.n = convs
        for j in range(convs):
            self.add_module(str(j), ConvBlock(2 * cout if j == 0 else cout, cout, 1, eps, slope, kernel))

    def forward(self, x, skip):
        x = torch.cat((self.up(x), skip), 1)   # nnU-Net's order: [up, skip]
        for j in range(self.n):
            x = getattr(self, str(j))(x)
        return x


class UNet(nn.Module):
    def __init__(self, in_channels=1, classes=4, features=(16, 32, 64, 128), convs=2, eps=1e-5, slope=0.01,
                 kernel_sizes=None, pool_strides=None):
        """kernel_sizes: [kx, ky, kz] per level, pool_strides: [sx, sy, sz] per downsampling, in
        dro-seg's x y z order (model.kernel_sizes / model.pool_strides); None = 3³ and 2³."""
        super().__init__()
        L = len(features)
        kernels = [zyx(k) for k in kernel_sizes] if kernel_sizes else [(3, 3, 3)] * L
        strides = [zyx(s) for s in pool_strides] if pool_strides else [(2, 2, 2)] * (L - 1)
        self.encoder = nn.ModuleList()
        for l in range(L):
            blocks = nn.ModuleList()
            for j in range(convs):
                cin = (in_channels if l == 0 else features[l - 1]) if j == 0 else features[l]
                stride = strides[l - 1] if (j == 0 and l > 0) else 1
                blocks.append(ConvBlock(cin, features[l], stride, eps, slope, kernels[l]))
            self.encoder.append(blocks)
        self.decoder = nn.ModuleList([DecoderLevel(features[l + 1], features[l], convs, eps, slope, kernels[l], strides[l])
                                      for l in range(L - 1)])
        self.head = nn.Conv3d(features[0], classes, 1, bias=True)
        for m in self.modules():   # nnU-Net InitWeights_He(1e-2)
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                nn.init.kaiming_normal_(m.weight, a=1e-2)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        skips = []
        for blocks in self.encoder:
            for b in blocks:
                x = b(x)
            skips.append(x)
        for l in range(len(self.decoder) - 1, -1, -1):
            x = self.decoder[l](x, skips[l])
        return self.head(x)


def dice_ce_loss(logits, labels, smooth=1e-5, batch_dice=False):
    """nnU-Net v2 DC_and_CE_loss(SoftDiceLoss(do_bg=False, smooth), CE), plus 1 (dro-seg's offset).
    Returns (loss, per-sample loss)."""
    classes = logits.shape[1]
    p = torch.softmax(logits, 1)
    y = F.one_hot(labels.long(), classes).movedim(-1, 1).to(p.dtype)
    axes = tuple(range(2, logits.dim()))
    tp = (p * y).sum(axes)
    fp = (p * (1 - y)).sum(axes)
    fn = ((1 - p) * y).sum(axes)
    if batch_dice:
        tp, fp, fn = tp.sum(0, keepdim=True), fp.sum(0, keepdim=True), fn.sum(0, keepdim=True)
    dc = (2 * tp + smooth) / torch.clip(2 * tp + fp + fn + smooth, 1e-8)
    ce_per = F.cross_entropy(logits, labels.long(), reduction="none").flatten(1).mean(1)
    per_sample_dc = ((2 * (p * y).sum(axes) + smooth) / (p.sum(axes) + y.sum(axes) + smooth))[:, 1:].mean(1)
    per_sample = ce_per + 1 - per_sample_dc
    loss = ce_per.mean() + 1 - dc[:, 1:].mean()
    return loss, per_sample
