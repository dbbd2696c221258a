"""The triangle bound: a tessellation bomb is coarsened, not meshed to gigabytes."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from conftest import cad, fixture
from partflow_cascadio import bounds
from partflow_cascadio.converter import ConvertError, Options


def bomb(tmp_path: Path) -> Path:
    """The 26 KB colored screw drawn in kilometres instead of millimetres: at
    cascadio's default 0.01 mm deviation its mesh would need billions of
    triangles."""
    text = Path(cad("colored_screw_ap214.step")).read_text(encoding="latin-1")
    assert "SI_UNIT(.MILLI.,.METRE.)" in text
    path = tmp_path / "bomb.step"
    path.write_text(text.replace("SI_UNIT(.MILLI.,.METRE.)", "SI_UNIT(.KILO.,.METRE.)"), encoding="latin-1")
    return path


def test_units_and_extent_are_read_from_the_file():
    box = Path(fixture("box.step")).read_text(encoding="latin-1")
    assert bounds.millimetres_per_unit(box) == 1.0
    assert bounds.extent_mm(box) == pytest.approx(20.0)  # a 20 x 10 x 5 mm box
    km = box.replace("SI_UNIT(.MILLI.,.METRE.)", "SI_UNIT(.KILO.,.METRE.)")
    assert bounds.millimetres_per_unit(km) == 1e6
    assert bounds.extent_mm(km) == pytest.approx(2e7)
    inch = box.replace("( LENGTH_UNIT() NAMED_UNIT(*) SI_UNIT(.MILLI.,.METRE.) )",
                       "( CONVERSION_BASED_UNIT('INCH',#99) LENGTH_UNIT() NAMED_UNIT(*) )")
    assert bounds.millimetres_per_unit(inch) == 25.4


def test_tolerance_is_coarsened_only_over_the_bound():
    box = Path(fixture("box.step")).read_text(encoding="latin-1")
    assert bounds.bounded_tolerance(box, 0.01, 5_000_000)[0] == 0.01  # about 6300 estimated
    tol, estimate = bounds.bounded_tolerance(box, 0.0001, 10_000)
    assert estimate > 10_000 and bounds.estimated_triangles(20.0, tol) == pytest.approx(10_000)


def test_a_mesh_over_the_bound_after_all_is_out_of_range(converter, tmp_path):
    # The box needs 12 triangles whatever the tolerance: a bound of 4 cannot be met.
    out = tmp_path / "box.glb"
    with pytest.raises(ConvertError) as err:
        converter.convert(fixture("box.step"), str(out), "step", "glb", Options(max_triangles=4))
    assert err.value.code == grpc.StatusCode.OUT_OF_RANGE
    assert not out.exists()


def test_bomb_is_coarsened_to_the_bound_and_converts_fast(converter, tmp_path):
    out = tmp_path / "bomb.glb"
    start = time.monotonic()
    result = converter.convert(str(bomb(tmp_path)), str(out), "step", "glb", Options(max_triangles=200_000))
    took = time.monotonic() - start
    assert 0 < result.stats.triangles <= 200_000
    assert took < 60, f"took {took:.1f}s"


def test_a_bound_below_the_mesh_is_out_of_range_or_coarsened(converter, tmp_path):
    name = "colored_screw_ap214.step"
    full = converter.convert(cad(name), str(tmp_path / "full.glb"), "step", "glb", Options())
    bound = max(full.stats.triangles // 4, 1)
    try:
        result = converter.convert(cad(name), str(tmp_path / "b.glb"), "step", "glb", Options(max_triangles=bound))
    except ConvertError as err:
        assert err.code == grpc.StatusCode.OUT_OF_RANGE
        assert not (tmp_path / "b.glb").exists()
    else:
        assert result.stats.triangles <= bound


def test_max_output_bytes_is_checked(converter, tmp_path):
    with pytest.raises(ConvertError) as err:
        converter.convert(cad("colored_screw_ap214.step"), str(tmp_path / "o.glb"), "step", "glb", Options(max_output_bytes=100))
    assert err.value.code == grpc.StatusCode.OUT_OF_RANGE
    assert not (tmp_path / "o.glb").exists()


def test_bounds_come_from_the_protocol():
    from partflow_cascadio.pb import converter_pb2

    opts = Options.from_proto(converter_pb2.ConvertOptions(max_triangles=5, max_output_bytes=7))
    assert (opts.max_triangles, opts.max_output_bytes) == (5, 7)
    assert Options.from_proto(converter_pb2.ConvertOptions()).max_triangles is None
