"""The teacher: musicnn's Million-Song tagger (MSD_musicnn), rebuilt in Keras 3 for training only.

Pons & Serra's musicnn (Music Technology Group, Universitat Pompeu Fabra; ISC licence) was trained on
the Million Song Dataset's 50 most frequent Last.fm tags. Its weights come from PyPI's
``musicnn==0.1.0`` wheel, fetched with ``pip download --no-deps`` (never installed: its metadata pins
numpy<1.17) and read with TensorFlow's checkpoint reader; the architecture follows the wheel's
``musicnn/models.py`` (``build_musicnn``: a timbral and temporal front end, three dense-connected
mid-end convolutions, max and mean pooling over time, a 200-unit dense layer, 50 sigmoid tags).

Input, as musicnn's extractor computes it: 16 kHz mono, a 96-band mel power spectrogram (FFT 512,
hop 256), cast to float16, ``log10(10000 x + 1)``, patches of 187 frames (3 s). That compression
depends on the level, so `teacher_patches` first scales each recording to TEACHER_RMS_DBFS.

The app never runs the teacher; `training.distill` uses its outputs as targets.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "musicnn==0.1.0"
WHEEL_FILE = "musicnn-0.1.0-py3-none-any.whl"
CHECKPOINT = "musicnn/MSD_musicnn/"  # the checkpoint prefix inside the wheel: the folder itself
CACHE_DIR = Path(os.environ.get("GENRE_CAM_CACHE", Path.home() / ".cache" / "genre-cam"))

SAMPLE_RATE = 16000  # Hz, musicnn's rate
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PATCH_FRAMES = 187  # frames per patch: 3 s at 16 kHz / 256
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP_LENGTH  # samples whose centred frames make one patch
TEACHER_RMS_DBFS = -17.0  # RMS before the log compression (GTZAN train: median -14.9 dBFS, long clips -20.2)
PENULTIMATE_UNITS = 200  # the dense layer before the tags
BATCH_NORM_EPSILON = 1e-3  # TF1 layers' default, which musicnn trained with

# MSD_musicnn's 50 tags in output order (musicnn/configuration.py, MSD_LABELS).
TAGS = (
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
)
CREDIT = (
    "musicnn (Jordi Pons and Xavier Serra, Music Technology Group, Universitat Pompeu Fabra), "
    "MSD_musicnn weights from PyPI's musicnn 0.1.0, ISC licence"
)


def fetch_wheel(*, cache_dir: Path = CACHE_DIR) -> Path:
    """The musicnn wheel in ``cache_dir``, downloaded once with ``pip download --no-deps``."""
    wheel = cache_dir / WHEEL_FILE
    if not wheel.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", str(cache_dir)], check=True
        )
    return wheel


def checkpoint_weights(wheel: Path) -> dict[str, np.ndarray]:
    """Every variable of MSD_musicnn's checkpoint inside the wheel, by its TF1 name (optimiser slots left out)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder, [name for name in archive.namelist() if name.startswith(CHECKPOINT)])
        reader = tf.compat.v1.train.NewCheckpointReader(f"{folder}/{CHECKPOINT}")  # the prefix keeps its slash
        names = [name for name in reader.get_variable_to_shape_map() if "Adam" not in name and "power" not in name]
        return {name: reader.get_tensor(name) for name in names}


def build_musicnn(*, n_tags: int = len(TAGS)):
    """MSD_musicnn as a Keras 3 Functional model, layers named after the checkpoint's variables.

    Returns
    -------
    keras.Model mapping (batch, PATCH_FRAMES, N_MELS) log-mel patches to [tags (batch, n_tags)
    probabilities, penultimate (batch, 200) activations].
    """
    import keras
    from keras import layers

    def batch_norm(index: int):
        return layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=_bn_name(index))

    def pool_frequency(x, name: str):
        """Max over the whole frequency axis: (b, t, f, c) -> (b, t, c)."""
        x = layers.MaxPooling2D(pool_size=(1, x.shape[2]), name=f"{name}_pool")(x)
        return layers.Reshape((x.shape[1], x.shape[3]), name=f"{name}_squeeze")(x)

    patches = keras.Input(shape=(PATCH_FRAMES, N_MELS), name="log_mel")
    x = layers.Reshape((PATCH_FRAMES, N_MELS, 1), name="expand")(patches)
    x = batch_norm(0)(x)
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)), name="timbral_pad")(x)
    front = []
    # timbral: 7 frames x 40 % / 70 % of the bands; temporal: 128 / 64 / 32 frames x 1 band
    for conv, (kernel, source, padding) in enumerate(
        [
            ((7, 38), padded, "valid"),
            ((7, 67), padded, "valid"),
            ((128, 1), x, "same"),
            ((64, 1), x, "same"),
            ((32, 1), x, "same"),
        ]
    ):
        filters = 204 if conv < 2 else 51
        y = layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=_conv_name(conv))(source)
        y = batch_norm(conv + 1)(y)
        front.append(pool_frequency(y, _conv_name(conv)))
    front = layers.Concatenate(axis=2, name="front_end")(front)  # (b, 187, 561)
    mid = [front]
    h = layers.Reshape((PATCH_FRAMES, front.shape[2], 1), name="mid_expand")(front)
    for step in range(3):
        h = layers.ZeroPadding2D(((3, 3), (0, 0)), name=f"mid{step + 1}_pad")(h)
        h = layers.Conv2D(64, (7, h.shape[2]), activation="relu", name=_conv_name(5 + step))(h)
        h = batch_norm(6 + step)(h)
        h = layers.Reshape((PATCH_FRAMES, 64), name=f"mid{step + 1}_transpose")(h)
        if step > 0:
            h = layers.Add(name=f"mid{step + 1}_residual")([h, mid[-1]])
        mid.append(h)
        h = layers.Reshape((PATCH_FRAMES, 64, 1), name=f"mid{step + 1}_expand")(h)
    features = layers.Concatenate(axis=2, name="mid_end")(mid)  # (b, 187, 753)
    # max and mean over time, flattened pairwise as TF1's flatten of a (753, 2) tensor interleaves them
    peak = layers.Reshape((features.shape[2], 1))(layers.GlobalMaxPooling1D(name="time_max")(features))
    mean = layers.Reshape((features.shape[2], 1))(layers.GlobalAveragePooling1D(name="time_mean")(features))
    pooled = layers.Flatten(name="interleave")(layers.Concatenate(axis=2)([peak, mean]))  # (b, 1506)
    pooled = batch_norm(9)(pooled)
    dense = layers.Dense(PENULTIMATE_UNITS, activation="relu", name="dense")(pooled)
    penultimate = batch_norm(10)(dense)
    logits = layers.Dense(n_tags, name="dense_1")(penultimate)
    tags = layers.Activation("sigmoid", name="tags")(logits)
    return keras.Model(patches, [tags, penultimate], name="msd_musicnn")


