"""paperlib: the library behind the executable reproduction of Maheswaranathan et al. (2019),
"Universality and individuality in neural dynamics across large populations of recurrent networks".

- Importing it changes nothing in the environment or in JAX's configuration.
- ``use_host_devices()``: one single-threaded JAX device per CPU core, so that the population
  trainer runs its networks on every core at once; the command line, the notebooks, the tests
  and the benchmarks call it first.
- The floors, bottom up (each imports only from those below it; ``CONTRIBUTING.md``): cells, interop,
  tasks, rnn → similarity, embedding, fixed_points, linear, topology (usable on any network or
  recording) → config, objective, train → profiles, store, sweep → analysis, figures, claims,
  plots → book and the command line.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

_EIGEN_FLAG = "--xla_cpu_multi_thread_eigen=false"


def use_host_devices(n: int | None = None) -> int:
    """Ask JAX for ``n`` single-threaded host CPU devices; call it before JAX computes anything.

    **Arguments:**

    - ``n``: number of devices; default ``PAPERLIB_HOST_DEVICES`` if set, else one per core.
      ``0`` or ``1`` leaves JAX as it is.

    **Returns:** the number of host devices JAX has afterwards.

    The device count goes through JAX's own ``jax_num_cpu_devices`` option; the one thing JAX
    offers no option for, single-threaded Eigen kernels on each device (two devices then run
    concurrently without fighting over the cores), is appended to ``XLA_FLAGS``. Once JAX has
    started its CPU backend neither can change: the call then leaves everything as it is.
    Measured here (2 cores): two such devices under ``pmap`` train two networks at once.
    """
    import jax

    if n is None:
        n = int(os.environ.get("PAPERLIB_HOST_DEVICES", os.cpu_count() or 1))
    if n < 0:
        raise ValueError(f"n must be a non-negative number of devices, got {n}")
    if n > 1 and not _backend_started():
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            jax.config.update("jax_num_cpu_devices", n)
            if "xla_cpu_multi_thread_eigen" not in flags:
                os.environ["XLA_FLAGS"] = f"{flags} {_EIGEN_FLAG}".strip()
    return len(jax.devices("cpu"))


def _backend_started() -> bool:
    from jax._src import xla_bridge

    return bool(getattr(xla_bridge, "_backends", {}))
