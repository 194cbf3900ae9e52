"""Decode and validate audio: the boundary where bad input is turned away.

Everything that enters the model passes through `load_audio`, which returns mono float32
at SAMPLE_RATE or raises `AudioInputError` with a message a person understands.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import librosa
import numpy as np
import soundfile

from model.errors import AudioInputError
from model.features import MAX_SECONDS, MIN_SECONDS, SAMPLE_RATE, SILENCE_PEAK

AudioSource = str | Path | bytes | tuple[int, np.ndarray]
SUPPORTED_FORMATS = "WAV, FLAC, OGG/Opus, MP3 or AIFF"
AUDIO_SUFFIXES = (".wav", ".au", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")  # file names of those formats


@dataclasses.dataclass(frozen=True)
class DecodedAudio:
    """Audio ready for feature extraction.

    Attributes
    ----------
    samples : (n_samples,) float32 mono at ``SAMPLE_RATE``, finite, not silent.
    source_seconds : length of the whole input, which may exceed what was analysed.
    truncated : True when only the first ``max_seconds`` were kept.
    """

    samples: np.ndarray
    source_seconds: float
    truncated: bool

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / SAMPLE_RATE


def _to_float(data: np.ndarray) -> np.ndarray:
    """Integer PCM to float in [-1, 1]; float data unchanged (as float32)."""
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        scale = float(max(abs(info.min), info.max))
        offset = (info.max + info.min + 1) / 2 if info.min == 0 else 0.0  # unsigned 8-bit PCM
        return ((data.astype(np.float64) - offset) / scale).astype(np.float32)
    if np.issubdtype(data.dtype, np.floating):
        return data.astype(np.float32, copy=False)
    raise AudioInputError(f"Audio samples of type {data.dtype} are not supported.")


def _to_mono(data: np.ndarray) -> np.ndarray:
    """(n,) or (n, channels) -> (n,) by averaging the channels."""
    if data.ndim == 1:
        return data
    if data.ndim == 2:
        if 0 in data.shape:
            return np.zeros(0, dtype=np.float32)
        # Gradio and soundfile give (n, channels); a (channels, n) array has few rows.
        if data.shape[0] < data.shape[1] and data.shape[0] <= 8:
            data = data.T
        if data.shape[1] == 1:
            return data[:, 0].astype(np.float32)  # the mean of one channel is the channel itself (a copy)
        # The channels' mean in float64, added column by column: the same sums in the same
        # order as data.mean(axis=1, dtype=np.float64), five times faster on a few channels.
        total = data[:, 0].astype(np.float64)
        for channel in range(1, data.shape[1]):
            total += data[:, channel]
        total /= data.shape[1]
        return total.astype(np.float32)
    raise AudioInputError(f"Expected mono or multi-channel audio, got an array of shape {data.shape}.")


def _read_file(source: str | Path | bytes, *, max_seconds: float) -> tuple[np.ndarray, int, float, bool]:
    """Read at most ``max_seconds`` of a file: (samples (n, channels), rate, total seconds, truncated)."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.is_file():
            raise AudioInputError(f"No such file: {source}")
        if path.stat().st_size == 0:
            raise AudioInputError("The file is empty (0 bytes).")
    elif len(source) == 0:
        raise AudioInputError("The file is empty (0 bytes).")
    try:
        with soundfile.SoundFile(handle) as stream:
            rate = int(stream.samplerate)
            if rate <= 0:
                raise AudioInputError("The file states an invalid sample rate.")
            total_frames = int(stream.frames) if stream.frames and stream.frames > 0 else -1
            limit = int(max_seconds * rate)
            data = stream.read(frames=limit + 1, dtype="float32", always_2d=True)
    except AudioInputError:
        raise
    except Exception as error:  # libsndfile and its wrappers raise several types for bad bytes
        raise AudioInputError(f"This file could not be read as audio. Please use {SUPPORTED_FORMATS}.") from error
    truncated = data.shape[0] > limit
    data = data[:limit]
    total_seconds = (total_frames if total_frames > 0 and truncated else data.shape[0]) / rate
    return data, rate, max(total_seconds, data.shape[0] / rate), truncated


def load_audio(source: AudioSource, *, max_seconds: float = MAX_SECONDS) -> DecodedAudio:
    """Decode, downmix, resample and validate audio.

    Parameters
    ----------
    source : a file path, the file's bytes, or ``(sample_rate, samples)`` with samples shaped
        (n,) or (n, channels), integer PCM or float (as ``gr.Audio(type="numpy")`` gives).
    max_seconds : only this much of the start of the recording is kept (memory stays bounded).

    Returns
    -------
    DecodedAudio with samples (n_samples,) float32 at SAMPLE_RATE.

    Raises
    ------
    AudioInputError : undecodable, empty, non-finite, shorter than MIN_SECONDS, or silent.
    """
    if isinstance(source, tuple):
        if len(source) != 2:
            raise AudioInputError("Expected audio as (sample_rate, samples).")
        rate, array = source
        try:
            rate = int(rate)
        except (TypeError, ValueError, OverflowError) as error:
            raise AudioInputError("The sample rate must be a whole number of hertz.") from error
        if rate <= 0:
            raise AudioInputError("The sample rate must be positive.")
        array = np.asarray(array)
        data = _to_mono(_to_float(array))
        total_seconds = data.shape[0] / rate
        limit = int(max_seconds * rate)
        truncated = data.shape[0] > limit
        data = data[:limit]
    elif isinstance(source, (str, Path, bytes)):
        frames, rate, total_seconds, truncated = _read_file(source, max_seconds=max_seconds)
        data = _to_mono(frames)
    else:
        raise AudioInputError(f"Cannot read audio from a {type(source).__name__}.")

    if data.shape[0] == 0:
        raise AudioInputError("The recording contains no audio samples.")
    peak = float(np.max(np.abs(data)))  # NaN or infinity anywhere makes the peak non-finite
    if not np.isfinite(peak):
        raise AudioInputError("The recording contains invalid samples (NaN or infinity).")
    seconds = data.shape[0] / rate
    if seconds < MIN_SECONDS:
        raise AudioInputError(
            f"The recording is too short ({seconds:.2f} s). Please use at least {MIN_SECONDS:g} s of music."
        )
    if peak < SILENCE_PEAK:
        raise AudioInputError("The recording is silent: there is nothing to classify.")
    data = np.clip(data, -1e3, 1e3).astype(np.float32, copy=False)  # float files may exceed [-1, 1]
    if rate != SAMPLE_RATE:  # clipped first: huge values would overflow the resampler into NaN
        data = librosa.resample(data, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    return DecodedAudio(samples=data, source_seconds=float(total_seconds), truncated=bool(truncated))
