"""Writes src/sensitivity/new-joe-kuo-6.1024.txt: the first 1024 dimensions of Joe and Kuo's
direction numbers new-joe-kuo-6.21201 (search criterion 6), in their own text format
`d s a m_1 ... m_s` (dimension 1, the van der Corput sequence, has no line).

The numbers are read from the copy SciPy ships (scipy/stats/_sobol_direction_numbers.npz,
`poly` = the primitive polynomial with its leading and trailing 1 bits, `vinit` = m_1 … m_s),
so no download is needed:  python3 scripts/extract_joe_kuo.py  (needs numpy and scipy).
"""

import os
import sys

import numpy as np
import scipy.stats

DIMS = 1024

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "src", "sensitivity", "new-joe-kuo-6.1024.txt")
z = np.load(os.path.join(os.path.dirname(scipy.stats.__file__), "_sobol_direction_numbers.npz"))
poly, vinit = z["poly"], z["vinit"]
lines = ["d s a m_i"]
for j in range(1, DIMS):
    p = int(poly[j])
    s = p.bit_length() - 1
    a = (p >> 1) & ((1 << (s - 1)) - 1)
    m = [int(x) for x in vinit[j, :s]]
    lines.append(" ".join(str(x) for x in [j + 1, s, a] + m))
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"wrote {DIMS - 1} dimensions to {out}", file=sys.stderr)
