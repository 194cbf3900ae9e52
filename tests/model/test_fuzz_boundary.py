"""Property tests over the decoding and feature boundary: anything in, a result or AudioInputError out.

``load_audio`` takes bytes, a file or ``(sample_rate, samples)``; whatever it is given, it must
return finite mono float32 audio that ``mfcc_segments`` turns into finite features of the
documented shape, or raise ``AudioInputError``. Any other exception is a bug.

Hypothesis runs derandomised (the same examples on every run, no example database), so CI is
stable; the budget is about 2,000 examples, 15-30 s on two cores.
"""

from __future__ import annotations

import functools
import io
import math
import tempfile

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.extra import numpy as hnp

from model.audio import DecodedAudio, load_audio
from model.errors import AudioInputError
from model.features import (
    FRAMES_PER_SEGMENT,
    MAX_SECONDS,
    MIN_SECONDS,
    N_MFCC,
    SAMPLE_RATE,
    STATISTICS_COEFFICIENTS,
    Segments,
    mfcc_segments,
)
from tests import badinputs

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
STATISTICS_SIZE = 2 * STATISTICS_COEFFICIENTS  # model.features.clip_statistics: mean and variance of each coefficient


# --- what a result must look like ---------------------------------------------------------------


def check_segments(segments: Segments) -> None:
    features = segments.features
    assert features.dtype == np.float32
    assert features.ndim == 4 and features.shape[0] >= 1
    assert features.shape[1:] == (FRAMES_PER_SEGMENT, N_MFCC, 1)
    assert np.all(np.isfinite(features))
    assert segments.starts.shape == segments.ends.shape == (features.shape[0],)
    assert segments.starts[0] == 0.0 and np.all(np.diff(segments.starts) > 0)
    assert np.all(segments.ends > segments.starts) and 0 <= segments.duration - segments.ends[-1] < MIN_SECONDS
    assert segments.statistics.shape == (STATISTICS_SIZE,) and np.all(np.isfinite(segments.statistics))


def check_decoded(decoded: DecodedAudio) -> None:
    samples = decoded.samples
    assert isinstance(decoded, DecodedAudio)
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.shape[0] > 0
    assert np.all(np.isfinite(samples)), "load_audio returned NaN or infinity"
    assert samples.shape[0] <= math.ceil(MAX_SECONDS * SAMPLE_RATE) + 1
    assert decoded.source_seconds >= decoded.seconds - 1e-3
    if decoded.truncated:  # only the first MAX_SECONDS were kept, and the source was longer
        assert decoded.source_seconds >= MAX_SECONDS - 1e-6
        assert decoded.seconds == pytest.approx(MAX_SECONDS, abs=1e-3)
    check_segments(mfcc_segments(decoded.samples))


def outcome(text: str) -> None:
    """Count an outcome in hypothesis's statistics (--hypothesis-show-statistics); nothing outside @given."""
    if currently_in_test_context():
        event(text)


def decodes_or_refuses(source) -> None:
    """The property: a valid DecodedAudio (and valid segments of it), or AudioInputError with a message."""
    try:
        with np.errstate(all="ignore"):  # NaN and overflow inside the boundary are its own business
            decoded = load_audio(source)
    except AudioInputError as error:
        assert str(error).strip(), "AudioInputError without a message"
        outcome(f"refused: {str(error)[:30]}")
        return
    outcome("decoded")
    check_decoded(decoded)


# --- bytes -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def seed_files() -> tuple[bytes, ...]:
    """1.5 s of real music in every format the boundary accepts, to be mutated."""
    files = []
    for format_name, subtype in [
        ("WAV", "PCM_16"),
        ("WAV", "FLOAT"),
        ("FLAC", "PCM_16"),
        ("OGG", "VORBIS"),
        ("OGG", "OPUS"),
        ("MP3", "MPEG_LAYER_III"),
        ("AIFF", "PCM_24"),
    ]:
        buffer = io.BytesIO()
        rate = 48000 if subtype == "OPUS" else 16000  # Opus only takes 8, 12, 16, 24 or 48 kHz; 48 is its own
        soundfile.write(buffer, badinputs.music(1.5, rate=rate, channels=2), rate, format=format_name, subtype=subtype)
        files.append(buffer.getvalue())
    return tuple(files)


@st.composite
def mutated_files(draw) -> bytes:
    """A real audio file, cut short, overwritten in places (random bytes or zeros), or with bytes inserted."""
    data = bytearray(draw(st.sampled_from(seed_files())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "overwrite", "insert", "zero-run"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "cut":
            del data[at:]
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            length = draw(st.integers(1, 4096))
            data[at : at + length] = bytes(length)
    return bytes(data)


MAGIC = [
    b"RIFF\xff\xff\xff\xffWAVEfmt ",
    b"RIFF\x24\x00\x00\x00WAVE",
    b"fLaC",
    b"OggS\x00\x02",
    b"ID3\x04\x00",
    b"\xff\xfb\x90\x00",
    b"\xff\xf3",
    b"FORM\x00\x00\x00\x00AIFF",
    b".snd",
    b"\x89PNG\r\n\x1a\n",
]
ANY_BYTES = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda magic, rest: magic + rest, st.sampled_from(MAGIC), st.binary(max_size=2048)),
    mutated_files(),
)


@FUZZ
@given(data=ANY_BYTES)
@example(data=b"")
@example(data=b"RIFF")
def test_any_bytes(data):
    decodes_or_refuses(data)


@FUZZ
@given(data=ANY_BYTES, suffix=st.sampled_from([".wav", ".mp3", ".flac", ".ogg", ".bin", ""]))
def test_any_file(data, suffix):
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        decodes_or_refuses(handle.name)


