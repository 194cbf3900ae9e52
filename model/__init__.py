"""Audio to genre probabilities and their Grad-CAM explanation.

Importing this package loads no model and no TensorFlow: use
``model.classifier.GenreClassifier.load()`` once, then ``classify`` and ``explain``.
"""

from model.errors import AudioInputError

__all__ = ["AudioInputError"]
