"""paperlib: the library behind the executable reproduction of Maheswaranathan et al. (2019),
"Universality and individuality in neural dynamics across large populations of recurrent networks".

The subpackages are the layers, bottom up; each imports only from those below it
(``tests/test_layers.py`` holds the rule and fails when it is broken):

- ``models``, ``tasks``: the networks and the three tasks (the ground floor).
- ``dynamics``, ``similarity``: analyses of any network or recording (the math floor).
- ``training``: populations trained, stored and released.
- ``analysis``: every analysis of a stored population, computed once, cached and typed.
- ``paper``: the paper's claims, as rules over those results.
- ``publishing``: the book, its plots, the check of a release; ``__main__``: the command line.

Importing it changes nothing in the environment or in JAX's configuration.
``use_host_devices()``: one single-threaded JAX device per CPU core, so that the population
trainer runs its networks on every core at once; the command line, the notebooks, the tests
and the benchmarks call it first. The modules' former flat names (``paperlib.fixed_points``,
``paperlib.claims``, …) still import: ``MOVED`` maps them to their homes.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys

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


#: Former flat module names and the modules that hold their contents now.
MOVED = {
    "cells": "paperlib.models.cells",
    "rnn": "paperlib.models.rnn",
    "interop": "paperlib.models.interop",
    "fixed_points": "paperlib.dynamics.fixed_points",
    "linear": "paperlib.dynamics.linear",
    "topology": "paperlib.dynamics.topology",
    "dsa": "paperlib.similarity.dsa",
    "embedding": "paperlib.similarity",
    "config": "paperlib.training.config",
    "objective": "paperlib.training.objective",
    "train": "paperlib.training.train",
    "profiles": "paperlib.training.profiles",
    "store": "paperlib.training.store",
    "release": "paperlib.training.release",
    "provenance": "paperlib.training.provenance",
    "sweep": "paperlib.training.sweep",
    "figures": "paperlib.analysis",
    "claims": "paperlib.paper.claims",
    "book": "paperlib.publishing.book",
    "plots": "paperlib.publishing.plots",
    "verify": "paperlib.publishing.verify",
}


class _Moved(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``paperlib.<former name>`` as the module in ``MOVED``: code written for the flat
    layout keeps working, and both names are the same module object."""

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, name = fullname.rpartition(".")
        if prefix == __name__ and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name.rpartition(".")[2]])

    def exec_module(self, module):
        pass


if not any(isinstance(finder, _Moved) for finder in sys.meta_path):
    sys.meta_path.append(_Moved())
