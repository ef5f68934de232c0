"""Convolution layers with faster CPU forms; the same parameters, numbers (up to rounding) and
checkpoints as `torch.nn`'s.

Measured on this project's 2-core CPU at the paper's sizes (288 images, bf16, channels_last),
oneDNN runs weight gradients at a third of its forward speed, computes a transposed convolution's
bias gradient slowly (5-15 ms per layer where a sum takes under 1 ms), runs a kernel over a whole
4x4 input at a quarter of matrix-product speed, and its 5x5 transposed convolution at 60 GFLOP/s.
So, on a CPU and when gradients are recorded:

- small layers (<= `IM2COL_MAX_POSITIONS` positions on their low-resolution side) take their weight
  gradient as one matrix product over im2col patches; input gradients stay with oneDNN;
- transposed convolutions add their bias outside oneDNN;
- a conv whose kernel covers its input, or a transposed conv of a 1x1 input, is one matrix product;
- the 5x5 transposed convolution is an ordinary convolution into s*s sub-pixel channels followed by
  `pixel_shuffle`.

Without gradients the whole-image form still applies; the rest is oneDNN's. Off a CPU (CUDA) both
layers are exactly their `torch.nn` parents. `tests/test_fast_ops.py` checks every form against
`torch.nn` in float64, forward and all gradients.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

# Weight gradients by im2col up to this many positions (4x4) on a layer's low-resolution side: the
# encoder's 8x8 -> 4x4 layer took 24.8 against 29.2 ms forward and backward, the decoder's 4x4 -> 8x8
# 25.1 against 32.9 ms (bf16); at 8x8 it ties in bf16 and loses in fp32; at 32x32 with few channels
# the patch copy costs more (71 against 20 ms on the 5x5 first layer). Model update at 16 / 64:
# 0.307 / 0.301 s bf16, 0.460 / 0.490 s fp32 (0.330 / 0.479 s with no im2col).
IM2COL_MAX_POSITIONS = 16
# Transposed convs with at least this kernel run in sub-pixel form (`ConvTranspose2d._subpixel`).
SUBPIXEL_MIN_KERNEL = 5  # at 3 (the 3x3 layers, 16 taps for 9) the model update was 20% slower


def patches(x: torch.Tensor, kernel: int, stride: int, pad_before: int, pad_after: int, out_size: int) -> torch.Tensor:
    """im2col in NHWC: x (N, C, H, W) -> (N * out * out, kernel * kernel * C), the input under each
    kernel tap (ky, kx) for every output position, zero outside the image."""
    channels = x.shape[1]
    padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, pad_before, pad_after, pad_before, pad_after))
    span = stride * (out_size - 1) + 1
    taps = [padded[:, ky : ky + span : stride, kx : kx + span : stride] for ky in range(kernel) for kx in range(kernel)]
    return torch.stack(taps, dim=3).reshape(-1, kernel * kernel * channels)


def rows(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N * H * W, C), a view when x is channels_last."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def conv_weight_grad(x: torch.Tensor, grad_out: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """d loss / d weight of `conv2d(x, weight, stride, padding)`, (C_out, C_in, k, k)."""
    out_size = grad_out.shape[-1]
    pad_after = max(stride * (out_size - 1) + kernel - x.shape[-1] - padding, 0)
    cols = patches(x, kernel, stride, padding, pad_after, out_size)
    grad = rows(grad_out).t() @ cols  # (C_out, k * k * C_in)
    return grad.view(-1, kernel, kernel, x.shape[1]).permute(0, 3, 1, 2)


def conv_transpose_weight_grad(x: torch.Tensor, grad_out: torch.Tensor, kernel: int, stride: int, padding: int,
                               output_padding: int) -> torch.Tensor:
    """d loss / d weight of `conv_transpose2d(x, weight, ...)`, (C_in, C_out, k, k): output position
    stride * h - padding + ky receives x[h] * weight[ky], so the output gradient's patches are taken
    at the input's positions."""
    cols = patches(grad_out, kernel, stride, padding, padding - output_padding, x.shape[-1])
    grad = rows(x).t() @ cols  # (C_in, k * k * C_out)
    return grad.view(-1, kernel, kernel, grad_out.shape[1]).permute(0, 3, 1, 2)


