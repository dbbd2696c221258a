"""Converter.convert on the shared CAD samples, in this process."""

from __future__ import annotations

import os
import struct

import cascadio
import grpc
import pytest

from conftest import BAD_STEP, BOX_EXTENTS, TESTDATA, cad, fixture, step_samples
from partflow_cascadio import __version__, glb
from partflow_cascadio.converter import ConvertError, Options


def srgb_to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def convert(converter, tmp_path, name, src="step", dst="glb", options=None, path=None, out_name=None):
    out = tmp_path / (out_name or name + ".glb")
    result = converter.convert(path or cad(name), str(out), src, dst, options)
    return result, out


@pytest.mark.parametrize("name", [n for n in step_samples() if n not in BAD_STEP])
def test_valid_step_gives_glb_with_triangles(converter, tmp_path, name):
    result, out = convert(converter, tmp_path, name)
    data = out.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    assert result.output_bytes == len(data)
    assert result.stats.triangles > 0
    assert result.stats.meshes >= 1
    assert len(result.stats.bbox_min) == len(result.stats.bbox_max) == 3
    assert all(e > 0 for e in result.stats.extents)
    assert result.duration_ms > 0
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".partial")]


@pytest.mark.parametrize(("name", "reason"), sorted(BAD_STEP.items()))
def test_unreadable_step_is_invalid_argument_and_next_conversion_works(converter, tmp_path, name, reason):
    out = tmp_path / "bad.glb"
    with pytest.raises(ConvertError) as exc:
        converter.convert(cad(name), str(out), "step", "glb")
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "cascadio could not read the STEP file" in exc.value.message
    assert reason in exc.value.message
    assert os.listdir(tmp_path) == [], "a failed conversion must leave no output or temp file"

    result, out = convert(converter, tmp_path, "box", path=fixture("box.step"))
    assert result.stats.triangles > 0


def test_project_box_converts_in_metres(converter, tmp_path):
    result, out = convert(converter, tmp_path, "box", path=fixture("box.step"))
    assert result.stats.extents == pytest.approx(BOX_EXTENTS, abs=1e-6)
    assert result.stats.bbox_min == pytest.approx([0, 0, 0], abs=1e-6)
    assert (result.stats.meshes, result.stats.materials, result.stats.triangles) == (1, 0, 12)
    assert out.read_bytes()[:4] == b"glTF"


def test_truncated_project_box_is_invalid_argument(converter, tmp_path):
    src = tmp_path / "half.step"
    data = open(fixture("box.step"), "rb").read()
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConvertError) as exc:
        converter.convert(str(src), str(tmp_path / "half.glb"), "step", "glb")
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "truncated" in exc.value.message


def test_featuretype_is_in_metres(converter, tmp_path):
    result, _ = convert(converter, tmp_path, "featuretype_ap214.step")
    assert result.stats.extents == pytest.approx([0.127, 0.0635, 0.034925], abs=1e-3)
    assert (result.stats.meshes, result.stats.materials) == (1, 1)


def test_red_cube_blue_cylinder_keeps_two_colours(converter, tmp_path):
    result, out = convert(converter, tmp_path, "red_cube_blue_cylinder.step")
    assert (result.stats.meshes, result.stats.materials) == (2, 2)
    doc, _ = glb.read_glb(out.read_bytes())
    colours = sorted(tuple(m["pbrMetallicRoughness"]["baseColorFactor"][:3]) for m in doc["materials"])
    # STEP colours are sRGB; glTF base colours are linear.
    blue = tuple(srgb_to_linear(c) for c in (0.231, 0.380, 0.706))
    red = tuple(srgb_to_linear(c) for c in (0.867, 0.322, 0.157))
    assert colours[0] == pytest.approx(blue, abs=2e-3)
    assert colours[1] == pytest.approx(red, abs=2e-3)


def test_colored_screw_has_one_surface_colour(converter, tmp_path):
    # The file has two COLOUR_RGBs, but only the light blue one styles
    # surfaces (the dark grey one styles curves), so cascadio 0.1.1 writes a
    # single material, with or without merge_primitives.
    for merge in (True, False):
        result, out = convert(converter, tmp_path, "colored_screw_ap214.step", options=Options(merge_primitives=merge))
        assert result.stats.materials == 1
        doc, _ = glb.read_glb(out.read_bytes())
        base = doc["materials"][0]["pbrMetallicRoughness"]["baseColorFactor"]
        want = [srgb_to_linear(c / 255) for c in (202, 225, 255)]
        assert base[:3] == pytest.approx(want, abs=2e-3)


def test_iges_converts_in_file_units(converter, tmp_path):
    result, _ = convert(converter, tmp_path, "microstrip", src="iges", path=str(TESTDATA / "microstrip.igs"))
    assert result.stats.triangles > 0
    # Unlike STEP, cascadio 0.1.1 does not scale IGES to metres: this board
    # is 50 x 100 x 1.6 mm and comes out as 50 x 100 x 1.6.
    assert result.stats.extents == pytest.approx([50.0, 100.0, 1.6], abs=1e-3)


