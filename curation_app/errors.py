"""The exceptions this package raises, all rooted at :class:`CurationError`.

::

    CurationError
    ├── NotFoundError            a project, dialogue or user that does not exist
    ├── AlreadyExistsError       a name that is taken
    ├── PermissionDeniedError    the acting user's role does not allow the action
    ├── InvalidInputError        input that cannot be read at all (not JSON, not UTF-8, truncated)
    │   └── ImportRefusedError   records that failed validation; carries every RecordProblem
    ├── UnknownLabelError        a topic/emotion/strategy the project's vocabulary lacks
    ├── ConflictError            a save against a stale version; carries the losing text
    ├── StorageError             the database refused or is unreachable
    └── ExportError              an export that could not be written (target exists, invalid output)

The edges (CLI, UI) turn these into one plain line for people; nothing else prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class CurationError(Exception):
    """Root of every error this package raises on purpose."""


class NotFoundError(CurationError):
    pass


class AlreadyExistsError(CurationError):
    pass


class PermissionDeniedError(CurationError):
    pass


class InvalidInputError(CurationError):
    pass


@dataclass(frozen=True)
class RecordProblem:
    """One finding about one input record: where it is and what is wrong.

    ``index`` is the 0-based position of the record in the file (the line number minus one for
    JSONL); ``field`` is a JSON-pointer-like path inside the record (``dialog[3].speaker``).
    """

    index: int
    field: str
    message: str
    record_id: str | None = None

    def __str__(self) -> str:
        ident = f" ({self.record_id})" if self.record_id else ""
        where = f", field {self.field}" if self.field else ""
        return f"record {self.index}{ident}{where}: {self.message}"


class ImportRefusedError(InvalidInputError):
    """Some records were refused; nothing was written."""

    def __init__(self, problems: list[RecordProblem], total: int):
        self.problems = problems
        self.total = total
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        refused = len({p.index for p in problems})
        super().__init__(
            f"{refused} of {total} records refused, nothing imported: {shown}{more}. "
            "Fix the file, or pass --skip-invalid to import the valid records"
        )


class UnknownLabelError(CurationError):
    pass


class ConflictError(CurationError):
    """A save was based on a version that is no longer current.

    ``attempted`` holds what the caller tried to save so that it can be shown and reapplied;
    nothing of it was written.
    """

    def __init__(self, dialogue_id: int, expected: int, current: int, attempted: Any = None):
        self.dialogue_id = dialogue_id
        self.expected_version = expected
        self.current_version = current
        self.attempted = attempted
        super().__init__(
            f"dialogue {dialogue_id} was changed by someone else (you edited version {expected}, "
            f"it is now at version {current}); your text was not saved and is kept for you"
        )


class StorageError(CurationError):
    pass


class ExportError(CurationError):
    pass
