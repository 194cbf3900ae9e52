"""Transfer audio for distillation: free music from Debian packages, fetched and listed, never committed.

    python -m training.transfer fetch --out ~/.cache/genre-cam/music     # apt-get download + dpkg -x
    python -m training.transfer list --music ~/.cache/genre-cam/music    # tracks, hours and licences per package

The teacher labels this music; it has no genre labels of its own. A track counts when it is at
least MIN_TRACK_SECONDS long; only its first MAX_TRACK_SECONDS are used, so that no long piece
dominates. Byte-identical copies (one game ships its score once per language) count once, and the
tracks that the bundled examples are cut from (examples/examples.json) are left out, so the
examples stay unheard in training.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from training.data import AUDIO_SUFFIXES

# Debian packages of free music (each package's copyright file is read by `licences`).
PACKAGES = (
    "fretsonfire-songs-muldjord",
    "fretsonfire-songs-sectoid",
    "wesnoth-1.16-music",
    "warzone2100-music",
    "singularity-music",
    "nexuiz-music",
    "hyperrogue-music",
    "fb-music-high",
    "ufoai-music",
    "drascula-music",
    "boswars-data",
    "colobot-common-sounds",
    "pushover-data",
    "planetblupi-music-ogg",
    "fillets-ng-data",
    "freedroidrpg-data",
    "supertux-data",
    "hedgewars-data",
    "flare-game",
    "neverball-data",
    "extremetuxracer-data",
    "lincity-ng-data",
)
MIN_TRACK_SECONDS = 20.0  # shorter files are sound effects or jingles
MAX_TRACK_SECONDS = 180.0  # only the first 3 minutes of a track are used
EXAMPLES_FILE = Path(__file__).resolve().parent.parent / "examples" / "examples.json"


@dataclasses.dataclass(frozen=True)
class Track:
    """One piece of transfer music.

    Attributes
    ----------
    path : the audio file.
    package : the Debian package it comes from.
    seconds : its full length (only the first MAX_TRACK_SECONDS are used).
    """

    path: Path
    package: str
    seconds: float

    @property
    def track_id(self) -> str:
        """A stable name for caches: package and a hash of the path inside it."""
        inside = str(self.path).split(f"/{self.package}/", 1)[-1]
        return f"{self.package}.{hashlib.sha1(inside.encode()).hexdigest()[:12]}"


def fetch(out: Path, *, packages: tuple[str, ...] = PACKAGES) -> None:
    """Download and unpack each package into ``out/<package>/`` (skips those already there)."""
    out.mkdir(parents=True, exist_ok=True)
    for package in packages:
        target = out / package
        if target.is_dir():
            continue
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run(["apt-get", "download", package], cwd=folder, check=True, capture_output=True)
            (deb,) = Path(folder).glob("*.deb")
            subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
        for archive in target.rglob("*.pk3"):  # Quake-style zip archives (nexuiz, ufoai) hold the music
            with zipfile.ZipFile(archive) as bundle:
                members = [name for name in bundle.namelist() if Path(name).suffix.lower() in AUDIO_SUFFIXES]
                bundle.extractall(archive.parent / f"{archive.stem}_pk3", members)
        print(f"{package}: unpacked", flush=True)


def example_sources(examples_file: Path = EXAMPLES_FILE) -> set[str]:
    """Paths (as installed, e.g. /usr/share/...) of the files the bundled examples are cut from."""
    entries = json.loads(examples_file.read_text())
    return {entry[key] for entry in entries for key in ("source_file", "mixed_with") if entry.get(key)}


def list_tracks(music: Path, *, excluded: set[str] | None = None) -> list[Track]:
    """Every usable track under ``music/<package>/``, sorted by path, duplicates and example sources left out."""
    import soundfile

    excluded = example_sources() if excluded is None else excluded
    tracks, seen = [], set()
    for path in sorted(music.glob("*/**/*")):
        if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file() or "/doc/" in str(path):
            continue
        package = path.relative_to(music).parts[0]
        installed = "/" + str(path.relative_to(music / package))
        if installed in excluded:
            continue
        try:
            seconds = soundfile.info(str(path)).duration
        except (RuntimeError, soundfile.LibsndfileError):
            continue
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if seconds < MIN_TRACK_SECONDS or digest in seen:
            continue
        seen.add(digest)
        tracks.append(Track(path=path, package=package, seconds=seconds))
    return tracks


def licences(music: Path, package: str) -> list[str]:
    """The distinct licence names in a package's Debian copyright file."""
    copyright_file = music / package / "usr" / "share" / "doc" / package / "copyright"
    if not copyright_file.is_file():
        return []
    names = re.findall(r"^License:\s*(\S.*)$", copyright_file.read_text(errors="replace"), flags=re.MULTILINE)
    return sorted(set(name.strip() for name in names))


def summary(music: Path, tracks: list[Track]) -> list[str]:
    """One line per package: tracks, hours used (capped per track), licences."""
    lines = []
    for package in sorted({track.package for track in tracks}):
        own = [track for track in tracks if track.package == package]
        hours = sum(min(track.seconds, MAX_TRACK_SECONDS) for track in own) / 3600
        lines.append(
            f"{package}: {len(own)} tracks, {hours:.2f} h used; licences: {', '.join(licences(music, package))}"
        )
    total = sum(min(track.seconds, MAX_TRACK_SECONDS) for track in tracks) / 3600
    lines.append(f"total: {len(tracks)} tracks, {total:.2f} h used")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.transfer", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_command = commands.add_parser("fetch", help="download and unpack the packages")
    fetch_command.add_argument("--out", type=Path, required=True)
    list_command = commands.add_parser("list", help="tracks, hours and licences per package")
    list_command.add_argument("--music", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        fetch(args.out)
        return 0
    print("\n".join(summary(args.music, list_tracks(args.music))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
