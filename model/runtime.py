"""Import TensorFlow/Keras once, without the C++ start-up banner on stderr.

TensorFlow's native code prints "oneDNN custom operations are on" and absl warnings to
file descriptor 2 at import, which ``TF_CPP_MIN_LOG_LEVEL`` does not silence. The CLI
promises one line of stderr per bad file, so the import runs with fd 2 sent to /dev/null.
"""

from __future__ import annotations

import os
import sys


def import_tensorflow():
    """Return the ``tensorflow`` module, imported quietly the first time."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import keras  # noqa: F401  (its backend initialises TensorFlow's logging too)
            import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tensorflow
