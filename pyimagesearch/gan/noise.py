"""The generator's input: latent vectors, drawn from the run's global
random stream (training) or from a seed of their own (samples, metrics)."""
import numpy as np

LATENT_DIM = 100
NOISES = ("uniform", "normal")      # the tutorial's, and Chollet's tip


def sample_noise(count, latent_dim=LATENT_DIM, noise="uniform"):
    """The generator's input: the tutorial's uniform in [-1, 1] (tanh's
    range), or with --noise normal a standard normal (Chollet's tip)."""
    if noise == "normal":
        return np.random.normal(0, 1, size=(count, latent_dim)).astype(
            "float32")
    return np.random.uniform(-1, 1, size=(count, latent_dim)).astype("float32")


def seeded_noise(seed, count, latent_dim=LATENT_DIM, noise="uniform"):
    """The same noise from a generator of its own: reproducible by seed and
    leaves the global random stream (and so a training run) untouched."""
    rng = np.random.default_rng(seed)
    if noise == "normal":
        return rng.standard_normal((count, latent_dim))
    return rng.uniform(-1, 1, (count, latent_dim))
