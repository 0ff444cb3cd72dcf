"""The training script's own errors. It imports nothing of the app's ``errors`` module so that
it stays a separate room; the CLI turns these into one plain line and exit code 2."""

from __future__ import annotations


class TrainingError(Exception):
    """Root of every error the training script raises on purpose."""


class ReleaseError(TrainingError):
    """A release folder that is missing, changed since it was built, or off the contract."""


class TrainingSetupError(TrainingError):
    """Options or a model that cannot be used (no checkpoint to resume, 4-bit without a GPU)."""