def _conv_name(index: int) -> str:
    return "conv2d" if index == 0 else f"conv2d_{index}"


def _bn_name(index: int) -> str:
    return "batch_normalization" if index == 0 else f"batch_normalization_{index}"


@dataclasses.dataclass(frozen=True)
class Teacher:
    """The ported network and its forward pass, compiled once for any batch size."""

    network: object
    forward: object


def load_teacher(*, cache_dir: Path = CACHE_DIR) -> Teacher:
    """The ported MSD_musicnn with its checkpoint's weights (see `build_musicnn`)."""
    import tensorflow as tf
    from keras import layers

    weights = checkpoint_weights(fetch_wheel(cache_dir=cache_dir))
    network = build_musicnn()
    for layer in network.layers:
        if isinstance(layer, layers.BatchNormalization):
            names = ("gamma", "beta", "moving_mean", "moving_variance")
        elif isinstance(layer, (layers.Conv2D, layers.Dense)):
            names = ("kernel", "bias")
        else:
            continue
        layer.set_weights([weights[f"{layer.name}/{name}"] for name in names])
    signature = [tf.TensorSpec((None, PATCH_FRAMES, N_MELS), tf.float32)]
    return Teacher(
        network=network, forward=tf.function(lambda x: network(x, training=False), input_signature=signature)
    )


def log_mel(y: np.ndarray) -> np.ndarray:
    """musicnn's input representation of 16-kHz mono audio.

    Parameters
    ----------
    y : (n_samples,) float32 at SAMPLE_RATE.

    Returns
    -------
    (1 + n_samples // HOP_LENGTH, N_MELS) float32: time first, ``log10(10000 mel + 1)`` of the
    float16-rounded mel power (as musicnn computed it). Frames are centred with reflection
    padding, librosa's default when musicnn was trained.
    """
    import librosa

    mel = librosa.feature.melspectrogram(
        y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS, pad_mode="reflect"
    ).T
    return np.log10(10000.0 * mel.astype(np.float16).astype(np.float32) + 1.0)


def teacher_patches(y: np.ndarray, *, sample_rate: int, starts: np.ndarray, seconds: float) -> np.ndarray:
    """One teacher patch per excerpt of a recording: the same audio a student segment covers.

    Parameters
    ----------
    y : (n_samples,) mono audio at ``sample_rate``, not silent.
    starts : (n_excerpts,) start of each excerpt in seconds.
    seconds : length of each excerpt; audio past the recording's end is taken by looping it.

    Returns
    -------
    (n_excerpts, PATCH_FRAMES, N_MELS) float32 log-mel patches of the excerpts' first 3 s
    (``seconds`` shorter than 3 s are looped to fill the patch, as musicnn repeat-pads short clips).
    """
    import librosa

    from model.features import normalise_loudness

    level = normalise_loudness(y, target_rms_dbfs=TEACHER_RMS_DBFS)
    audio = librosa.resample(level, orig_sr=sample_rate, target_sr=SAMPLE_RATE) if sample_rate != SAMPLE_RATE else level
    length = min(PATCH_SAMPLES, int(round(seconds * SAMPLE_RATE)))
    patches = []
    for start in np.asarray(starts, dtype=np.float64):
        first = int(round(start * SAMPLE_RATE))
        excerpt = np.take(audio, np.arange(first, first + length), mode="wrap")
        patches.append(log_mel(np.resize(excerpt, PATCH_SAMPLES)))
    return np.stack(patches).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class TeacherOutputs:
    """What the teacher says about a batch of patches.

    Attributes
    ----------
    tags : (n, 50) tag probabilities, in TAGS order.
    penultimate : (n, 200) activations of the last hidden layer.
    """

    tags: np.ndarray
    penultimate: np.ndarray


def run_teacher(teacher: Teacher, patches: np.ndarray, *, batch_size: int = 32) -> TeacherOutputs:
    """The teacher on (n, PATCH_FRAMES, N_MELS) patches -> TeacherOutputs (float32)."""
    tags, penultimate = [], []
    for first in range(0, patches.shape[0], batch_size):
        batch_tags, batch_penultimate = teacher.forward(patches[first : first + batch_size].astype(np.float32))
        tags.append(batch_tags.numpy())
        penultimate.append(batch_penultimate.numpy())
    return TeacherOutputs(tags=np.concatenate(tags), penultimate=np.concatenate(penultimate))
