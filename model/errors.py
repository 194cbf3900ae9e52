"""The project's one input exception."""


class AudioInputError(ValueError):
    """Audio that cannot be classified, with a message meant for a person.

    Raised at the boundary (decoding and validation) for empty, silent, too short,
    non-finite or undecodable input. The app shows the message as-is; the CLI prints
    it on one line and exits non-zero.
    """
