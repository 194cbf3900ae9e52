"""Bad and awkward inputs for the reliability suites, written into a folder at test time.

Nothing here is committed as audio: every file is synthesised, or derived at run time from a
bundled example in ``examples/`` (so a clean clone without GTZAN has them all). Each case says
what a person must get, through the CLI and through the app: a valid result, or a clear
message containing given words.

``write_cases(folder)`` writes the quick cases; ``write_oversize`` (a sparse file above the
app's upload limit) and ``write_hour_long`` (one hour of MP3, a few seconds to make) are
separate because only some tests need them. Every writer skips a file that already exists,
so a folder under pytest's session base temp acts as a cache for the whole run. ``PeakRss``
samples a server's memory while the cases are sent (the API suite and scripts/load_test.py).

    python -m tests.badinputs FOLDER   # write them all and list them (to try them by hand)
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import struct
import sys
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile

from model.features import MAX_SECONDS

REPO = Path(__file__).resolve().parents[1]
MUSIC_SOURCE = REPO / "examples" / "lincity_city_blues.ogg"  # 30 s of real music, in the repository
SEED = 20240605
HOUR_SECONDS = 3600.0
HOUR_RATE = 22050  # the hour is encoded at the model's rate as constant 24-kbit/s MP3: about 11 MB

UNREADABLE = ("could not be read as audio",)  # model.audio's words for bytes that are not audio
TOO_LARGE = ("maximum allowed size",)  # Gradio's words when an upload exceeds max_file_size


@dataclasses.dataclass(frozen=True)
class Expect:
    """What a person must get: a classification (``valid``) or a message containing ``words``."""

    valid: bool
    words: tuple[str, ...] = ()  # lower-case fragments, every one in the message
    truncated: bool = False  # a valid result says it analysed only the start

    def describe(self) -> str:
        if self.valid:
            return "a result" + (" (truncated)" if self.truncated else "")
        return "the message " + " ... ".join(repr(word) for word in self.words)


RESULT = Expect(valid=True)


def refused(*words: str) -> Expect:
    return Expect(valid=False, words=tuple(word.lower() for word in words))


@dataclasses.dataclass(frozen=True)
class Case:
    """One input file and what the CLI and the app must do with it."""

    name: str
    path: Path
    cli: Expect
    app: Expect
    what: str  # one line: what the file is

    def __str__(self) -> str:
        return self.name


# --- signals -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _example_at(rate: int) -> np.ndarray:
    """The bundled example as (n, 2) float32 at ``rate``, decoded once per rate."""
    import librosa

    source, source_rate = soundfile.read(MUSIC_SOURCE, dtype="float32", always_2d=True)
    if source_rate != rate:
        source = librosa.resample(source.T, orig_sr=source_rate, target_sr=rate, res_type="soxr_hq").T
    return np.ascontiguousarray(source)


def music(seconds: float, *, rate: int, channels: int = 1, offset: float = 0.0) -> np.ndarray:
    """Real music from the bundled example, looped to length.

    Returns
    -------
    (round(seconds * rate), channels) float32 in [-1, 1]: the example's stereo pair, then
    copies of it, quieter and delayed by a few samples (so that no two channels are equal).
    """
    source = _example_at(rate)
    start = round(offset * rate) % source.shape[0]
    stereo = source[(start + np.arange(round(seconds * rate))) % source.shape[0]]
    columns = [stereo[:, channel % 2] for channel in range(channels)]
    for channel in range(2, channels):
        columns[channel] = np.roll(columns[channel], 37 * channel) * (0.8 - 0.1 * channel)
    return np.clip(np.stack(columns, axis=1), -1.0, 1.0).astype(np.float32)


# --- non-audio containers, written by hand -------------------------------------------------------


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    """A real (decodable) RGB PNG image of a small gradient."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(  # each row: filter type 0, then R, G, B per pixel
        b"\x00" + bytes(value for x in range(width) for value in (x * 255 // width, y * 255 // height, 128))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def mp4_bytes() -> bytes:
    """An ISO-BMFF (MP4) file: ftyp, mdat and a moov with one 16x16 H.264 video track of one sample.

    The box tree is complete and consistent (sizes, sample tables, chunk offset into mdat), as a
    demuxer expects; the sample and the codec configuration are placeholder bytes, not decodable
    H.264 (no encoder is installed), which is irrelevant to an audio decoder that must refuse it.
    """
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    sample = bytes(range(256)) * 4  # one "frame"
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isom", b"iso2", b"avc1", b"mp41")
    mdat = _box(b"mdat", sample)
    sample_offset = len(ftyp) + 8
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, 1000, 1000),
        struct.pack(">IH", 0x10000, 0x100),
        bytes(10),
        matrix,
        bytes(24),
        struct.pack(">I", 2),
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIII", 0, 0, 1, 0),
        struct.pack(">I", 1000),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        matrix,
        struct.pack(">II", 16 << 16, 16 << 16),
    )
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, 1000), struct.pack(">HH", 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = _full_box(b"vmhd", 0, 1, bytes(8))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    sps, pps = b"\x67\x42\xc0\x0a\xd9\x1f\x9e\x84", b"\x68\xce\x3c\x80"
    avcc = _box(
        b"avcC",
        bytes((1, 0x42, 0xC0, 0x0A, 0xFF, 0xE1)),
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",
        struct.pack(">H", len(pps)),
        pps,
    )
    avc1 = _box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),
        bytes(16),
        struct.pack(">HH", 16, 16),
        struct.pack(">II", 0x480000, 0x480000),
        bytes(4),
        struct.pack(">H", 1),
        bytes(32),
        struct.pack(">Hh", 0x18, -1),
        avcc,
    )
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
        _full_box(b"stts", 0, 0, struct.pack(">III", 1, 1, 1000)),
        _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1)),
        _full_box(b"stsz", 0, 0, struct.pack(">III", 0, 1, len(sample))),
        _full_box(b"stco", 0, 0, struct.pack(">II", 1, sample_offset)),
    )
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, _box(b"minf", vmhd, dinf, stbl)))
    return ftyp + mdat + _box(b"moov", mvhd, trak)


