"""Process-level settings: the device, the CPU allocator (faster, same numbers) and CUDA's matmul precision.

An update allocates and frees tensors of 10-40 MB many times (images, activations and their
gradients). glibc serves allocations above its mmap threshold (at most 32 MB, often much less)
with fresh `mmap` pages and returns them on free, so every such tensor costs tens of thousands of
page faults: measured ~21,000 per bf16 model update at the paper's sizes, ~14% of its time.
`keep_freed_memory` raises the mmap and trim thresholds so freed blocks are reused instead (what
jemalloc or tcmalloc, the allocators PyTorch recommends on CPU, do by default).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform
from pathlib import Path

import torch

from slac.errors import ConfigError

M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3


@functools.cache
def keep_freed_memory(threshold_bytes: int = 1 << 30) -> bool:
    """Ask glibc to serve blocks below `threshold_bytes` from its heap and keep freed memory for
    reuse. Returns whether it applied (False off glibc, e.g. macOS or musl: nothing changes there).
    Once per process; the memory stays with the process until it exits, as with a caching allocator."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold_bytes)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * threshold_bytes))


@functools.cache
def cpu_name() -> str:
    """The processor's model name (e.g. 'AMD EPYC'), for timings; the architecture where it is unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_native_bf16() -> bool | None:
    """Whether this x86 CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX); None off x86 or
    where PyTorch cannot tell. Without either, oneDNN emulates bf16 convolutions: measured 9.4x
    slower than fp32 (model update 11.5 s against 1.23 s, AMD EPYC with AVX2 only, 2 threads)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(check is None for check in checks):
        return None
    return any(check() for check in checks)


def set_cuda_matmul_precision(tf32: bool) -> None:
    """fp32 means fp32 on CUDA unless `tf32`: PyTorch lets cuDNN convolutions use TF32 (a 10-bit
    mantissa) by default; `tf32=True` allows it for convolutions and matrix products alike."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def apply_host_settings(device: torch.device, threads: int = 0, keep_freed: bool = True, tf32: bool = False) -> None:
    """The process-wide settings a run works under, applied once by the run (and by `slac bench`, to
    time what a run does): torch's CPU threads (0: torch's default), glibc keeping freed memory on a
    CPU (`keep_freed_memory`), and CUDA's TF32 (`set_cuda_matmul_precision`)."""
    if threads:
        torch.set_num_threads(threads)
    if device.type == "cpu" and keep_freed:
        keep_freed_memory()  # ~14% of a CPU update was page faults of freshly mapped tensors
    if device.type == "cuda":
        set_cuda_matmul_precision(tf32)


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; a CUDA request without CUDA is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name} was requested but this PyTorch has no CUDA device; use --device cpu or auto")
    return torch.device(name)
