"""Training populations of networks, storing them, and packing them into releases.

Stands on the ground floor (``models``, ``tasks``); never imports the math floor (``dynamics``,
``similarity``) or anything above. Bottom up:

- ``config``: ``Hyperparameters`` (one member's optimiser) and ``TrainConfig`` (the run).
- ``objective``: the loss and one member's update; ``train``: ``train_population``, P networks of
  one shape trained at once, resumable from checkpoints.
- ``units``, ``profiles``: work units and the population scales (:ref:`methods-scales`).
- ``store``: the data directory's manifests and weights; ``population()`` reads one back.
- ``release``: a population packed into compressed, checksummed files for git, and back.
- ``sweep``: ``train``, every work unit of a profile (search, then seeds), locally or on Dask.
"""

from paperlib.training.config import Hyperparameters, TrainConfig
from paperlib.training.profiles import PROFILES, TASK_NAMES, Profile, get_profile
from paperlib.training.store import Population, StoreError, TaskStore, population
from paperlib.training.train import train_population
from paperlib.training.units import WorkUnit, pack

__all__ = [
    "PROFILES",
    "TASK_NAMES",
    "Hyperparameters",
    "Population",
    "Profile",
    "StoreError",
    "TaskStore",
    "TrainConfig",
    "WorkUnit",
    "get_profile",
    "pack",
    "population",
    "train_population",
]
