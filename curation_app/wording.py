"""Small helpers for the one-line summaries the CLI and the app print."""


def plural(n: int, word: str) -> str:
    """``1 record``, ``2 records``: English plurals of the regular kind used in summaries."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
