"""Decoding and validation at the boundary: every bad input raises AudioInputError with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from model.audio import load_audio
from model.errors import AudioInputError
from model.features import SAMPLE_RATE

RNG = np.random.default_rng(7)


def music_like(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    time = np.arange(int(seconds * rate)) / rate
    mono = 0.2 * np.sin(2 * np.pi * 220 * time) + 0.05 * RNG.standard_normal(time.size)
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32) if channels > 1 else mono.astype(np.float32)


@pytest.mark.parametrize(
    "fmt,subtype,suffix",
    [
        ("WAV", "PCM_16", "wav"),
        ("WAV", "PCM_24", "wav"),
        ("WAV", "FLOAT", "wav"),
        ("FLAC", "PCM_16", "flac"),
        ("OGG", "VORBIS", "ogg"),
        ("MP3", "MPEG_LAYER_III", "mp3"),
    ],
)
@pytest.mark.parametrize("rate,channels", [(44100, 2), (8000, 1), (48000, 1)])
def test_formats_rates_and_channels_decode_to_22050_mono(tmp_path, fmt, subtype, suffix, rate, channels):
    if fmt == "MP3" and rate == 8000:
        rate = 16000  # MPEG layer III has no 8 kHz mode in libsndfile's encoder
    path = tmp_path / f"clip.{suffix}"
    sf.write(path, music_like(2.0, rate, channels), rate, format=fmt, subtype=subtype)
    decoded = load_audio(path)
    assert decoded.samples.ndim == 1 and decoded.samples.dtype == np.float32
    assert decoded.seconds == pytest.approx(2.0, abs=0.1)  # mp3 encoders add a few ms of padding
    assert not decoded.truncated


def test_array_input_int16_stereo():
    data = (music_like(1.5, 16000, channels=2) * 32767).astype(np.int16)
    decoded = load_audio((16000, data))
    assert decoded.samples.shape[0] == pytest.approx(1.5 * SAMPLE_RATE, abs=2)
    assert np.max(np.abs(decoded.samples)) <= 1.0


def test_long_audio_is_capped_and_says_so():
    decoded = load_audio((8000, music_like(12.0, 8000)), max_seconds=5.0)
    assert decoded.truncated and decoded.seconds == pytest.approx(5.0, abs=1e-3)
    assert decoded.source_seconds == pytest.approx(12.0)


def test_long_file_is_read_only_up_to_the_cap(tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, music_like(20.0, 8000), 8000)
    decoded = load_audio(path, max_seconds=4.0)
    assert decoded.truncated and decoded.seconds == pytest.approx(4.0, abs=1e-3)
    assert decoded.source_seconds == pytest.approx(20.0)


def _write_bytes(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: _write_bytes(p, "empty.wav", b""), "empty"),
        (lambda p: _write_bytes(p, "text.wav", b"this is not audio\n" * 50), "could not be read as audio"),
        (lambda p: _write_bytes(p, "noise.mp3", RNG.bytes(4096)), "could not be read as audio"),
        (lambda p: p / "missing.wav", "No such file"),
    ],
)
def test_undecodable_files(tmp_path, make, message):
    with pytest.raises(AudioInputError, match=message):
        load_audio(make(tmp_path))


def test_non_finite_samples(tmp_path):
    data = music_like(2.0, 22050)
    data[100], data[200] = np.nan, np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, data, 22050, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="NaN or infinity"):
        load_audio(path)


def test_silence(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(22050 * 30, dtype=np.float32), 22050)
    with pytest.raises(AudioInputError, match="silent"):
        load_audio(path)


def test_too_short_click():
    click = np.zeros(int(0.2 * 44100), dtype=np.float32)
    click[10] = 1.0
    with pytest.raises(AudioInputError, match="too short"):
        load_audio((44100, click))


@pytest.mark.parametrize("source", [42, (0, np.ones(100)), (22050, np.ones((2, 2, 2))), ("22050", "abc")])
def test_bad_arrays_and_types(source):
    with pytest.raises(AudioInputError):
        load_audio(source)
