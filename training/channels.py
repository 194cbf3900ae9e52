"""What a real recording goes through on its way to us: noise, band-limiting, a lossy codec.

Shared by the training augmentations (`training.dataset`, random strengths) and the
robustness test (`training.robustness`, fixed strengths), so both simulate the same channels.
Every function takes mono audio (n_samples,) float32.
"""

from __future__ import annotations

import io

import numpy as np


def add_noise(y: np.ndarray, *, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise at ``snr_db`` below the signal's power -> (n_samples,) float32."""
    power = float(np.mean(y.astype(np.float64) ** 2))
    noise = rng.standard_normal(y.shape[0]) * np.sqrt(power / 10 ** (snr_db / 10))
    return (y + noise).astype(np.float32)


def low_pass(y: np.ndarray, *, cutoff_hz: float, sample_rate: int, order: int) -> np.ndarray:
    """Butterworth low-pass of ``order`` at ``cutoff_hz`` -> (n_samples,) float32."""
    import scipy.signal

    sos = scipy.signal.butter(order, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return scipy.signal.sosfilt(sos, y).astype(np.float32)


def band_limit(y: np.ndarray, *, narrow_rate: int, sample_rate: int) -> np.ndarray:
    """Resampled to ``narrow_rate`` and back, as a phone line or a cheap recorder does -> (n_samples',)."""
    import librosa

    low = librosa.resample(y, orig_sr=sample_rate, target_sr=narrow_rate)
    return librosa.resample(low, orig_sr=narrow_rate, target_sr=sample_rate)


def mp3_round_trip(y: np.ndarray, *, sample_rate: int, compression_level: float) -> tuple[np.ndarray, int]:
    """Encoded as constant-bitrate MP3 by libsndfile's LAME and decoded again.

    Returns
    -------
    (samples (n_samples',) or (n_samples', channels) float32, the decoder's sample rate)
    """
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(
        buffer,
        y,
        sample_rate,
        format="MP3",
        subtype="MPEG_LAYER_III",
        compression_level=compression_level,
        bitrate_mode="CONSTANT",
    )
    buffer.seek(0)
    data, rate = soundfile.read(buffer, dtype="float32")
    return data, rate