def _autocast_inputs(x: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What CPU autocast would hand a convolution: both in its dtype when it is on."""
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
        return x.to(dtype), weight.to(dtype)
    return x, weight


class _ConvNoBias(torch.autograd.Function):
    """conv2d or conv_transpose2d without bias; backward by oneDNN, except the weight gradient of
    small layers (`conv_weight_grad`, `conv_transpose_weight_grad`)."""

    @staticmethod
    def forward(ctx, x, weight, stride: int, padding: int, output_padding: int, transposed: bool):
        ctx.save_for_backward(x, weight)
        ctx.geometry = stride, padding, output_padding, transposed
        if transposed:
            return F.conv_transpose2d(x, weight, None, stride, padding, output_padding)
        return F.conv2d(x, weight, None, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        stride, padding, output_padding, transposed = ctx.geometry
        grad_out = grad_out.contiguous(memory_format=torch.channels_last)
        low_res = x if transposed else grad_out  # the side whose positions the im2col product runs over
        im2col = ctx.needs_input_grad[1] and low_res.shape[-2] * low_res.shape[-1] <= IM2COL_MAX_POSITIONS
        grad_x, grad_w, _ = torch.ops.aten.convolution_backward(
            grad_out, x, weight, None, [stride] * 2, [padding] * 2, [1, 1], transposed, [output_padding] * 2, 1,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[1] and not im2col, False])
        if im2col and transposed:
            grad_w = conv_transpose_weight_grad(x, grad_out, weight.shape[-1], stride, padding, output_padding)
        elif im2col:
            grad_w = conv_weight_grad(x, grad_out, weight.shape[-1], stride, padding)
        return grad_x, grad_w, None, None, None, None


def _add_bias(out: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return out if bias is None else out.add_(bias.to(out.dtype).view(1, -1, 1, 1))


def _fast_path(x: torch.Tensor, layer: nn.Module) -> bool:
    """The CPU path, when a backward may follow, for square kernels, equal strides and paddings, no
    dilation or groups, 4-d input. Without gradients oneDNN with its fused bias is as fast."""
    return (x.device.type == "cpu" and torch.is_grad_enabled() and x.dim() == 4 and layer.groups == 1 and layer.dilation == (1, 1)
            and len(set(layer.kernel_size)) == 1 and len(set(layer.stride)) == 1 and len(set(layer.padding)) == 1
            and isinstance(layer.padding, tuple) and layer.padding_mode == "zeros")


def _whole_image(x: torch.Tensor, layer: nn.Module) -> bool:
    """A layer that maps a whole image to one position (a conv whose kernel covers its unpadded
    input) or one position to a whole image (a transposed conv of a 1x1 input): a matrix product."""
    if x.device.type != "cpu" or x.dim() != 4 or layer.groups != 1 or layer.padding != (0, 0):
        return False
    if isinstance(layer, nn.ConvTranspose2d):
        return x.shape[-2:] == (1, 1) and layer.output_padding == (0, 0)
    return tuple(x.shape[-2:]) == tuple(layer.kernel_size)


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """F.linear in autocast's dtype, as autocast would run it (it casts linear, not permuted, weights)."""
    x, weight = _autocast_inputs(x, weight)
    bias = None if bias is None else bias.to(x.dtype)
    with torch.autocast("cpu", enabled=False):
        return F.linear(x, weight, bias)


class Conv2d(nn.Conv2d):
    """`nn.Conv2d` with the CPU backward above (same parameters, same outputs up to rounding). A
    kernel over the whole input (the encoder's last layer) runs as one matrix product, in NHWC order:
    oneDNN ran it at about 110 GFLOP/s where a matrix product runs at 400."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _whole_image(x, self):
            weight = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)  # (C_out, k * k * C_in)
            return _linear(x.permute(0, 2, 3, 1).reshape(x.shape[0], -1), weight, self.bias)[:, :, None, None]
        out_size = (x.shape[-1] + 2 * self.padding[0] - self.kernel_size[0]) // self.stride[0] + 1
        if out_size**2 > IM2COL_MAX_POSITIONS or not _fast_path(x, self):
            return super().forward(x)  # oneDNN's own backward, bias included, is as fast here
        x, weight = _autocast_inputs(x, self.weight)
        with torch.autocast("cpu", enabled=False):
            out = _ConvNoBias.apply(x, weight, self.stride[0], self.padding[0], 0, False)
            return _add_bias(out, self.bias)


@functools.cache  # a pure function of the layer's shape, asked at every forward
def subpixel_geometry(kernel: int, stride: int, padding: int) -> tuple[torch.Tensor, int, int]:
    """For a transposed conv whose output is `stride` times its input: output y = stride * m + r
    receives x[h] * w[stride * (m - h) + r + padding], so each residue r is an ordinary stride-1
    correlation over h = m - d_max .. m - d_min. Returns the tap table (stride, L) of kernel indices
    (`kernel` where the tap is empty), the left and the right padding."""
    offsets = [(d, r) for r in range(stride) for d in range(-kernel, kernel + 1) if 0 <= stride * d + r + padding < kernel]
    d_min, d_max = min(d for d, _ in offsets), max(d for d, _ in offsets)
    taps = torch.full((stride, d_max - d_min + 1), kernel)
    for d, r in offsets:
        taps[r, d_max - d] = stride * d + r + padding
    return taps, d_max, -d_min


def subpixel_weight(weight: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """(C_in, C_out, k, k) transposed-conv weight -> (C_out * s * s, C_in, L, L) ordinary conv weight
    whose output, pixel-shuffled by s, is the transposed conv's (channel c * s * s + ry * s + rx)."""
    c_in, c_out, s, length = weight.shape[0], weight.shape[1], taps.shape[0], taps.shape[1]
    padded = F.pad(weight, (0, 1, 0, 1))  # index k is the empty tap
    taps = taps.to(weight.device)
    kernel = padded[:, :, taps[:, None, :, None], taps[None, :, None, :]]  # (C_in, C_out, s, s, L, L)
    return kernel.permute(1, 2, 3, 0, 4, 5).reshape(c_out * s * s, c_in, length, length)


class ConvTranspose2d(nn.ConvTranspose2d):
    """`nn.ConvTranspose2d` with the CPU backward above (same parameters, same outputs up to rounding).
    From a 1x1 input (the decoder's first layer) it is one matrix product with an NHWC (channels_last)
    result."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is None and _whole_image(x, self):
            k = self.kernel_size
            weight = self.weight.permute(2, 3, 1, 0).reshape(-1, self.in_channels)  # (k * k * C_out, C_in)
            bias = None if self.bias is None else self.bias.repeat(k[0] * k[1])
            out = _linear(x.reshape(x.shape[0], -1), weight, bias)  # (N, k * k * C_out) in (h, w, c) order
            return out.view(x.shape[0], k[0], k[1], self.out_channels).permute(0, 3, 1, 2)
        if output_size is not None or not _fast_path(x, self) or len(set(self.output_padding)) != 1:
            return super().forward(x, output_size)
        if self.kernel_size[0] >= SUBPIXEL_MIN_KERNEL and self._doubles(x):
            return self._subpixel(x)
        x, weight = _autocast_inputs(x, self.weight)
        with torch.autocast("cpu", enabled=False):
            out = _ConvNoBias.apply(x, weight, self.stride[0], self.padding[0], self.output_padding[0], True)
            return _add_bias(out, self.bias)

    def _doubles(self, x: torch.Tensor) -> bool:
        """Whether the output is exactly `stride` times the input (what the sub-pixel form needs)."""
        s, p, k, op = self.stride[0], self.padding[0], self.kernel_size[0], self.output_padding[0]
        return (x.shape[-1] - 1) * s - 2 * p + k + op == s * x.shape[-1] and x.shape[-1] == x.shape[-2]

    def _subpixel(self, x: torch.Tensor) -> torch.Tensor:
        """The transposed conv as an ordinary stride-1 conv into s * s sub-pixel channels, then
        `pixel_shuffle`: on the decoder's last layer (32 -> 3 channels, 5x5) oneDNN's transposed conv
        ran at 60 GFLOP/s; this form took 27 ms forward and backward against 41 (288 images, bf16)."""
        taps, left, right = subpixel_geometry(self.kernel_size[0], self.stride[0], self.padding[0])
        weight = subpixel_weight(self.weight, taps)
        if left != right:
            x = F.pad(x, (left, right, left, right))
            left = 0
        bias = None if self.bias is None else self.bias.repeat_interleave(self.stride[0] ** 2)  # per sub-pixel
        return F.pixel_shuffle(F.conv2d(x, weight, bias, 1, left), self.stride[0])
