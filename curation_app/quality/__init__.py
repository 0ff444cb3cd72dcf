"""Quality evaluation: rating protocols, agreement statistics, group comparisons, the LLM judge.

Pure computation and the judge's model protocol; campaigns, ratings and their storage are the
services' (``services/quality.py``) and the repository's (``store/quality_repository.py``).
"""
