"""Keep a conversion within the host's output bounds (max_triangles).

A tiny STEP file can ask for an enormous mesh: cascadio meshes with an
absolute linear tolerance (chordal deviation, in millimetres once OCCT has
read the file), so a part drawn in kilometres, or any part at a tolerance
far below its size, grows to billions of triangles and gigabytes of memory
before anything can stop it (cascadio holds the GIL and has no triangle
limit). So before meshing we estimate the mesh from the file's extent:
a curved surface of size L meshed at deviation d needs about pi * L / d
triangles (a sphere of radius R: 4 pi R^2 over triangles of area 4 R d).
When the estimate exceeds the bound we coarsen the linear tolerance until
it fits; the count is checked again after meshing (OUT_OF_RANGE if still
over), and the host's address-space limit is the last line.
"""

from __future__ import annotations

import math
import re

#: Millimetres per unit, by the SI prefix of SI_UNIT(prefix, .METRE.).
_SI_PREFIX_MM = {"$": 1000.0, ".KILO.": 1e6, ".DECI.": 100.0, ".CENTI.": 10.0, ".MILLI.": 1.0, ".MICRO.": 1e-3}
#: Millimetres per unit of common CONVERSION_BASED_UNITs.
_NAMED_UNIT_MM = {"INCH": 25.4, "FOOT": 304.8, "METRE": 1000.0, "MILLIMETRE": 1.0, "CENTIMETRE": 10.0}

_SI_LENGTH = re.compile(r"LENGTH_UNIT\s*\(\s*\)[^;]*?SI_UNIT\s*\(\s*(\$|\.[A-Z]+\.)\s*,\s*\.METRE\.\s*\)|"
                        r"SI_UNIT\s*\(\s*(\$|\.[A-Z]+\.)\s*,\s*\.METRE\.\s*\)[^;]*?LENGTH_UNIT")
_NAMED_LENGTH = re.compile(r"CONVERSION_BASED_UNIT\s*\(\s*'([A-Za-z]+)'[^;]*?LENGTH_UNIT")
_POINT = re.compile(r"CARTESIAN_POINT\s*\(\s*'[^']*'\s*,\s*\(([^)]*)\)")


def millimetres_per_unit(text: str) -> float:
    """The file's length unit in millimetres (1 when it cannot be told)."""
    named = _NAMED_LENGTH.search(text)
    if named and named.group(1).upper() in _NAMED_UNIT_MM:
        return _NAMED_UNIT_MM[named.group(1).upper()]
    si = _SI_LENGTH.search(text)
    if si:
        return _SI_PREFIX_MM.get(si.group(1) or si.group(2), 1.0)
    return 1.0


def extent_mm(text: str) -> float:
    """The largest side of the box around the file's points, in millimetres."""
    lo = [math.inf] * 3
    hi = [-math.inf] * 3
    for match in _POINT.finditer(text):
        try:
            coords = [float(c) for c in match.group(1).split(",")[:3]]
        except ValueError:
            continue
        for i, c in enumerate(coords):
            lo[i], hi[i] = min(lo[i], c), max(hi[i], c)
    sides = [h - l for l, h in zip(lo, hi) if h >= l]
    if not sides:
        return 0.0
    return max(sides) * millimetres_per_unit(text)


def estimated_triangles(extent: float, tol_linear: float) -> float:
    """About how many triangles one surface the size of extent needs."""
    return math.pi * extent / tol_linear


def bounded_tolerance(text: str, tol_linear: float, max_triangles: int) -> tuple[float, float]:
    """The linear tolerance to mesh with so the estimate stays within
    max_triangles, and the estimate at the requested tolerance."""
    extent = extent_mm(text)
    estimate = estimated_triangles(extent, tol_linear)
    if estimate <= max_triangles:
        return tol_linear, estimate
    return math.pi * extent / max_triangles, estimate
