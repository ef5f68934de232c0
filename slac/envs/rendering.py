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
    """Wrap a failure to load or use the GL backend in an error that names what to install."""
    backend = os.environ.get("MUJOCO_GL", "egl")
    if backend == "osmesa":
        advice = (f"Install the Debian package '{SYSTEM_PACKAGES['osmesa']}', or use MUJOCO_GL=egl "
                  f"with '{SYSTEM_PACKAGES['egl']}'.")
    else:
        advice = (f"Install the Debian packages '{SYSTEM_PACKAGES['egl']}' (make train / make test do so "
                  f"when run as root), or try MUJOCO_GL=osmesa with '{SYSTEM_PACKAGES['osmesa']}'.")
    return RendererError(
        f"MuJoCo could not render with MUJOCO_GL={backend} ({type(cause).__name__}: {cause}). "
        f"{advice} The toy/* tasks need no renderer."
    )


PAPER_SHADOW_SIZE = 512  # frames differ from the 2048 default by 0.01 grey levels on average (DESIGN.md 6)


def set_rendering(model, fast: bool = False) -> None:
    """Render settings, applied before the first frame. Default: a 512 shadow map, whose 64x64
    frames are the paper's in effect (0.01 grey levels apart on average) at ~1.4x the speed of the
    models' 2048. `fast`: no shadows and no multisampling, 5-10x faster, but pixels differ."""
    if fast:
        model.vis.quality.shadowsize = 0
        model.vis.quality.offsamples = 0
    else:
        model.vis.quality.shadowsize = min(int(model.vis.quality.shadowsize), PAPER_SHADOW_SIZE)


def import_dm_control_suite():
    """`dm_control.suite`, imported with the backend chosen; a GL library that fails to load
    (dm_control loads it at import) becomes a RendererError naming what to install."""
    select_backend()
    try:
        from dm_control import suite
    except (ImportError, AttributeError, OSError, RuntimeError) as error:
        raise renderer_error(error) from None
    return suite
