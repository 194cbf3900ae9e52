"""Feature parameters and MFCC segments: the one place that owns them.

Every other module imports these names and never restates them. The values are
saved into the model's metadata when it is trained, and `model.artifact` refuses to
load a model whose metadata disagrees with `FeatureConfig()` built from this module.

Pipeline: decoded mono audio at SAMPLE_RATE -> loudness normalised -> one MFCC matrix
for the whole recording -> sliced into segments of FRAMES_PER_SEGMENT frames, one every
SEGMENT_HOP_SECONDS exactly (back to back; training slices its clips with more overlap,
see training/train.py), plus a tail segment for a rest of at least MIN_SECONDS. A recording
shorter than one segment is repeated (looped) to fill it, so the network always sees music
rather than padding silence.
"""

from __future__ import annotations

import dataclasses
import functools

import librosa
import numpy as np
import scipy.fft

SAMPLE_RATE = 22050  # Hz; GTZAN's own rate
N_FFT = 2048  # samples per STFT window (93 ms)
HOP_LENGTH = 512  # samples between MFCC frames (23 ms)
N_MELS = 128  # mel bands before the DCT (librosa's default)
N_MFCC = 20  # MFCC coefficients kept per frame
SEGMENT_SECONDS = 3.0  # length of one classified segment (chosen on valid: training/EXPERIMENTS.md)
SEGMENT_HOP_SECONDS = 3.0  # distance between segment starts: back to back, so the panels tile the recording
TARGET_RMS_DBFS = -20.0  # every recording is scaled to this RMS level before MFCC
TOP_DB = 80.0  # dynamic range kept by the log-mel step (librosa's default)

MIN_SECONDS = 1.0  # shorter audio is rejected as too short to mean anything
MAX_SECONDS = 600.0  # longer audio is cut: only its first MAX_SECONDS are analysed
SILENCE_PEAK = 1e-4  # a recording whose peak stays below this (-80 dBFS) is silent

N_CHANNELS = 1  # the network's input channels: the MFCC matrix alone
STATISTICS_FIRST_COEFFICIENT = 1  # 0-based index of MFCC 2: clip statistics leave out MFCC 1, which follows the gain
STATISTICS_COEFFICIENTS = 19  # clip statistics of MFCC 2..20

STFT_BLOCK_FRAMES = 512  # frames per FFT call: 4 MB of float32 frames, whatever the length
FFT_WORKERS = 2  # threads per FFT call (measured on 2 cores: 10 % faster than one)


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Every parameter that shapes the network's input; saved with the model.

    The defaults are this module's constants; training experiments may vary them
    (e.g. ``FeatureConfig(n_mfcc=40)``), but the committed model must use the defaults.
    Every derived value is a property of the config, computed here only.
    """

    sample_rate: int = SAMPLE_RATE
    n_fft: int = N_FFT
    hop_length: int = HOP_LENGTH
    n_mels: int = N_MELS
    n_mfcc: int = N_MFCC
    segment_seconds: float = SEGMENT_SECONDS
    segment_hop_seconds: float = SEGMENT_HOP_SECONDS
    target_rms_dbfs: float = TARGET_RMS_DBFS
    top_db: float = TOP_DB

    @property
    def segment_samples(self) -> int:
        """Samples in one segment."""
        return round(self.segment_seconds * self.sample_rate)

    @property
    def frames_per_segment(self) -> int:
        """MFCC frames in one segment (librosa pads by n_fft // 2: center=True)."""
        return 1 + self.segment_samples // self.hop_length

    @property
    def segment_hop_frames(self) -> int:
        """Frames between segment starts, at least 1."""
        return max(1, round(self.segment_hop_seconds * self.sample_rate / self.hop_length))

    @property
    def seconds_per_frame(self) -> float:
        return self.hop_length / self.sample_rate

    @property
    def n_channels(self) -> int:
        return N_CHANNELS

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The network's input shape: (frames, coefficients, channels)."""
        return (self.frames_per_segment, self.n_mfcc, self.n_channels)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FeatureConfig:
        """The config of a saved model: every parameter must be present, and no other."""
        names = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"unknown feature parameters: {', '.join(unknown)}")
        missing = [name for name in names if name not in values]
        if missing:
            raise ValueError(f"missing feature parameters: {', '.join(missing)}")
        return cls(**values)


