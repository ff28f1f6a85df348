"""The package installs on its own: its wheel, in a fresh virtual environment held to the lock, trains
a tiny population and analyses it from a folder outside the checkout."""

import os
import subprocess
import sys
import textwrap

USE = textwrap.dedent("""
    import numpy as np
    import paperlib
    from paperlib.analysis import distance_matrix
    from paperlib.training import population
    from paperlib.training.sweep import train

    assert "site-packages" in paperlib.__file__, paperlib.__file__
    paperlib.use_host_devices()
    train(["cdi"], "tiny", "data", progress=False)
    D = distance_matrix(population("data", "tiny", "cdi"), "svcca")
    assert D.shape == (16, 16) and np.allclose(D, D.T) and (D[np.triu_indices(16, 1)] > 0).all()
    print("ok", D.shape)
""")


def compilation_cache() -> dict[str, str]:
    """The suite's persistent compilation cache, where it has one (``make test`` sets it): compiled
    XLA programs keyed by their HLO, nothing the installed package could import, so the fresh
    environment reuses what the suite compiled instead of compiling it again."""
    names = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")
    return {name: os.environ[name] for name in names if name in os.environ}


def test_the_wheel_installs_with_its_dependencies_and_works_outside_the_checkout(root, tmp_path):
    uv = [sys.executable, "-m", "uv"]
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(root)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = dist.glob("paperlib-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [*uv, "pip", "install", "-q", "--python", str(python), str(wheel), "-c", str(root / "requirements.lock")],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    run = subprocess.run(
        [str(python), "-c", USE],
        cwd=outside,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "JAX_PLATFORMS": "cpu", **compilation_cache()},
    )
    assert run.returncode == 0 and "ok (16, 16)" in run.stdout, run.stderr[-3000:]
    # what the wheel holds: the package, not the tests, notebooks or data of the repository
    listing = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True).stdout
    assert "paperlib/analysis/distances.py" in listing and "tests/" not in listing and "notebooks/" not in listing
