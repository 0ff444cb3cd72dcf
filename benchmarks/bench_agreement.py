"""The agreement of a large rating campaign, as a lead asks for it, against the bare statistics.

Builds a campaign of N ExTES dialogues rated 0-3 on five aspects by three of six raters each, in
a fresh SQLite database (setup not timed; the ratings are stored in bulk through the
repository), then times ``services.quality.campaign_agreement``: reading every rating, Fleiss'
kappa and ordinal Krippendorff's alpha per aspect, and each rater against the rest. The
baseline, measured in the same run, is statsmodels' ``fleiss_kappa`` and ``krippendorff.alpha``
called directly on ready-made arrays of the same ratings (per aspect), with no database and no
rater-against-the-rest step; the ratio says what the use case costs on top.

Run: ``.venv/bin/python benchmarks/bench_agreement.py [--items 2000]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import krippendorff
import numpy as np
from statsmodels.stats.inter_rater import fleiss_kappa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation_app.domain import Dialogue, Role, Turn  # noqa: E402
from curation_app.services import quality, users  # noqa: E402
from curation_app.services.context import AppContext  # noqa: E402
from curation_app.services.permissions import Actor, UserRole  # noqa: E402
from curation_app.services.projects import create_project  # noqa: E402
from curation_app.store import migrate  # noqa: E402

LEAD = Actor("lead", UserRole.LEAD)
RATERS = [f"rater{i}" for i in range(6)]
ASPECTS = ("informativeness", "understanding", "helpfulness", "consistency", "coherence")


def setup(ctx: AppContext, n: int, rng: np.random.Generator) -> int:
    create_project(ctx.uow(), LEAD, "bench", "extes")
    for name in RATERS:
        users.add_user(ctx, LEAD, name, "annotator", "long enough password")
    with ctx.uow() as uow:
        uow.repo.add_dialogues(uow.repo.get_project("bench"), [
            Dialogue(turns=[Turn(Role.SEEKER, f"worry {i}"),
                            Turn(Role.SUPPORTER, f"reply {i}", ["Others"])], topic="Work Stress")
            for i in range(n)], author="model")
        uow.commit()
    campaign = quality.create_campaign(ctx, LEAD, "bench", "c", "extes", RATERS,
                                       [quality.SampleSpec("random", n=n)], overlap=3)
    truth = rng.integers(0, 4, size=n)
    with ctx.uow() as uow:
        for item_id, rater in uow.quality.assignments(campaign.id):
            noise = rng.choice([-1, 0, 0, 0, 1], size=len(ASPECTS))
            scores = {a: int(np.clip(truth[item_id % n] + d, 0, 3))
                      for a, d in zip(ASPECTS, noise, strict=True)}
            uow.quality.save_rating(campaign.id, item_id, rater, scores, None)
        uow.commit()
    return campaign.id


def baseline(ctx: AppContext, campaign_id: int) -> float:
    """The bare statistics on arrays built beforehand (building them is not timed)."""
    with ctx.uow() as uow:
        ratings = uow.quality.ratings(campaign_id)
    items = sorted({r.item_id for r in ratings})
    col = {i: j for j, i in enumerate(items)}
    tables, matrices = [], []
    for aspect in ASPECTS:
        table = np.zeros((len(items), 4))
        matrix = np.full((len(RATERS), len(items)), np.nan)
        for r in ratings:
            table[col[r.item_id], r.scores[aspect]] += 1
            matrix[RATERS.index(r.rater), col[r.item_id]] = r.scores[aspect]
        tables.append(table)
        matrices.append(matrix)
    started = time.perf_counter()
    for table, matrix in zip(tables, matrices, strict=True):
        fleiss_kappa(table)
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal",
                           value_domain=[0, 1, 2, 3])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as folder:
        ctx = AppContext.from_url(f"sqlite:///{Path(folder) / 'bench.db'}")
        migrate(ctx.engine)
        campaign_id = setup(ctx, args.items, rng)
        bare = baseline(ctx, campaign_id)
        started = time.perf_counter()
        result = quality.campaign_agreement(ctx, LEAD, campaign_id)
        seconds = time.perf_counter() - started
        # Peak memory in a second call: tracemalloc slows Python down too much to time under it.
        tracemalloc.start()
        quality.campaign_agreement(ctx, LEAD, campaign_id)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        ctx.close()
    print(f"campaign of {args.items} items x 3 raters x {len(ASPECTS)} aspects "
          f"({args.items * 3} ratings, SQLite)")
    for a in result.aspects:
        print(f"  {a.aspect:16s} mean {a.mean:.2f}  Fleiss {a.fleiss.kappa}  alpha {a.alpha}")
    print(f"campaign_agreement: {seconds:.2f} s, peak {peak / 2**20:.1f} MiB (Python heap)")
    print(f"baseline (statsmodels + krippendorff on ready arrays, same run): {bare:.2f} s; "
          f"ratio {seconds / bare:.1f}x")


if __name__ == "__main__":
    main()
