"""The pure-Python GLB statistics parser."""

from __future__ import annotations

import json
import math
import struct

import cascadio
import pytest

from conftest import cad
from partflow_cascadio import glb


def make_glb(doc: dict, binary: bytes = b"", version: int = 2) -> bytes:
    """A GLB container around doc and binary, padded as the spec requires."""
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js
    if binary:
        body += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<4sII", b"glTF", version, 12 + len(body)) + body


def cube_doc(nodes: list[dict], scene_roots: list[int], with_minmax: bool = True) -> tuple[dict, bytes]:
    """A glTF document with one unit-cube mesh (8 vertices, 12 triangles) at [0,1]^3."""
    verts = [(x, y, z) for x in (0.0, 1.0) for y in (0.0, 1.0) for z in (0.0, 1.0)]
    binary = b"".join(struct.pack("<3f", *v) for v in verts)
    position = {"bufferView": 0, "componentType": 5126, "count": 8, "type": "VEC3"}
    if with_minmax:
        position.update(min=[0.0, 0.0, 0.0], max=[1.0, 1.0, 1.0])
    doc = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(binary)}],
        "accessors": [position, {"componentType": 5125, "count": 36, "type": "SCALAR"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "mode": 4}]}],
        "materials": [{}, {}],
        "nodes": nodes,
        "scenes": [{"nodes": scene_roots}],
        "scene": 0,
    }
    return doc, binary


def approx_list(values, tol=1e-6):
    return pytest.approx(values, abs=tol)


