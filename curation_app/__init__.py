"""Human-in-the-loop curation of emotional-support dialogue datasets."""

__version__ = "0.1.0"
