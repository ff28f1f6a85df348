"""Import paperlib before JAX so that the host CPU is split into one device per core."""

import paperlib  # noqa: F401  (must precede the first `import jax`)
