"""Statistics of a binary glTF 2.0 (GLB) file, in pure Python.

Only the standard library is used (struct + json): the plugin reports what it
wrote without depending on a mesh library. ``stats_from_glb`` reads the JSON
chunk for counts and the POSITION accessors' min/max for the bounding box; it
reads vertex data from the BIN chunk only when a node's world transform
rotates or shears (then transformed corners would over-estimate the box) or
when an accessor lacks min/max.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Iterator

GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_FLOAT = 5126  # componentType of 32-bit float accessors.

_MODE_TRIANGLES = 4
_MODE_TRIANGLE_STRIP = 5
_MODE_TRIANGLE_FAN = 6

Matrix = list[float]  # 4x4, column-major like glTF.
_IDENTITY: Matrix = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]


class GLBError(ValueError):
    """The bytes are not a GLB file this module can read."""


@dataclass
class GLBStats:
    """What a GLB file holds.

    triangles counts every triangle drawn by the default scene, so a mesh
    instanced by two nodes counts twice; meshes and materials count the
    definitions in the file. bbox_min/bbox_max are the world-space
    axis-aligned bounds of the scene (empty lists if it draws nothing).
    """

    meshes: int = 0
    triangles: int = 0
    materials: int = 0
    bbox_min: list[float] = field(default_factory=list)
    bbox_max: list[float] = field(default_factory=list)

    @property
    def extents(self) -> list[float]:
        """bbox_max - bbox_min per axis (empty if there is no box)."""
        return [hi - lo for lo, hi in zip(self.bbox_min, self.bbox_max)]


def read_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a GLB into its parsed JSON document and its BIN chunk (b"" if none).

    Raises GLBError if the header, version, length or chunks are wrong.
    """
    if len(data) < 20:
        raise GLBError(f"file too short for a GLB ({len(data)} bytes)")
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != GLB_MAGIC:
        raise GLBError(f"bad magic {magic!r}, want {GLB_MAGIC!r}")
    if version != 2:
        raise GLBError(f"GLB version {version}, want 2")
    if length > len(data):
        raise GLBError(f"header says {length} bytes, file has {len(data)}")
    doc: dict[str, Any] | None = None
    binary = b""
    offset = 12
    while offset + 8 <= length:
        chunk_len, chunk_type = struct.unpack_from("<II", data, offset)
        start, end = offset + 8, offset + 8 + chunk_len
        if end > length:
            raise GLBError("chunk runs past the end of the file")
        if chunk_type == _CHUNK_JSON and doc is None:
            try:
                doc = json.loads(data[start:end].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise GLBError(f"JSON chunk: {err}") from err
        elif chunk_type == _CHUNK_BIN and not binary:
            binary = data[start:end]
        offset = end
    if not isinstance(doc, dict):
        raise GLBError("no JSON chunk")
    return doc, binary


def stats_from_glb(data: bytes) -> GLBStats:
    """Count meshes, triangles and materials and compute the world bounding box.

    Raises GLBError if data is not a readable GLB.
    """
    doc, binary = read_glb(data)
    try:
        return _stats(doc, binary)
    except (KeyError, IndexError, TypeError, ValueError, struct.error) as err:
        if isinstance(err, GLBError):
            raise
        raise GLBError(f"malformed glTF document: {err!r}") from err


def stats_from_file(path: str) -> GLBStats:
    """stats_from_glb on the contents of path."""
    with open(path, "rb") as f:
        return stats_from_glb(f.read())


def _stats(doc: dict[str, Any], binary: bytes) -> GLBStats:
    meshes = doc.get("meshes", [])
    accessors = doc.get("accessors", [])
    stats = GLBStats(meshes=len(meshes), materials=len(doc.get("materials", [])))
    lo = [math.inf] * 3
    hi = [-math.inf] * 3
    for mesh_index, world in _mesh_instances(doc):
        for prim in meshes[mesh_index].get("primitives", []):
            stats.triangles += _triangles(prim, accessors)
            pos = prim.get("attributes", {}).get("POSITION")
            if pos is None:
                continue
            for x, y, z in _world_points(doc, binary, accessors[pos], world):
                lo[0], lo[1], lo[2] = min(lo[0], x), min(lo[1], y), min(lo[2], z)
                hi[0], hi[1], hi[2] = max(hi[0], x), max(hi[1], y), max(hi[2], z)
    if lo[0] <= hi[0]:
        stats.bbox_min, stats.bbox_max = lo, hi
    return stats


def _triangles(prim: dict[str, Any], accessors: list[dict[str, Any]]) -> int:
    if "indices" in prim:
        count = accessors[prim["indices"]]["count"]
    elif "POSITION" in prim.get("attributes", {}):
        count = accessors[prim["attributes"]["POSITION"]]["count"]
    else:
        return 0
    mode = prim.get("mode", _MODE_TRIANGLES)
    if mode == _MODE_TRIANGLES:
        return count // 3
    if mode in (_MODE_TRIANGLE_STRIP, _MODE_TRIANGLE_FAN):
        return max(count - 2, 0)
    return 0  # points and lines draw no triangles


def _mesh_instances(doc: dict[str, Any]) -> Iterator[tuple[int, Matrix]]:
    """Yield (mesh index, world matrix) for every mesh the default scene draws."""
    nodes = doc.get("nodes", [])
    scenes = doc.get("scenes", [])
    if scenes:
        roots = scenes[doc.get("scene", 0)].get("nodes", [])
    else:  # no scene: every node that is nobody's child is a root
        children = {c for n in nodes for c in n.get("children", [])}
        roots = [i for i in range(len(nodes)) if i not in children]
    stack: list[tuple[int, Matrix, int]] = [(r, _IDENTITY, 0) for r in roots]
    while stack:
        index, parent, depth = stack.pop()
        if depth > len(nodes):
            raise GLBError("node hierarchy has a cycle")
        node = nodes[index]
        world = _mul(parent, _local_matrix(node))
        if "mesh" in node:
            yield node["mesh"], world
        stack.extend((c, world, depth + 1) for c in node.get("children", []))


def _local_matrix(node: dict[str, Any]) -> Matrix:
    if "matrix" in node:
        m = [float(v) for v in node["matrix"]]
        if len(m) != 16:
            raise GLBError("node matrix must have 16 numbers")
        return m
    tx, ty, tz = node.get("translation", (0.0, 0.0, 0.0))
    qx, qy, qz, qw = node.get("rotation", (0.0, 0.0, 0.0, 1.0))
    sx, sy, sz = node.get("scale", (1.0, 1.0, 1.0))
    # Column-major T * R * S.
    r00 = 1 - 2 * (qy * qy + qz * qz)
    r01 = 2 * (qx * qy - qz * qw)
    r02 = 2 * (qx * qz + qy * qw)
    r10 = 2 * (qx * qy + qz * qw)
    r11 = 1 - 2 * (qx * qx + qz * qz)
    r12 = 2 * (qy * qz - qx * qw)
    r20 = 2 * (qx * qz - qy * qw)
    r21 = 2 * (qy * qz + qx * qw)
    r22 = 1 - 2 * (qx * qx + qy * qy)
    return [
        r00 * sx, r10 * sx, r20 * sx, 0.0,
        r01 * sy, r11 * sy, r21 * sy, 0.0,
        r02 * sz, r12 * sz, r22 * sz, 0.0,
        tx, ty, tz, 1.0,
    ]  # fmt: skip


def _mul(a: Matrix, b: Matrix) -> Matrix:
    """a @ b for column-major 4x4 matrices."""
    return [sum(a[k * 4 + row] * b[col * 4 + k] for k in range(4)) for col in range(4) for row in range(4)]


def _apply(m: Matrix, x: float, y: float, z: float) -> tuple[float, float, float]:
    return (
        m[0] * x + m[4] * y + m[8] * z + m[12],
        m[1] * x + m[5] * y + m[9] * z + m[13],
        m[2] * x + m[6] * y + m[10] * z + m[14],
    )


def _axis_aligned(m: Matrix) -> bool:
    """True if m only scales and translates, so box corners map to box corners."""
    return all(m[i] == 0.0 for i in (1, 2, 4, 6, 8, 9))


def _world_points(
    doc: dict[str, Any], binary: bytes, accessor: dict[str, Any], world: Matrix
) -> Iterator[tuple[float, float, float]]:
    """Points whose world-space AABB is the accessor's world-space AABB."""
    lo, hi = accessor.get("min"), accessor.get("max")
    if lo is not None and hi is not None and _axis_aligned(world):
        for x in (lo[0], hi[0]):
            for y in (lo[1], hi[1]):
                for z in (lo[2], hi[2]):
                    yield _apply(world, x, y, z)
        return
    for x, y, z in _positions(doc, binary, accessor):
        yield _apply(world, x, y, z)


def _positions(doc: dict[str, Any], binary: bytes, accessor: dict[str, Any]) -> Iterator[tuple[float, ...]]:
    if accessor.get("type") != "VEC3" or accessor.get("componentType") != _FLOAT:
        raise GLBError("POSITION accessor must be float32 VEC3")
    if "bufferView" not in accessor:
        return  # all zeros by the spec, and no sparse support needed here
    view = doc["bufferViews"][accessor["bufferView"]]
    if view.get("buffer", 0) != 0:
        raise GLBError("POSITION data outside the GLB BIN chunk is not supported")
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    stride = view.get("byteStride", 12)
    count = accessor["count"]
    if count and start + stride * (count - 1) + 12 > len(binary):
        raise GLBError("POSITION data runs past the BIN chunk")
    if stride == 12:
        yield from struct.iter_unpack("<3f", binary[start : start + 12 * count])
    else:
        for i in range(count):
            yield struct.unpack_from("<3f", binary, start + i * stride)
