"""Simulated M/EEG recordings with a known latent, for validating the speech and visual decoders.

No public speech-listening or image-viewing M/EEG recording could be obtained for this project, so the
retrieval decoders are checked on simulations whose ground truth is known: a latent (a stand-in for
wav2vec 2.0 speech features or CLIP image embeddings) drives a few cortical sources whose activity is mixed
into 64 EEG sensors (the PhysioNet 10-10 montage, positions from MNE's standard_1005) by a smooth forward
model, on top of realistic noise: 1/f background activity from many random sources, alpha bursts over
posterior sensors and white sensor noise. Retrieval accuracy on such data says the pipeline and the
architecture can recover a latent mixed into sensors; it says nothing about real brains.
"""
import mne
import numpy as np
import scipy.signal

import physionet

FS_HZ = 120.0


def montage(names):
    """2-D sensor positions in [0, 1]^2 (top view) for the PhysioNet channel names."""
    pos = mne.channels.make_standard_montage("standard_1005").get_positions()["ch_pos"]
    lower = {k.lower(): v for k, v in pos.items()}
    xyz = np.array([lower[n.rstrip(".").lower()] for n in names])
    xy = xyz[:, :2]
    xy = (xy - xy.min(0)) / (xy.max(0) - xy.min(0))
    return xyz, xy


def channel_names():
    return physionet.read_run("R01").ch_names


def topographies(xyz, n, rng, width=0.03):
    """n smooth dipole-like sensor patterns: a positive and a negative Gaussian lobe around random points."""
    out = np.empty((len(xyz), n))
    for j in range(n):
        a, b = xyz[rng.integers(len(xyz))], xyz[rng.integers(len(xyz))]
        da = ((xyz - a) ** 2).sum(1)
        db = ((xyz - b) ** 2).sum(1)
        out[:, j] = np.exp(-da / (2 * width ** 2)) - 0.7 * np.exp(-db / (2 * width ** 2))
    return out / np.linalg.norm(out, axis=0, keepdims=True)


def pink(n_series, n_samples, rng):
    """1/f noise, unit variance per series."""
    spec = rng.standard_normal((n_series, n_samples // 2 + 1)) + 1j * rng.standard_normal((n_series, n_samples // 2 + 1))
    f = np.arange(n_samples // 2 + 1)
    f[0] = 1
    x = np.fft.irfft(spec / np.sqrt(f), n=n_samples, axis=1)
    return x / x.std(axis=1, keepdims=True)


class Noise:
    """Background activity: 40 random 1/f sources, occipital alpha bursts and white sensor noise."""

    def __init__(self, xyz, rng):
        self.rng = rng
        self.bg = topographies(xyz, 40, rng, width=0.04)
        occipital = np.exp(-((xyz - np.array([0.0, -0.1, 0.02])) ** 2).sum(1) / (2 * 0.04 ** 2))
        self.alpha = occipital / np.linalg.norm(occipital)

    def sample(self, n_samples):
        rng = self.rng
        x = self.bg @ pink(self.bg.shape[1], n_samples, rng)
        t = np.arange(n_samples) / FS_HZ
        env = np.clip(pink(1, n_samples, rng)[0], 0, None)
        x += 2.0 * np.outer(self.alpha, env * np.sin(2 * np.pi * rng.uniform(9, 11) * t + rng.uniform(0, 2 * np.pi)))
        x += 0.3 * rng.standard_normal(x.shape)
        return x


def smooth_latents(n_latent, n_samples, rng, band=(0.5, 8.0)):
    """Band-limited random trajectories, a stand-in for speech feature time courses."""
    sos = scipy.signal.butter(2, band, btype="bandpass", fs=FS_HZ, output="sos")
    z = scipy.signal.sosfiltfilt(sos, rng.standard_normal((n_latent, n_samples + 240)), axis=1)[:, 120:-120]
    return z / z.std(axis=1, keepdims=True)
