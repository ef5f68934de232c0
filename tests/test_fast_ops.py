"""The CPU fast paths compute what PyTorch's plain ops compute: convolution layers with a hand-written
weight gradient, the image likelihood with a hand-written backward, and the allocator setting."""

import platform

import pytest
import torch
from torch import nn

from slac import conv
from slac.host import keep_freed_memory
from slac.nets import gaussian_log_prob, image_log_likelihood

# (kind, in, out, kernel, stride, padding, output_padding, size): every layer shape of the encoder and
# decoder at depth 4, and the 4x4 ones that take the im2col weight gradient
LAYERS = [
    ("conv", 3, 4, 5, 2, 2, 0, 64), ("conv", 4, 8, 3, 2, 1, 0, 32), ("conv", 16, 32, 3, 2, 1, 0, 8),
    ("conv", 32, 16, 4, 1, 0, 0, 4), ("deconv", 20, 32, 4, 1, 0, 0, 1), ("deconv", 32, 16, 3, 2, 1, 1, 4),
    ("deconv", 8, 4, 3, 2, 1, 1, 16), ("deconv", 4, 3, 5, 2, 2, 1, 32),
]


def _pair(kind, c_in, c_out, kernel, stride, padding, output_padding):
    if kind == "conv":
        return nn.Conv2d(c_in, c_out, kernel, stride, padding), conv.Conv2d(c_in, c_out, kernel, stride, padding)
    return (nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, output_padding),
            conv.ConvTranspose2d(c_in, c_out, kernel, stride, padding, output_padding))


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("layer", LAYERS)
def test_conv_layers_equal_torch_forward_and_every_gradient_in_float64(layer, layout):
    kind, c_in, c_out, kernel, stride, padding, output_padding, size = layer
    torch.manual_seed(0)
    reference, fast = (m.double() for m in _pair(kind, c_in, c_out, kernel, stride, padding, output_padding))
    fast.load_state_dict(reference.state_dict())
    x = torch.randn(3, c_in, size, size, dtype=torch.float64).contiguous(memory_format=layout)
    x_ref, x_fast = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ref, out_fast = reference(x_ref), fast(x_fast)
    grad = torch.randn_like(out_ref)
    out_ref.backward(grad)
    out_fast.backward(grad)
    torch.testing.assert_close(out_fast, out_ref)
    torch.testing.assert_close(x_fast.grad, x_ref.grad)
    torch.testing.assert_close(fast.weight.grad, reference.weight.grad)
    torch.testing.assert_close(fast.bias.grad, reference.bias.grad)


@pytest.mark.parametrize("layer", [LAYERS[3], LAYERS[4], LAYERS[7]])
def test_conv_layers_follow_bf16_autocast_like_torch(layer):
    kind, c_in, c_out, kernel, stride, padding, output_padding, size = layer
    torch.manual_seed(0)
    reference, fast = _pair(kind, c_in, c_out, kernel, stride, padding, output_padding)
    fast.load_state_dict(reference.state_dict())
    x = torch.randn(8, c_in, size, size)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_ref, out_fast = reference(x), fast(x)
    assert out_fast.dtype == out_ref.dtype == torch.bfloat16
    torch.testing.assert_close(out_fast.float(), out_ref.float(), atol=0.05, rtol=0.02)
    out_ref.float().square().sum().backward()
    out_fast.float().square().sum().backward()
    assert fast.weight.grad.dtype == torch.float32
    scale = reference.weight.grad.abs().max()
    assert (fast.weight.grad - reference.weight.grad).abs().max() < 0.03 * scale


def test_image_log_likelihood_equals_the_elementwise_gaussian_and_its_gradient():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    mean = torch.rand(2, 3, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    expected = gaussian_log_prob(images, mean, 0.2).sum((-3, -2, -1))
    torch.testing.assert_close(image_log_likelihood(images, mean, 0.2), expected)
    assert torch.autograd.gradcheck(lambda x, m: image_log_likelihood(x, m, 0.2), (images, mean))


def test_keep_freed_memory_applies_on_glibc_and_is_idempotent():
    first = keep_freed_memory()
    assert first is (platform.libc_ver()[0] == "glibc")
    assert keep_freed_memory() is first