# --- the cases ------------------------------------------------------------------------------------


def _write_once(path: Path, make: Callable[[Path], None]) -> Path:
    """Write ``path`` with ``make(temporary_path)`` unless it exists; atomic, so a cache is never half-written."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        make(partial)
        os.replace(partial, path)
    return path


def _wav(samples: np.ndarray, rate: int, subtype: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def _random_bytes() -> bytes:
    return np.random.default_rng(SEED).bytes(64 * 1024)


def _stereo_wav() -> bytes:
    return _wav(music(5.0, rate=44100, channels=2), 44100, "PCM_16")


def _nan_inf() -> bytes:
    samples = music(5.0, rate=44100)[:, 0].copy()
    samples[1000:1010] = np.nan
    samples[50000:50005] = np.inf
    samples[60000] = -np.inf
    return _wav(samples, 44100, "FLOAT")


def _click() -> bytes:
    samples = np.zeros(round(0.2 * 44100), np.float32)
    samples[100:140] = 0.9
    return _wav(samples, 44100, "PCM_16")


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    file_name: str
    expect: Expect  # the same through the CLI and the app
    what: str
    content: Callable[[], bytes]


QUICK = (
    _Spec("empty", "empty.wav", refused("empty"), "0 bytes", lambda: b""),
    _Spec(
        "text_as_wav",
        "lyrics.wav",
        refused(*UNREADABLE),
        "plain text renamed .wav",
        lambda: b"These are my band's lyrics, not a recording.\n" * 40,
    ),
    _Spec("random_wav", "noise.wav", refused(*UNREADABLE), "64 kB of random bytes named .wav", _random_bytes),
    _Spec(
        "random_mp3",
        "noise.mp3",
        refused(*UNREADABLE),
        "64 kB of random bytes named .mp3",
        lambda: _random_bytes()[::-1],
    ),
    _Spec(
        "truncated_header",
        "truncated_header.wav",
        refused(*UNREADABLE),
        "the first 30 bytes of a WAV (the header stops inside the fmt chunk)",
        lambda: _stereo_wav()[:30],
    ),
    _Spec(
        "cut_mid_frame",
        "cut_mid_frame.wav",
        RESULT,
        "a 16-bit stereo WAV whose data stops inside a frame (its header promises 10 kB more)",
        lambda: _stereo_wav()[: -10_000 - 3],
    ),
    _Spec(
        "header_only_stereo",
        "header_only_stereo.wav",
        refused("no audio samples"),
        "a 16-bit stereo WAV header with no samples (44 bytes; e.g. a recording stopped at once)",
        lambda: _wav(np.zeros((0, 2), np.int16), 44100, "PCM_16"),
    ),
    _Spec("png", "picture.png", refused(*UNREADABLE), "a real 4x4 PNG image", png_bytes),
    _Spec(
        "mp4", "video.mp4", refused(*UNREADABLE), "an MP4 container with one (placeholder) H.264 video track", mp4_bytes
    ),
    _Spec(
        "nan_inf",
        "nan_inf.wav",
        refused("NaN", "infinity"),
        "5 s of 32-bit float music with NaN, +Inf and -Inf samples",
        _nan_inf,
    ),
    _Spec(
        "huge_float",
        "huge_float.wav",
        RESULT,
        "3 s of 44.1-kHz 32-bit float music scaled to +-1e37 (finite, far beyond full scale)",
        lambda: _wav(music(3.0, rate=44100)[:, 0] * np.float32(1e37), 44100, "FLOAT"),
    ),
    _Spec(
        "silence",
        "silence.wav",
        refused("silent"),
        "30 s of digital silence",
        lambda: _wav(np.zeros(30 * 22050, np.int16), 22050, "PCM_16"),
    ),
    _Spec("click", "click.wav", refused("too short"), "a 0.2-s click", _click),
    _Spec(
        "surround_96k_6ch",
        "surround_96k.wav",
        RESULT,
        "4 s of music at 96 kHz in 6 channels",
        lambda: _wav(music(4.0, rate=96000, channels=6), 96000, "PCM_16"),
    ),
    _Spec(
        "mono_8k",
        "phone_8k.wav",
        RESULT,
        "6 s of 8-kHz mono music",
        lambda: _wav(music(6.0, rate=8000)[:, 0], 8000, "PCM_16"),
    ),
    _Spec(
        "pcm24",
        "pcm24.wav",
        RESULT,
        "5 s of 24-bit 48-kHz stereo music",
        lambda: _wav(music(5.0, rate=48000, channels=2), 48000, "PCM_24"),
    ),
    _Spec(
        "float32",
        "float32.wav",
        RESULT,
        "5 s of 32-bit float stereo music peaking at 1.5",
        lambda: _wav(music(5.0, rate=44100, channels=2) * 1.5, 44100, "FLOAT"),
    ),
)
QUICK_NAMES = tuple(spec.name for spec in QUICK)


def write_cases(folder: Path, *, names: tuple[str, ...] = QUICK_NAMES) -> list[Case]:
    """Write the quick cases (about 11 MB in all) into ``folder``; existing files are kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for spec in QUICK:
        if spec.name in names:
            path = _write_once(folder / spec.file_name, lambda partial, spec=spec: partial.write_bytes(spec.content()))
            cases.append(Case(name=spec.name, path=path, cli=spec.expect, app=spec.expect, what=spec.what))
    return cases


