"""Reference values for the sequential sample-ratio test (Lindon & Malek 2022).

They come from Optimizely's own implementation, ssrm
(https://github.com/optimizely/ssrm, commit c44f538, ssrm_test/ssrm_test.py),
run from a checkout with numpy and scipy:

    PYTHONPATH=path/to/ssrm python3 test/stats-reference/ssrm_reference.py

ssrm takes per-look increments; weir reads cumulative counts, so the inputs
below are written cumulatively and differenced here. Nothing here runs in
`make test`; the tests embed these numbers next to the same inputs.
"""
import json

import numpy as np
from ssrm_test.ssrm_test import sequential_p_values


def increments(cumulative):
    out, prev = [], [0] * len(cumulative[0])
    for row in cumulative:
        out.append([a - b for a, b in zip(row, prev)])
        prev = row
    return np.array(out)


cases = {
    "drift_90_10": ([[900, 100], [1790, 210], [2640, 360], [3500, 500]], [0.9, 0.1]),
    "canary_12pct": ([[8800, 1200]], [0.9, 0.1]),
    "healthy_90_10": ([[9040, 960]], [0.9, 0.1]),
    "three_way": ([[410, 390, 200], [830, 760, 410], [1290, 1110, 600]], [0.4, 0.4, 0.2]),
    "baseline_50_50": ([[4600, 5400]], [0.5, 0.5]),
}
print(json.dumps({name: [float(p) for p in sequential_p_values(increments(c), p0)] for name, (c, p0) in cases.items()},
                 indent=1))
