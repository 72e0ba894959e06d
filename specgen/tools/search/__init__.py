"""Architecture search over the space a spec declares.

    space = specgen.space("examples/shufflenet_search.conv")
    space.size, space.sample(10, seed=0), list(space.grid())
    net = space.evaluate({"g": 4})              # a Network, or the SpecError (never raised)
    result = space.optimize(lambda net: net.cost.macs, n_trials=100)    # Optuna
    result.candidates, result.front, result.counts, result.study

The space API (`size`, `sample`, `grid`, `evaluate`, `run` without a sampler) needs nothing
beyond the core; `optimize` and `run(sampler=...)` need Optuna (`pip install specgen[search]`),
imported only then.  Every candidate is compiled by the same `specgen.compile`, so its costs
are exactly those `specgen cost` reports for the same point.

The modules: `spaces` (the space and its runs), `candidates` (evaluated points, the Pareto
front), `objectives` (objectives, extra constraints, the values an objective returns),
`study` (Optuna: distributions, samplers, studies), `results` (what an objective receives
and `optimize` returns), `ledger` (the architectures evaluated, shared by the workers of a
study), `signature` (what makes a resumed study the same search), `storage` (opening a storage, masking its password), `table` (the text
report) and `errors`.
"""

from .candidates import Candidate, best, pareto_front
from .errors import SearchError, StorageError
from .objectives import Objective, ObjectiveValueError, objective_values
from .results import Evaluated, SearchResult, SearchTrial
from .spaces import Space, space
from .storage import masked_url
from .study import GRID_LIMIT, MAX_SEED, SAMPLERS
from .table import render_table

__all__ = [
    "GRID_LIMIT",
    "MAX_SEED",
    "SAMPLERS",
    "Candidate",
    "Evaluated",
    "Objective",
    "ObjectiveValueError",
    "SearchError",
    "SearchResult",
    "SearchTrial",
    "Space",
    "StorageError",
    "best",
    "masked_url",
    "objective_values",
    "pareto_front",
    "render_table",
    "space",
]
