"""Retrain the committed model end to end: teacher, transfer music, teacher pass, head, distillation, fusion.

    python -m training.retrain --data ../shared/gtzan

1. `training.transfer fetch`: the free Debian music (apt-get download, dpkg -x) into ``--music``;
2. `training.teacher_pass`: the musicnn wheel (pip download, never installed) and its outputs on every
   student segment of GTZAN train (clean and channel copies), valid and test (for the head's choice and
   report only) and the transfer music;
3. `training.teacher_head`: the teacher's genre head, chosen on valid (training/teacher_head.json);
4. `training.distill`: the student with genre and tag heads (model/genre_cnn.keras and .json);
5. `training.clipstats`: the clip-statistics fusion, its weight chosen on valid (0 keeps the student alone).

Each step skips what is already done (fetched packages, cached teacher outputs). About 40 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from training.teacher import CACHE_DIR as WHEEL_CACHE

MUSIC_DIR = WHEEL_CACHE / "music"


def main(argv: list[str] | None = None) -> int:
    from model.artifact import DEFAULT_MODEL_PATH
    from training import clipstats, distill, teacher_head, teacher_pass, transfer

    parser = argparse.ArgumentParser(prog="python -m training.retrain", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="GTZAN folder (../shared/gtzan or a full download)")
    parser.add_argument("--music", type=Path, default=MUSIC_DIR, help="where the transfer music is unpacked")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args(argv)
    transfer.fetch(args.music)
    steps = [
        lambda: teacher_pass.main(["--data", str(args.data), "--music", str(args.music)]),
        lambda: teacher_head.main(["--data", str(args.data)]),
        lambda: distill.main(["--data", str(args.data), "--out", str(args.out)]),
        lambda: clipstats.main(["--data", str(args.data), "--model", str(args.out)]),
    ]
    for step in steps:
        code = step()
        if code:
            return code
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
