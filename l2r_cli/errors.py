"""The one exception type users see as a one-line error (and exit code 2)."""


class L2RError(Exception):
    """A problem with the user's input (path, file, config); printed as one line, exit 2."""