DEFAULT_CONFIG = FeatureConfig()
# The default config's derived values, for code that needs no other config.
SEGMENT_SAMPLES = DEFAULT_CONFIG.segment_samples
FRAMES_PER_SEGMENT = DEFAULT_CONFIG.frames_per_segment
SEGMENT_HOP_FRAMES = DEFAULT_CONFIG.segment_hop_frames
SECONDS_PER_FRAME = DEFAULT_CONFIG.seconds_per_frame


@functools.lru_cache(maxsize=8)
def _mel_dct_basis(*, sample_rate: int, n_fft: int, n_mels: int, n_mfcc: int) -> tuple[np.ndarray, np.ndarray]:
    """Mel filter bank (n_mels, 1 + n_fft//2) and DCT-II matrix (n_mfcc, n_mels), built once."""
    mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)
    dct = scipy.fft.dct(np.eye(n_mels, dtype=np.float64), type=2, norm="ortho", axis=0)
    return mel, dct[:n_mfcc].astype(np.float32)


@functools.lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    """(n_fft,) float32 periodic Hann window, as librosa.stft uses."""
    return librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)


def normalise_loudness(y: np.ndarray, *, target_rms_dbfs: float = TARGET_RMS_DBFS) -> np.ndarray:
    """Scale audio to a fixed RMS level so that recording gain does not change the MFCC.

    Parameters
    ----------
    y : (n_samples,) float32, not silent.

    Returns
    -------
    (n_samples,) float32 with RMS ``10 ** (target_rms_dbfs / 20)``.
    """
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if rms <= 0.0:
        return y.astype(np.float32, copy=True)
    return (y * (10.0 ** (target_rms_dbfs / 20.0) / rms)).astype(np.float32, copy=False)


