"""Partflow converter plugin wrapping cascadio (STEP/IGES -> GLB).

Run it as ``python -m partflow_cascadio`` (or the ``partflow-cascadio``
console script) from a hashicorp/go-plugin host; see server.py for the
protocol, converter.py for the conversion and glb.py for the GLB statistics.
"""

__version__ = "0.1.0"
