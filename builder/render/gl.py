"""Choose the headless OpenGL platform for pyrender on the CPU: Mesa EGL or OSMesa.

PyOpenGL binds its platform once (when ``OpenGL.platform`` is first imported), so the choice
must be made before ``pyrender`` is imported. :func:`ensure_gl_platform` keeps a platform the user set in
``PYOPENGL_PLATFORM``; otherwise it probes the candidates in a child process (a failed
probe cannot poison this one) and sets the first that renders.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)

PLATFORMS = ("osmesa", "egl")  # OSMesa first: measured faster than EGL for CPU rendering here
_PROBE = ("import pyrender; s = pyrender.Scene(); s.add(pyrender.PerspectiveCamera(1.0)); "
          "r = pyrender.OffscreenRenderer(8, 8); r.render(s); r.delete()")
DEBIAN_PACKAGES = "libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libgl1 libglu1-mesa"


def _probe(platform: str) -> str | None:
    """``None`` when pyrender renders with ``platform``, else the reason it does not."""
    env = dict(os.environ, PYOPENGL_PLATFORM=platform)
    try:
        result = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                                text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "probe timed out"
    if result.returncode == 0:
        return None
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def ensure_gl_platform() -> str:
    """The OpenGL platform pyrender will use, chosen and exported if not yet set.

    Raises ``RuntimeError`` listing why each platform failed and which Debian packages
    provide them (scripts/install.sh installs them).
    """
    chosen = os.environ.get("PYOPENGL_PLATFORM")
    if chosen:
        return chosen
    bound = sys.modules.get("OpenGL.platform")
    if bound is not None:  # PyOpenGL already chose: keep it if it is headless
        module = type(bound.PLATFORM).__module__.rsplit(".", 1)[-1]
        if module not in PLATFORMS:
            raise RuntimeError(f"PyOpenGL is already bound to the {module!r} platform; set "
                               "PYOPENGL_PLATFORM=osmesa or egl before anything imports pyrender")
        os.environ["PYOPENGL_PLATFORM"] = module
        return module
    failures = {}
    for platform in PLATFORMS:
        reason = _probe(platform)
        if reason is None:
            os.environ["PYOPENGL_PLATFORM"] = platform
            log.info("pyrender uses the %s OpenGL platform", platform)
            return platform
        failures[platform] = reason
    detail = "; ".join(f"{name}: {why}" for name, why in failures.items())
    raise RuntimeError(f"no headless OpenGL platform works for pyrender ({detail}). Install Mesa: "
                       f"apt-get install {DEBIAN_PACKAGES} (see scripts/install.sh)")