class TestCascadioOutput:
    """Stats of GLB files cascadio itself wrote, checked against the file's JSON."""

    def test_featuretype_counts_match_the_document(self, tmp_path):
        out = tmp_path / "f.glb"
        assert cascadio.step_to_glb(cad("featuretype_ap214.step"), str(out)) == 0
        data = out.read_bytes()
        doc, binary = glb.read_glb(data)
        stats = glb.stats_from_glb(data)

        prims = [p for m in doc["meshes"] for p in m["primitives"]]
        want_triangles = sum(doc["accessors"][p["indices"]]["count"] // 3 for p in prims)
        assert stats.meshes == len(doc["meshes"]) == 1
        assert stats.materials == len(doc["materials"]) == 1
        assert stats.triangles == want_triangles > 0
        assert len(binary) > 0
        # One untransformed node: the box is the POSITION accessor's min/max.
        pos = doc["accessors"][prims[0]["attributes"]["POSITION"]]
        assert stats.bbox_min == approx_list(pos["min"])
        assert stats.bbox_max == approx_list(pos["max"])
        assert stats.extents == pytest.approx([0.127, 0.0635, 0.034925], abs=1e-3)

    def test_assembly_hierarchy_is_walked(self, tmp_path):
        # FreeCAD wraps the screw in a one-component assembly: the mesh hangs
        # off a child node, so the box is only found by walking the hierarchy.
        out = tmp_path / "s.glb"
        assert cascadio.step_to_glb(cad("colored_screw_ap214.step"), str(out)) == 0
        doc, _ = glb.read_glb(out.read_bytes())
        root = doc["nodes"][doc["scenes"][0]["nodes"][0]]
        assert "mesh" not in root and root["children"]
        stats = glb.stats_from_file(str(out))
        assert stats.triangles > 0
        assert stats.extents == pytest.approx([0.0076, 0.0076, 0.0162], abs=1e-4)


class TestTransforms:
    """Synthetic documents with known answers for the scene-graph maths."""

    def test_translation_and_scale_move_the_box(self):
        doc, binary = cube_doc([{"mesh": 0, "translation": [10, 20, 30], "scale": [2, 3, 4]}], [0])
        stats = glb.stats_from_glb(make_glb(doc, binary))
        assert stats.bbox_min == approx_list([10, 20, 30])
        assert stats.bbox_max == approx_list([12, 23, 34])

    def test_parent_matrix_applies_to_children(self):
        # Column-major translation by (5, 0, 0) on the parent, (0, 1, 0) on the child.
        parent = {"children": [1], "matrix": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 5, 0, 0, 1]}
        child = {"mesh": 0, "translation": [0, 1, 0]}
        doc, binary = cube_doc([parent, child], [0])
        stats = glb.stats_from_glb(make_glb(doc, binary))
        assert stats.bbox_min == approx_list([5, 1, 0])
        assert stats.bbox_max == approx_list([6, 2, 1])

    @pytest.mark.parametrize("with_minmax", [True, False], ids=["accessor_minmax", "vertices_only"])
    def test_rotation_uses_real_vertices(self, with_minmax):
        # 45 degrees about Z: the rotated unit cube spans x in [-sqrt(.5), sqrt(.5)]
        # and y in [0, sqrt(2)]. A rotation makes the parser read the vertices,
        # so accessor min/max may be present or not.
        s = math.sin(math.pi / 8)
        c = math.cos(math.pi / 8)
        doc, binary = cube_doc([{"mesh": 0, "rotation": [0, 0, s, c]}], [0], with_minmax)
        stats = glb.stats_from_glb(make_glb(doc, binary))
        h = math.sqrt(0.5)
        assert stats.bbox_min == approx_list([-h, 0, 0])
        assert stats.bbox_max == approx_list([h, 2 * h, 1])

    def test_rotation_box_is_tight_not_corner_based(self):
        # A diamond (4 points on the axes) has box [-1,1]^2; rotated 45 degrees
        # its real box is [-sqrt(.5), sqrt(.5)]^2, while rotating the box
        # corners would give [-sqrt(2), sqrt(2)]^2.
        pts = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)]
        binary = b"".join(struct.pack("<3f", *p) for p in pts)
        s, c = math.sin(math.pi / 8), math.cos(math.pi / 8)
        doc = {
            "asset": {"version": "2.0"},
            "buffers": [{"byteLength": len(binary)}],
            "bufferViews": [{"buffer": 0, "byteLength": len(binary)}],
            "accessors": [
                {"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3",
                 "min": [-1, -1, 0], "max": [1, 1, 0]},
            ],  # fmt: skip
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": 5}]}],
            "nodes": [{"mesh": 0, "rotation": [0, 0, s, c]}],
            "scenes": [{"nodes": [0]}],
        }
        stats = glb.stats_from_glb(make_glb(doc, binary))
        h = math.sqrt(0.5)
        assert stats.bbox_min == approx_list([-h, -h, 0])
        assert stats.bbox_max == approx_list([h, h, 0])
        assert stats.triangles == 2  # a 4-vertex strip draws 2 triangles

    def test_instanced_mesh_counts_triangles_per_instance(self):
        doc, binary = cube_doc([{"mesh": 0}, {"mesh": 0, "translation": [3, 0, 0]}], [0, 1])
        stats = glb.stats_from_glb(make_glb(doc, binary))
        assert (stats.meshes, stats.triangles, stats.materials) == (1, 24, 2)
        assert stats.bbox_min == approx_list([0, 0, 0])
        assert stats.bbox_max == approx_list([4, 1, 1])

    def test_nodes_outside_the_scene_are_ignored(self):
        doc, binary = cube_doc([{"mesh": 0}, {"mesh": 0, "translation": [100, 0, 0]}], [0])
        stats = glb.stats_from_glb(make_glb(doc, binary))
        assert stats.triangles == 12
        assert stats.bbox_max == approx_list([1, 1, 1])

    def test_empty_scene_has_no_box(self):
        doc, binary = cube_doc([], [])
        stats = glb.stats_from_glb(make_glb(doc, binary))
        assert (stats.triangles, stats.bbox_min, stats.bbox_max) == (0, [], [])


class TestBadInput:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "too short"),
            (b"GLTF" + b"\0" * 20, "bad magic"),
            (make_glb({"asset": {}}, version=1), "version 1"),
            (make_glb({"asset": {}})[:-4], "header says"),
            (struct.pack("<4sII", b"glTF", 2, 20) + struct.pack("<II", 0, 0x004E4942), "no JSON chunk"),
            (make_glb({"nodes": [{"children": [0]}], "scenes": [{"nodes": [0]}]}), "cycle"),
            (make_glb({"meshes": [{"primitives": [{"attributes": {"POSITION": 3}}]}],
                       "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}]}), "malformed"),
        ],  # fmt: skip
        ids=["empty", "bad_magic", "version_1", "truncated", "no_json", "node_cycle", "dangling_accessor"],
    )
    def test_rejected_with_glb_error(self, data, message):
        with pytest.raises(glb.GLBError, match=message):
            glb.stats_from_glb(data)
