"""The one exception family for input and usage errors, turned into exit status 2 by the CLI."""


class InvlatentError(ValueError):
    """A problem with the user's input or options, reported as one line without a traceback."""
