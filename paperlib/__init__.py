"""paperlib: the library behind the executable reproduction of Maheswaranathan et al. (2019),
"Universality and individuality in neural dynamics across large populations of recurrent networks".

On a CPU-only machine XLA runs one small RNN on one core. Importing ``paperlib`` before JAX
therefore asks XLA for one single-threaded host device per core, so that the population
trainer can split its networks across all of them. ``PAPERLIB_HOST_DEVICES=N`` picks another
number (``0`` leaves ``XLA_FLAGS`` alone); flags already in ``XLA_FLAGS`` are respected, and
nothing changes if JAX was imported first.
"""

from __future__ import annotations

import os
import sys


def _configure_host_devices() -> None:
    flags = os.environ.get("XLA_FLAGS", "")
    if "jax" in sys.modules or "xla_force_host_platform_device_count" in flags:
        return
    n = int(os.environ.get("PAPERLIB_HOST_DEVICES", os.cpu_count() or 1))
    if n > 1:
        extra = f"--xla_force_host_platform_device_count={n} --xla_cpu_multi_thread_eigen=false"
        os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()


_configure_host_devices()

__version__ = "0.1.0"
