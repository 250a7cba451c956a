"""Rendering speed: a 3 s walk at 30 fps, 256x256, Anny body, on the CPU (target >= 15 frames/s).

Prints frames/s for rendering alone and for the whole sequence job (camera, boxes, rendering,
H.264 encoding, files). ``--platform all`` measures each headless OpenGL platform in turn.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path


def measure(seconds: float, fps: float, size: int) -> None:
    import numpy as np

    from builder.body import AnnyBody, posed_vertices
    from builder.render import RenderConfig, render_sequence
    from builder.render.appearance import sample_appearance
    from builder.render.camera import sample_camera
    from builder.render.renderer import BodyRenderer
    from builder.sources.deepmimic import embedded_motion, read_deepmimic
    from builder.sources.timing import resample, take_frames

    walk = resample(read_deepmimic(embedded_motion("walk"), cycles=4)[0], fps)
    num_frames = round(seconds * fps)
    if walk.num_frames < num_frames:
        raise SystemExit(f"the embedded walk gives {walk.num_frames} frames, {num_frames} needed")
    walk = take_frames(walk, np.arange(num_frames))
    body = AnnyBody()
    start = time.perf_counter()
    vertices = posed_vertices(walk, body)
    posing = time.perf_counter() - start
    rng = np.random.default_rng(0)
    camera = sample_camera(vertices, fps, size, size, rng)
    looks = sample_appearance(rng, size, size)
    with BodyRenderer(size, size) as renderer:
        next(renderer.render(vertices[:1], body.faces, sample_camera(vertices[:1], fps, size, size, rng), looks))
        start, cpu = time.perf_counter(), time.process_time()
        for _ in renderer.render(vertices, body.faces, camera, looks):
            pass
        render_only, render_cpu = time.perf_counter() - start, time.process_time() - cpu
        with tempfile.TemporaryDirectory() as out:
            start, cpu = time.perf_counter(), time.process_time()
            render_sequence(vertices, body.faces, fps, Path(out), "bench_walk",
                            config=RenderConfig(width=size, height=size), renderer=renderer)
            whole, whole_cpu = time.perf_counter() - start, time.process_time() - cpu
    platform = os.environ.get("PYOPENGL_PLATFORM")
    print(f"[{platform}] {num_frames} frames ({seconds:g} s at {fps:g} fps), {size}x{size}, "
          f"{len(vertices[0])} vertices / {len(body.faces)} triangles")
    print(f"[{platform}] posing (Anny):       {num_frames / posing:.1f} frames/s")
    print(f"[{platform}] rendering only:      {num_frames / render_only:.1f} frames/s "
          f"({1000 * render_cpu / num_frames:.1f} CPU ms/frame, all threads)")
    print(f"[{platform}] whole sequence job:  {num_frames / whole:.1f} frames/s "
          f"({1000 * whole_cpu / num_frames:.1f} CPU ms/frame; camera, boxes, render, H.264, files; target >= 15)")
    print(f"[{platform}] load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--platform", default="auto", help="auto, all, osmesa or egl")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    if args.platform == "all":
        from builder.render.gl import PLATFORMS

        for platform in PLATFORMS:
            subprocess.run([sys.executable, __file__, "--platform", platform, "--seconds", str(args.seconds),
                            "--fps", str(args.fps), "--size", str(args.size)], check=False)
        return
    if args.platform != "auto":
        os.environ["PYOPENGL_PLATFORM"] = args.platform
    measure(args.seconds, args.fps, args.size)


if __name__ == "__main__":
    main()
