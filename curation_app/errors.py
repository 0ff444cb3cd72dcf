"""The exceptions this package raises, all rooted at :class:`CurationError`.

::

    CurationError
    ├── NotFoundError            a project, dialogue or user that does not exist
    ├── AlreadyExistsError       a name that is taken
    ├── PermissionDeniedError    the acting user's role does not allow the action
    ├── AuthenticationError      wrong user name or password, or an expired sign-in
    ├── InvalidInputError        input that cannot be read at all (not JSON, not UTF-8, truncated)
    │   └── ImportRefusedError   records that failed validation; carries every RecordProblem
    ├── UnknownLabelError        a topic/emotion/strategy the project's vocabulary lacks
    ├── ConflictError            a save against a stale version; carries the losing text
    ├── StorageError             the database refused or is unreachable
    ├── ExportError              an export that could not be written (target exists, invalid output)
    ├── BudgetError              a budget that cannot be enforced (model without a price)
    └── GenerationError          a draft could not be made; ``retryable`` says if later may help
        ├── RateLimitedError         the model server said 429 (too many requests, quota used up)
        ├── GenerationTimeoutError   no answer within the timeout
        ├── ModelServerError         the server failed (5xx), was unreachable, or refused the call
        └── ModelOutputError         the reply is unusable: not JSON, off-schema, cut off, refused

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


class AuthenticationError(CurationError):
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

    def __init__(self, dialogue_id: int, expected: int, current: int, attempted: Any = None,
                 reason: str | None = None):
        self.dialogue_id = dialogue_id
        self.expected_version = expected
        self.current_version = current
        self.attempted = attempted
        super().__init__(reason or (
            f"dialogue {dialogue_id} was changed by someone else (you edited version {expected}, "
            f"it is now at version {current}); your text was not saved and is kept for you"
        ))


class StorageError(CurationError):
    pass


class ExportError(CurationError):
    pass


class BudgetError(CurationError):
    """A budget was asked for but cannot be enforced (the model has no price)."""


class GenerationError(CurationError):
    """A draft could not be generated.

    ``retryable`` tells a batch job whether the same request may succeed later (a 503 may, a
    wrong API key will not); ``retry_after`` is the wait in seconds the server asked for, if any.
    Messages never contain the API key.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ):
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


class RateLimitedError(GenerationError):
    retryable = True


class GenerationTimeoutError(GenerationError):
    retryable = True


class ModelServerError(GenerationError):
    retryable = True


class ModelOutputError(GenerationError):
    """The model answered, but the answer cannot become a draft.

    ``field`` is where in the reply the problem is (``turns[3].strategies[0]``), when known.
    """

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.field = field


class BudgetReachedError(GenerationError):
    """A call was not sent: its worst-case cost would pass the job's budget."""

    retryable = False
class ReleaseBlockedError(CurationError):
    """A release refused because error-level check findings remain on dialogues it would
    ship; ``findings`` lists them (rule, dialogue, message)."""

    def __init__(self, message: str, findings: list | None = None):
        super().__init__(message)
        self.findings = list(findings or [])
class SelectionChangedError(ReleaseBlockedError):
    """A release not written because dialogues it was about to ship changed (or went) while
    it was built: its checks and figures were made from the text before. ``dialogue_ids``
    lists them; building again takes the new text."""

    def __init__(self, message: str, dialogue_ids: list[int]):
        super().__init__(message)
        self.dialogue_ids = list(dialogue_ids)


class ConfirmationNeededError(InvalidInputError):
    """A save that would throw away text (empty turns that had text, or remove most of a
    dialogue): refused unless the caller confirms. ``emptied`` and ``removed`` are 0-based turn
    indexes of the stored dialogue; ``kept``/``total`` count its non-empty turns."""

    def __init__(self, message: str, *, emptied: list[int], removed: list[int], kept: int,
                 total: int):
        super().__init__(message)
        self.emptied = emptied
        self.removed = removed
        self.kept = kept
        self.total = total


class BlockingFindingsError(InvalidInputError):
    """Submit or approve refused: the dialogue has error-level check findings (``findings``
    holds :class:`curation_app.checks.findings.Finding` objects)."""

    def __init__(self, message: str, findings: list[Any]):
        super().__init__(message)
        self.findings = findings
