"""One single-threaded JAX device per core for the whole suite, as the command line sets up."""

import paperlib

paperlib.use_host_devices()
