"""GTZAN loading, artist-filtered splits, training, evaluation and comparison."""
