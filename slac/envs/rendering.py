"""Headless MuJoCo rendering: choose the backend before anything imports MuJoCo's GL code."""

from __future__ import annotations

import os

from slac.errors import RendererError

SYSTEM_PACKAGES = {
    "egl": "libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1",
    "osmesa": "libosmesa6",
}


def select_backend() -> str:
    """Default MUJOCO_GL to EGL (works without a display through Mesa's llvmpipe).

    Must run before dm_control or gymnasium's MuJoCo renderer is imported: set later, dm_control
    falls back to GLFW and fails without a display.
    """
    backend = os.environ.setdefault("MUJOCO_GL", "egl")
    if backend in ("egl", "osmesa") and os.environ.get("PYOPENGL_PLATFORM", backend) != backend:
        raise RendererError(
            f"MUJOCO_GL={backend} but PYOPENGL_PLATFORM={os.environ['PYOPENGL_PLATFORM']}: "
            f"unset PYOPENGL_PLATFORM or set it to {backend}."
        )
    return backend


def renderer_error(cause: BaseException) -> RendererError:
    """Wrap a failure of the first render in an error that names what to install."""
    backend = os.environ.get("MUJOCO_GL", "egl")
    packages = SYSTEM_PACKAGES.get(backend, SYSTEM_PACKAGES["egl"])
    return RendererError(
        f"MuJoCo could not render with MUJOCO_GL={backend} ({type(cause).__name__}: {cause}). "
        f"Install the Debian packages '{packages}' (make train / make test do so when run as root), "
        "or try MUJOCO_GL=osmesa with libosmesa6. The toy/* tasks need no renderer."
    )


def set_fast_rendering(model) -> None:
    """No shadows and no multisampling: 5-10x faster, but pixels differ from the paper's."""
    model.vis.quality.shadowsize = 0
    model.vis.quality.offsamples = 0