def mfcc(y: np.ndarray, *, config: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """MFCC matrix of a whole recording, equal to ``librosa.feature.mfcc`` with the same parameters.

    Computed as librosa does (centred frames with zero padding, periodic Hann window, power
    spectrum, mel filter bank, ``power_to_db``, orthonormal DCT-II), with the filter bank,
    window and DCT built once per parameter set. The FFT runs in single precision on blocks
    of frames (librosa's runs in double precision and keeps the whole spectrogram): the
    result differs from librosa's by float32 rounding only, and memory stays bounded.

    Parameters
    ----------
    y : (n_samples,) float32 mono audio at ``config.sample_rate``.

    Returns
    -------
    (1 + n_samples // hop_length, n_mfcc) float32: time along the first axis.
    """
    mel_basis, dct = _mel_dct_basis(
        sample_rate=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, n_mfcc=config.n_mfcc
    )
    window = _window(config.n_fft)
    padded = np.pad(y, config.n_fft // 2)  # librosa.stft(center=True, pad_mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[:: config.hop_length]
    mel_power = np.empty((frames.shape[0], config.n_mels), dtype=np.float32)  # time first throughout
    for first in range(0, frames.shape[0], STFT_BLOCK_FRAMES):
        block = slice(first, first + STFT_BLOCK_FRAMES)
        spectrum = scipy.fft.rfft(frames[block] * window, axis=-1, workers=FFT_WORKERS)
        mel_power[block] = (np.square(spectrum.real) + np.square(spectrum.imag)) @ mel_basis.T
    log_mel = librosa.power_to_db(mel_power, top_db=config.top_db)
    return np.ascontiguousarray(log_mel @ dct.T, dtype=np.float32)


def segment_frame_starts(n_frames: int, *, config: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """First frame of every segment: one every ``segment_hop_seconds`` exactly, then the tail.

    Segment k starts on the frame at or just before k * ``segment_hop_seconds`` (exact steps: the
    start is never more than one frame early and never drifts). After the last segment that fits,
    a rest that may reach MIN_SECONDS (to the frame) gets one more segment, the tail, which ends
    with the recording and so overlaps the one before it; a rest surely shorter is left out.

    Parameters
    ----------
    n_frames : frames in the recording's MFCC, at least ``config.frames_per_segment``.

    Returns
    -------
    (n_segments,) int64, increasing; every segment lies within the ``n_frames`` frames.
    """
    width = config.frames_per_segment
    if n_frames < width:
        raise ValueError(f"need at least {width} frames, got {n_frames}")
    hop_samples = round(config.segment_hop_seconds * config.sample_rate)
    # the largest k whose start (k * hop_samples) // hop_length is at most n_frames - width
    count = ((n_frames - width + 1) * config.hop_length - 1) // hop_samples + 1
    starts = (np.arange(count, dtype=np.int64) * hop_samples) // config.hop_length
    rest = n_frames - (int(starts[-1]) + width)  # frames; the audio's rest is shorter than rest + 1 of them
    if (rest + 1) * config.hop_length > MIN_SECONDS * config.sample_rate:
        starts = np.append(starts, n_frames - width)
    return starts


def fill_to_segment(y: np.ndarray, *, config: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Loop audio shorter than one segment until it fills exactly one segment.

    Parameters
    ----------
    y : (n_samples,)

    Returns
    -------
    (max(n_samples, config.segment_samples),): ``y`` itself when already long enough.
    """
    if y.shape[0] >= config.segment_samples:
        return y
    return np.resize(y, config.segment_samples)


def clip_statistics(coefficients: np.ndarray) -> np.ndarray:
    """Summary of a whole recording's MFCC, for the clip-statistics model (`model.clipstats`).

    Parameters
    ----------
    coefficients : (n_frames, n_mfcc >= 20) MFCC of the recording (time first).

    Returns
    -------
    (38,) float64: means of MFCC 2-20, then their variances (the order of `statistics_columns`).
    """
    first, last = STATISTICS_FIRST_COEFFICIENT, STATISTICS_FIRST_COEFFICIENT + STATISTICS_COEFFICIENTS
    kept = coefficients[:, first:last].astype(np.float64)
    return np.concatenate([kept.mean(axis=0), kept.var(axis=0)])


def statistics_columns() -> list[str]:
    """Names of the 38 clip statistics in GTZAN's ``features_30_sec.csv``, in `clip_statistics` order."""
    numbers = range(STATISTICS_FIRST_COEFFICIENT + 1, STATISTICS_FIRST_COEFFICIENT + STATISTICS_COEFFICIENTS + 1)
    return [f"mfcc{k}_mean" for k in numbers] + [f"mfcc{k}_var" for k in numbers]


@dataclasses.dataclass(frozen=True)
class Segments:
    """MFCC segments of one recording and where they lie in it.

    Attributes
    ----------
    features : (n_segments, frames_per_segment, n_mfcc, n_channels) float32, not normalised.
    starts, ends : (n_segments,) float64 seconds within the recording: k * segment_hop_seconds and
        segment_seconds later (clipped to the duration); a tail segment (see `segment_frame_starts`)
        is the last segment_seconds of the recording. A rest under MIN_SECONDS after the last
        segment is in none.
    duration : seconds of audio that was analysed.
    looped : True when the recording was shorter than one segment and was repeated to fill it.
    statistics : (38,) `clip_statistics` of the whole recording; empty when n_mfcc < 20.
    """

    features: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    duration: float
    looped: bool
    statistics: np.ndarray


def mfcc_segments(y: np.ndarray, *, config: FeatureConfig = DEFAULT_CONFIG) -> Segments:
    """Cut a recording into MFCC segments (see `segment_frame_starts`).

    Parameters
    ----------
    y : (n_samples,) float32 mono audio at ``config.sample_rate``, validated (finite, not silent).

    Returns
    -------
    Segments whose ``features`` has shape (n_segments, frames_per_segment, n_mfcc, n_channels).
    """
    duration = y.shape[0] / config.sample_rate
    filled = fill_to_segment(normalise_loudness(y, target_rms_dbfs=config.target_rms_dbfs), config=config)
    matrix = mfcc(filled, config=config)
    own_frames = matrix[: 1 + y.shape[0] // config.hop_length]  # without the looped repeat
    enough = config.n_mfcc >= STATISTICS_FIRST_COEFFICIENT + STATISTICS_COEFFICIENTS
    statistics = clip_statistics(own_frames) if enough else np.zeros(0)
    matrix = matrix[:, :, np.newaxis]  # (frames, n_mfcc, N_CHANNELS)
    starts = segment_frame_starts(matrix.shape[0], config=config)
    window = np.arange(config.frames_per_segment)
    features = matrix[starts[:, np.newaxis] + window]  # (n_segments, frames, n_mfcc, channels)
    steps = np.arange(starts.size)
    on_grid = starts == (steps * round(config.segment_hop_seconds * config.sample_rate)) // config.hop_length
    # exact steps; the tail (off the grid) is the last segment_seconds of the recording
    start_seconds = np.where(on_grid, steps * config.segment_hop_seconds, max(0.0, duration - config.segment_seconds))
    end_seconds = np.minimum(start_seconds + config.segment_seconds, duration)
    return Segments(
        features=np.ascontiguousarray(features, dtype=np.float32),
        starts=start_seconds,
        ends=end_seconds,
        duration=duration,
        looped=y.shape[0] < config.segment_samples,
        statistics=statistics,
    )