def test_format_aliases_are_accepted(converter, tmp_path):
    result, _ = convert(converter, tmp_path, "material_ap242.step", src="STP", dst=".GLB")
    assert result.stats.triangles > 0


class TestOptions:
    def test_finer_linear_tolerance_gives_more_triangles(self, converter, tmp_path):
        coarse, _ = convert(converter, tmp_path, "featuretype_ap214.step", options=Options(linear_tolerance=0.1))
        fine, _ = convert(converter, tmp_path, "featuretype_ap214.step", options=Options(linear_tolerance=0.01))
        assert fine.stats.triangles > coarse.stats.triangles

    def test_finer_angular_tolerance_gives_more_triangles(self, converter, tmp_path):
        coarse, _ = convert(converter, tmp_path, "featuretype_ap214.step", options=Options(angular_tolerance=1.0))
        fine, _ = convert(converter, tmp_path, "featuretype_ap214.step", options=Options(angular_tolerance=0.2))
        assert fine.stats.triangles > coarse.stats.triangles

    def test_merge_primitives_false_keeps_one_primitive_per_face(self, converter, tmp_path):
        name = "colored_screw_ap214.step"
        _, merged = convert(converter, tmp_path, name, options=Options(merge_primitives=True), out_name="merged.glb")
        _, split = convert(converter, tmp_path, name, options=Options(merge_primitives=False), out_name="split.glb")

        def primitives(path):
            doc, _ = glb.read_glb(path.read_bytes())
            return sum(len(m["primitives"]) for m in doc["meshes"])

        assert primitives(merged) == 1
        assert primitives(split) > 1

    def test_relative_tolerance_changes_the_mesh(self, converter, tmp_path):
        # With tol_relative the linear tolerance is a fraction of each edge's
        # size rather than 0.01 m, which meshes this part differently.
        absolute, _ = convert(converter, tmp_path, "featuretype_ap214.step", options=Options(relative_tolerance=False))
        relative, _ = convert(converter, tmp_path, "featuretype_ap214.step", options=Options(relative_tolerance=True))
        assert relative.stats.triangles != absolute.stats.triangles


@pytest.mark.parametrize(
    ("src", "dst"),
    [("stl", "glb"), ("step", "obj"), ("step", "step"), ("", "glb"), ("glb", "step")],
    ids=["stl_to_glb", "step_to_obj", "step_to_step", "empty_format", "glb_to_step"],
)
def test_unsupported_conversion_is_unimplemented(converter, tmp_path, src, dst):
    with pytest.raises(ConvertError) as exc:
        converter.convert(fixture("box.step"), str(tmp_path / "x"), src, dst)
    assert exc.value.code == grpc.StatusCode.UNIMPLEMENTED
    assert "step->glb" in exc.value.message


def _bad_requests(tmp_path):
    good = fixture("box.step")
    empty = tmp_path / "empty.step"
    empty.write_bytes(b"")
    not_step = tmp_path / "notes.step"
    not_step.write_text("hello\n")
    out = str(tmp_path / "out.glb")
    return {
        "relative_input": ("shared/material_ap242.step", out, None, "absolute"),
        "relative_output": (good, "out.glb", None, "absolute"),
        "missing_input": (str(tmp_path / "nope.step"), out, None, "does not exist"),
        "directory_input": (str(tmp_path), out, None, "not a regular file"),
        "empty_input": (str(empty), out, None, "empty"),
        "not_a_step_file": (str(not_step), out, None, "not a STEP file"),
        "missing_output_dir": (good, str(tmp_path / "no" / "out.glb"), None, "does not exist"),
        "output_is_directory": (good, str(tmp_path), None, "is a directory"),
        "zero_linear_tolerance": (good, out, Options(linear_tolerance=0.0), "linear_tolerance"),
        "negative_angular_tolerance": (good, out, Options(angular_tolerance=-1.0), "angular_tolerance"),
        "nan_linear_tolerance": (good, out, Options(linear_tolerance=float("nan")), "linear_tolerance"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "relative_input", "relative_output", "missing_input", "directory_input", "empty_input",
        "not_a_step_file", "missing_output_dir", "output_is_directory", "zero_linear_tolerance",
        "negative_angular_tolerance", "nan_linear_tolerance",
    ],
)  # fmt: skip
def test_bad_request_is_invalid_argument(converter, tmp_path, case):
    input_path, output_path, options, message = _bad_requests(tmp_path)[case]
    with pytest.raises(ConvertError) as exc:
        converter.convert(input_path, output_path, "step", "glb", options)
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in exc.value.message
    assert not (tmp_path / "out.glb").exists()


def test_existing_output_is_replaced(converter, tmp_path):
    out = tmp_path / "material_ap242.step.glb"
    out.write_bytes(b"old")
    result, out = convert(converter, tmp_path, "material_ap242.step")
    assert out.read_bytes()[:4] == b"glTF"
    assert result.output_bytes == out.stat().st_size


def test_info_names_conversions_and_versions(converter):
    info = converter.info()
    assert info.name == "cascadio"
    assert info.version == f"{cascadio.__version__}+partflow-{__version__}"
    assert [(c.to, getattr(c, "from")) for c in info.conversions] == [("glb", "step"), ("glb", "iges")]
