"""The one exception family for input and usage errors, turned into exit status 2 by the CLI."""


class InvlatentError(ValueError):
    """A problem with the user's input or options, reported as one line without a traceback."""


def check_at_least(**bounds: tuple[float | None, float]) -> None:
    """Raise one ``InvlatentError`` naming the first argument below its least value:
    ``check_at_least(batch_size=(value, 1))``; a value of None passes."""
    for name, (value, least) in bounds.items():
        if value is not None and value < least:
            raise InvlatentError(f"{name} must be at least {least}, got {value}")