def app_max_file_size() -> int:
    """The app's upload limit in bytes (app.layout.MAX_FILE_SIZE, parsed as Gradio parses it)."""
    from gradio.utils import _parse_file_size

    from app.layout import MAX_FILE_SIZE

    return int(_parse_file_size(MAX_FILE_SIZE))


def write_oversize(folder: Path, *, limit: int) -> Case:
    """A valid 16-bit WAV of ``limit`` + 1 MB: 5 s of music, then silence stored as a sparse hole.

    The CLI has no size limit and classifies it (the first MAX_SECONDS: it is truncated); the
    app must refuse the upload.
    """
    rate = 22050
    size = limit + 1024 * 1024

    def make(path: Path) -> None:
        head = _wav(music(5.0, rate=rate), rate, "PCM_16")
        data_bytes = size - 44
        header = (
            b"RIFF"
            + struct.pack("<I", size - 8)
            + b"WAVE"
            + b"fmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
            + b"data"
            + struct.pack("<I", data_bytes)
        )
        with open(path, "wb") as handle:
            handle.write(header + head[44:])
            handle.truncate(size)  # the rest is a hole: zero samples, no disk used

    path = _write_once(Path(folder) / "oversize.wav", make)
    seconds = (size - 44) / (2 * rate)
    return Case(
        name="oversize",
        path=path,
        cli=Expect(valid=True, truncated=seconds > MAX_SECONDS),
        app=refused(*TOO_LARGE),
        what=f"a {size / 2**20:.0f}-MiB WAV ({seconds / 60:.0f} min; above the app's {limit / 2**20:.0f}-MiB limit)",
    )