def test_unmutated_seed_files_decode():
    """The mutation seeds themselves are good audio (or the test above proves little)."""
    for data in seed_files():
        check_decoded(load_audio(data))


# --- arrays ------------------------------------------------------------------------------------------

USUAL_RATES = [8000, 11025, 16000, 22050, 44100, 48000, 96000, 192000]
ABSURD_RATES = [0, -1, -44100, 1, 2, 7, 10**9, 2**63, 10**30, 22050.9, 0.5, "44100", "fast", None, 1j]
RATES = st.integers(0, 9).flatmap(  # 70 % usual rates, 20 % absurd values, 10 % any float
    lambda k: (
        st.sampled_from(USUAL_RATES)
        if k < 7
        else st.sampled_from(ABSURD_RATES)
        if k < 9
        else st.floats(allow_nan=True, allow_infinity=True)
    )
)
SECONDS = [0.0, 0.01, 0.99, 1.0, 1.01, 1.5, 2.0, 3.0, 3.5]  # around MIN_SECONDS and one segment
DTYPES = [
    np.float16,
    np.float32,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.bool_,
    np.complex64,
]
SCALES = [0.0, 1e-6, 1e-4, 0.01, 0.5, 1.0, 1.5, 1e3, 1e6, 1e30, 3e38, 1e300]
LAYOUTS = ["mono"] * 3 + ["frames-channels"] * 3 + ["channels-frames", "zero-channels", "no-frames", "scalar", "cube"]


def _shape(layout: str, frames: int, channels: int) -> tuple[int, ...]:
    return {
        "mono": (frames,),
        "frames-channels": (frames, channels),
        "channels-frames": (channels, frames),
        "zero-channels": (frames, 0),
        "no-frames": (0, channels),
        "scalar": (),
        "cube": (2, frames, channels),
    }[layout]


@st.composite
def sample_arrays(draw) -> tuple[object, np.ndarray]:
    """(rate, samples): a plausible or absurd rate, and seeded noise or tones of any dtype, shape and size.

    The samples come from numpy's generator (fast for seconds of audio); hypothesis chooses and
    shrinks the parameters. Lengths stay small at other rates, where a few samples at 1 Hz are
    already a minute of audio once resampled.
    """
    rate = draw(RATES)
    if rate in USUAL_RATES:
        frames = max(0, round(draw(st.sampled_from(SECONDS)) * rate) + draw(st.integers(-2, 2)))
    else:
        frames = draw(st.integers(0, 64))
    channels = draw(st.integers(1, 8))
    shape = _shape(draw(st.sampled_from(LAYOUTS)), frames, channels)
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    scale = draw(st.sampled_from(SCALES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        values = rng.standard_normal(shape)
    else:
        values = np.sin(2 * np.pi * 440.0 / 22050 * np.arange(int(np.prod(shape)))).reshape(shape)
    with np.errstate(over="ignore", invalid="ignore"):
        values = values * scale
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            values = np.clip(values * info.max, info.min, info.max)
        samples = values.astype(dtype)
    if dtype.kind in "fc" and samples.size and draw(st.integers(0, 3)) == 0:
        flat = samples.reshape(-1)
        spoiled = rng.integers(0, flat.size, size=draw(st.integers(1, 3)))
        flat[spoiled] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return rate, samples


@settings(FUZZ, max_examples=600)
@given(source=sample_arrays())
def test_any_array(source):
    decodes_or_refuses(source)


@FUZZ
@given(
    rate=st.integers(1, 64),
    samples=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int16]),
        shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=200),
    ),
)
def test_any_small_array_at_a_low_rate(rate, samples):
    """Element-level extremes (subnormals, NaN, +-Inf, float maxima) in arrays of a few seconds at 1-64 Hz."""
    decodes_or_refuses((rate, samples))


@FUZZ
@given(
    seconds=st.sampled_from([0.0, 0.5, 1.0, 2.99, 3.0, 3.01, 4.5, 10.0]),
    jitter=st.integers(1, 600),
    scale=st.sampled_from([0.0, 1e-7, 1e-4, 0.1, 1.0, 1e3]),
    seed=st.integers(0, 2**32 - 1),
    dc=st.sampled_from([0.0, 0.5]),
)
def test_mfcc_segments_of_any_finite_audio(seconds, jitter, scale, seed, dc):
    """Every finite recording load_audio can return (amplitudes within its +-1e3 clip), silent or not, any length.

    (load_audio returns at least MIN_SECONDS, but shorter input must not break the shapes either.)
    """
    frames = round(seconds * SAMPLE_RATE) + jitter
    y = (np.random.default_rng(seed).standard_normal(frames) * scale + dc * scale).astype(np.float32)
    with np.errstate(all="ignore"):
        segments = mfcc_segments(y)
    check_segments(segments)
    assert segments.duration == pytest.approx(frames / SAMPLE_RATE)


# --- the bugs reported and fixed in model/audio.py, pinned ---

NOISE = np.random.default_rng(0).standard_normal(2 * 44100).astype(np.float32)


def _header_only_stereo_wav() -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros((0, 2), np.int16), 44100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "rate, samples",
    [
        pytest.param(22050, np.zeros((30000, 0), np.float32), id="frames-by-zero-channels"),
        pytest.param(22050, np.zeros((0, 2), np.float32), id="zero-frames-by-two-channels"),
        pytest.param(float("inf"), NOISE, id="infinite-rate"),
        pytest.param(44100, np.sign(NOISE) * np.float32(1e37), id="huge-values-resampled"),
    ],
)
def test_reported_array_bugs(rate, samples):
    decodes_or_refuses((rate, samples))


def test_reported_header_only_stereo_wav():
    decodes_or_refuses(_header_only_stereo_wav())
