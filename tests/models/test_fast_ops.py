"""The CPU fast paths compute what PyTorch's plain ops compute: convolution layers with a hand-written
weight gradient, the image likelihood with a hand-written backward, and the allocator setting."""

import platform

import pytest
import torch
from torch import nn

from slac.common.host import keep_freed_memory
from slac.models import conv
from slac.models.nets import gaussian_log_prob, image_log_likelihood

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


# --- the CUDA path, checked without a GPU: off a CPU every fast path steps aside ---------------------

@pytest.mark.parametrize("layer", [LAYERS[3], LAYERS[4], LAYERS[6], LAYERS[7]])
def test_conv_layers_off_a_cpu_are_their_torch_parents(layer):
    kind, c_in, c_out, kernel, stride, padding, output_padding, size = layer
    _, fast = _pair(kind, c_in, c_out, kernel, stride, padding, output_padding)
    x = torch.empty(2, c_in, size, size, device="meta", requires_grad=True)
    out = fast.to("meta")(x)
    assert out.grad_fn.name() == "ConvolutionBackward0"  # torch's own convolution, not the CPU forms
    assert out.shape[1] == c_out


def test_off_a_cpu_the_no_grad_encoder_takes_every_image_in_one_call():
    from helpers import tiny_config

    from slac.models import build_model

    model = build_model("slac", 2, tiny_config()).to("meta")
    batch_sizes = []
    model.encoder.register_forward_hook(lambda module, inputs, output: batch_sizes.append(inputs[0].shape[0]))
    features = model.encode_pixels(torch.empty(70, 9, 3, 64, 64, dtype=torch.uint8, device="meta"))
    assert features.shape == (70, 9, 16) and batch_sizes == [630]
    cpu_model = build_model("slac", 2, tiny_config())
    batch_sizes.clear()
    cpu_model.encoder.register_forward_hook(lambda module, inputs, output: batch_sizes.append(inputs[0].shape[0]))
    cpu_model.encode_pixels(torch.zeros(70, 9, 3, 64, 64, dtype=torch.uint8))
    assert batch_sizes == [512, 118]


def test_device_auto_picks_cuda_when_present_and_tf32_follows_the_config(monkeypatch):
    from slac.common.host import set_cuda_matmul_precision
    from slac.run.trainer import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        set_cuda_matmul_precision(False)
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        set_cuda_matmul_precision(True)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