def _first_frame_length(data: bytes) -> int:
    """Length in bytes of the MPEG audio frame at the start of ``data`` (Layer III only)."""
    header = struct.unpack(">I", data[:4])[0]
    if header >> 21 != 0x7FF:
        raise ValueError("not an MPEG audio frame")
    version = (header >> 19) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    bitrate_index, rate_index, padding = (header >> 12) & 15, (header >> 10) & 3, (header >> 9) & 1
    bitrates = (
        [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
        if version == 3
        else [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
    )
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}[version]
    per_frame = 144 if version == 3 else 72
    return per_frame * bitrates[bitrate_index] * 1000 // rates[rate_index] + padding


def write_hour_long(folder: Path) -> Case:
    """One hour of music as a constant 24-kbit/s mono MP3 (about 11 MB), made in a second or two.

    30 s of the bundled example are encoded once; the stream, without its first frame (LAME's
    Xing/Info frame, which would state a 30-s length), is repeated 120 times. MPEG audio frames
    stand alone, so decoders read it as one hour-long stream.
    """

    def make(path: Path) -> None:
        buffer = io.BytesIO()
        with soundfile.SoundFile(
            buffer,
            "w",
            samplerate=HOUR_RATE,
            channels=1,
            format="MP3",
            subtype="MPEG_LAYER_III",
            bitrate_mode="CONSTANT",
            compression_level=0.9,
        ) as stream:
            stream.write(music(30.0, rate=HOUR_RATE)[:, 0])
        encoded = buffer.getvalue()
        first = _first_frame_length(encoded)
        frames = encoded[first:] if b"Info" in encoded[:first] or b"Xing" in encoded[:first] else encoded
        with open(path, "wb") as handle:
            for _ in range(round(HOUR_SECONDS / 30.0)):
                handle.write(frames)

    path = _write_once(Path(folder) / "one_hour.mp3", make)
    return Case(
        name="one_hour",
        path=path,
        cli=Expect(valid=True, truncated=True),
        app=Expect(valid=True, truncated=True),
        what="one hour of constant 24-kbit/s mono MP3 (the same 30 s of music repeated)",
    )


def write_good(folder: Path, *, index: int, seconds: float = 5.0) -> Path:
    """A short valid recording (16-bit 44.1-kHz stereo WAV): the example from ``0.25 * index`` s on.

    Distinct contents matter for the app: Gradio names uploads by their content, and the app
    keeps recent results by file, so a repeated file would not reach the model again.
    """
    rate = 44100

    def make(path: Path) -> None:
        path.write_bytes(_wav(music(seconds, rate=rate, channels=2, offset=0.25 * index), rate, "PCM_16"))

    return _write_once(Path(folder) / f"good_{index:03d}.wav", make)


def session_folder(tmp_path_factory) -> Path:
    """One folder per pytest session for these files, shared by every test module (a cache)."""
    folder = tmp_path_factory.getbasetemp() / "badinputs"
    folder.mkdir(exist_ok=True)
    return folder


# --- measuring ---------------------------------------------------------------------------------------


class PeakRss:
    """Peak resident memory (bytes) of a process and its children, sampled in a thread until `stop`."""

    def __init__(self, pid: int, *, interval: float = 0.05) -> None:
        import psutil

        self.peak = 0
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                processes = [self._process, *self._process.children(recursive=True)]
                self.peak = max(self.peak, sum(process.memory_info().rss for process in processes))
            except psutil.Error:  # the process ended
                return
            self._stop.wait(self._interval)

    def stop(self) -> int:
        """Stop sampling; the peak so far."""
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.badinputs FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    cases = [*write_cases(folder), write_oversize(folder, limit=app_max_file_size()), write_hour_long(folder)]
    for case in cases:
        print(f"{case.path}  {case.what}; CLI: {case.cli.describe()}; app: {case.app.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
