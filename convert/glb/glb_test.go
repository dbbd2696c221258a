package glb_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/partflow/partflow/convert/glb"
)

// cube returns the 8 corners of an axis-aligned box and its 12 triangles.
func cube(lo, hi [3]float32) glb.Primitive {
	var pos [][3]float32
	for i := range 8 {
		p := lo
		for k := range 3 {
			if i&(1<<k) != 0 {
				p[k] = hi[k]
			}
		}
		pos = append(pos, p)
	}
	idx := []uint32{
		0, 2, 1, 1, 2, 3, 4, 5, 6, 5, 7, 6, // z faces
		0, 1, 4, 1, 5, 4, 2, 6, 3, 3, 6, 7, // y faces
		0, 4, 2, 2, 4, 6, 1, 3, 5, 3, 7, 5, // x faces
	}
	return glb.Primitive{Positions: pos, Indices: idx, Material: glb.NoMaterial}
}

func TestEncodeThenInspectRoundTrips(t *testing.T) {
	red := cube([3]float32{-1, -2, -3}, [3]float32{1, 2, 3})
	red.Material = 0
	tri := glb.Primitive{
		Positions: [][3]float32{{10, 0, 0}, {11, 0, 0}, {10, 1, 0.5}, {12, 0, 0}, {13, 0, 0}, {12, 1, 0}},
		Normals:   [][3]float32{{0, 0, 1}, {0, 0, 1}, {0, 0, 1}, {0, 0, 1}, {0, 0, 1}, {0, 0, 1}},
		Material:  1,
	}
	model := &glb.Model{
		Meshes: []glb.Mesh{
			{Name: "red cube", Primitives: []glb.Primitive{red}},
			{Name: "two triangles", Primitives: []glb.Primitive{tri, cube([3]float32{0, 0, 0}, [3]float32{1, 1, 1})}},
		},
		Materials: []glb.Material{
			{Name: "red", BaseColor: [4]float32{1, 0, 0, 1}},
			{Name: "blue", BaseColor: [4]float32{0, 0, 1, 0.5}, DoubleSided: true},
		},
	}
	var buf bytes.Buffer
	n, err := glb.Write(&buf, model)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || n%4 != 0 {
		t.Fatalf("Write returned %d, wrote %d bytes", n, buf.Len())
	}
	got, err := glb.Inspect(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := &glb.Summary{
		Generator: glb.DefaultGenerator,
		Meshes:    2, Primitives: 3, Materials: 2, Nodes: 2,
		Vertices: 8 + 6 + 8, Triangles: 12 + 2 + 12, DrawnTriangles: 26,
		BBoxMin: [3]float64{-1, -2, -3}, BBoxMax: [3]float64{13, 2, 3},
		TotalBytes: int(n),
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(glb.Summary{}, "JSONBytes", "BINBytes")); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}
	if got.JSONBytes%4 != 0 || got.BINBytes%4 != 0 || got.JSONBytes+got.BINBytes+28 != got.TotalBytes {
		t.Errorf("chunk sizes JSON %d BIN %d total %d are inconsistent", got.JSONBytes, got.BINBytes, got.TotalBytes)
	}
}

func TestEncodeEmptyModelIsValidAndEmpty(t *testing.T) {
	b, err := glb.Encode(&glb.Model{Generator: "test"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := glb.InspectBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Empty || s.Meshes != 0 || s.Triangles != 0 || s.BINBytes != 0 || s.Generator != "test" {
		t.Errorf("summary of empty model = %+v", s)
	}
}

func TestEncodeRejectsBadModels(t *testing.T) {
	ok := func() glb.Primitive { return cube([3]float32{0, 0, 0}, [3]float32{1, 1, 1}) }
	tests := []struct {
		name   string
		modify func(*glb.Model)
		want   string
	}{
		{"nan_position", func(m *glb.Model) { m.Meshes[0].Primitives[0].Positions[3][1] = float32(math.NaN()) }, "not finite"},
		{"index_out_of_range", func(m *glb.Model) { m.Meshes[0].Primitives[0].Indices[5] = 8 }, "only 8 positions"},
		{"partial_triangle", func(m *glb.Model) { p := &m.Meshes[0].Primitives[0]; p.Indices = p.Indices[:4] }, "whole"},
		{"normals_count", func(m *glb.Model) { m.Meshes[0].Primitives[0].Normals = [][3]float32{{0, 0, 1}} }, "1 normals for 8"},
		{"missing_material", func(m *glb.Model) { m.Meshes[0].Primitives[0].Material = 2 }, "material 2"},
		{"mesh_without_primitives", func(m *glb.Model) { m.Meshes[0].Primitives = nil }, "no primitives"},
		{"no_positions", func(m *glb.Model) { m.Meshes[0].Primitives[0] = glb.Primitive{} }, "no positions"},
		{"colour_out_of_range", func(m *glb.Model) { m.Materials = []glb.Material{{BaseColor: [4]float32{2, 0, 0, 1}}} }, "outside [0, 1]"},
		{"unindexed_partial_triangle", func(m *glb.Model) {
			m.Meshes[0].Primitives[0] = glb.Primitive{Positions: [][3]float32{{0, 0, 0}, {1, 0, 0}}, Material: glb.NoMaterial}
		}, "whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"_is_invalid", func(t *testing.T) {
			m := &glb.Model{Meshes: []glb.Mesh{{Primitives: []glb.Primitive{ok()}}}}
			tt.modify(m)
			var buf bytes.Buffer
			_, err := glb.Write(&buf, m)
			if !errors.Is(err, glb.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Write error = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes for an invalid model", buf.Len())
			}
		})
	}
}

// assemble builds a GLB from a JSON document and a BIN payload (padded here).
func assemble(js string, bin []byte) []byte {
	j := []byte(js)
	for len(j)%4 != 0 {
		j = append(j, ' ')
	}
	for len(bin)%4 != 0 {
		bin = append(bin, 0)
	}
	total := 12 + 8 + len(j)
	if bin != nil {
		total += 8 + len(bin)
	}
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0x46546C67)
	b = binary.LittleEndian.AppendUint32(b, 2)
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(j)))
	b = binary.LittleEndian.AppendUint32(b, 0x4E4F534A)
	b = append(b, j...)
	if bin != nil {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(bin)))
		b = binary.LittleEndian.AppendUint32(b, 0x004E4942)
		b = append(b, bin...)
	}
	return b
}

func floats(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// oneTriangle is a BIN chunk holding one triangle (0,0,0) (1,0,0) (0,2,0)
// and the JSON fragments that describe it as mesh 0.
var oneTriangle = floats(0, 0, 0, 1, 0, 0, 0, 2, 0)

const triangleJSON = `"asset":{"version":"2.0"},
	"buffers":[{"byteLength":36}],
	"bufferViews":[{"buffer":0,"byteLength":36}],
	"accessors":[{"bufferView":0,"componentType":5126,"count":3,"type":"VEC3"}],
	"meshes":[{"primitives":[{"attributes":{"POSITION":0}}]}]`

func TestInspectAppliesNodeTransforms(t *testing.T) {
	tests := []struct {
		name       string
		scenes     string
		drawn      int64
		lo, hi     [3]float64
		wantsEmpty bool
	}{
		{"identity_keeps_positions", `"nodes":[{"mesh":0}],"scenes":[{"nodes":[0]}]`, 1,
			[3]float64{0, 0, 0}, [3]float64{1, 2, 0}, false},
		{"translation_moves", `"nodes":[{"mesh":0,"translation":[10,20,30]}],"scenes":[{"nodes":[0]}]`, 1,
			[3]float64{10, 20, 30}, [3]float64{11, 22, 30}, false},
		{"scale_scales", `"nodes":[{"mesh":0,"scale":[2,3,4]}],"scene":0,"scenes":[{"nodes":[0]}]`, 1,
			[3]float64{0, 0, 0}, [3]float64{2, 6, 0}, false},
		// 90 degrees about Z: (x, y) -> (-y, x).
		{"rotation_rotates", `"nodes":[{"mesh":0,"rotation":[0,0,0.7071067811865476,0.7071067811865476]}],"scenes":[{"nodes":[0]}]`, 1,
			[3]float64{-2, 0, 0}, [3]float64{0, 1, 0}, false},
		// Column-major matrix: scale 0.001 and translate (5, 0, 0).
		{"matrix_applies", `"nodes":[{"mesh":0,"matrix":[0.001,0,0,0, 0,0.001,0,0, 0,0,0.001,0, 5,0,0,1]}],"scenes":[{"nodes":[0]}]`, 1,
			[3]float64{5, 0, 0}, [3]float64{5.001, 0.002, 0}, false},
		{"parent_then_child", `"nodes":[{"children":[1],"translation":[100,0,0]},{"mesh":0,"scale":[10,10,10]}],"scenes":[{"nodes":[0]}]`, 1,
			[3]float64{100, 0, 0}, [3]float64{110, 20, 0}, false},
		{"mesh_drawn_twice", `"nodes":[{"mesh":0},{"mesh":0,"translation":[0,0,-7]}],"scenes":[{"nodes":[0,1]}]`, 2,
			[3]float64{0, 0, -7}, [3]float64{1, 2, 0}, false},
		{"default_scene_chosen", `"nodes":[{"mesh":0},{"mesh":0,"translation":[50,0,0]}],"scene":1,"scenes":[{"nodes":[0]},{"nodes":[1]}]`, 1,
			[3]float64{50, 0, 0}, [3]float64{51, 2, 0}, false},
		{"no_scene_draws_roots", `"nodes":[{"mesh":0,"translation":[0,1,0]}]`, 1,
			[3]float64{0, 1, 0}, [3]float64{1, 3, 0}, false},
		{"node_outside_scene_not_drawn", `"nodes":[{"mesh":0},{}],"scenes":[{"nodes":[1]}]`, 0,
			[3]float64{}, [3]float64{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := glb.InspectBytes(assemble("{"+triangleJSON+","+tt.scenes+"}", oneTriangle))
			if err != nil {
				t.Fatal(err)
			}
			if s.Triangles != 1 || s.DrawnTriangles != tt.drawn || s.Empty != tt.wantsEmpty {
				t.Errorf("triangles %d drawn %d empty %v, want 1, %d, %v", s.Triangles, s.DrawnTriangles, s.Empty, tt.drawn, tt.wantsEmpty)
			}
			approx := cmpopts.EquateApprox(0, 1e-9)
			if !cmp.Equal(s.BBoxMin, tt.lo, approx) || !cmp.Equal(s.BBoxMax, tt.hi, approx) {
				t.Errorf("bbox = %v..%v, want %v..%v", s.BBoxMin, s.BBoxMax, tt.lo, tt.hi)
			}
		})
	}
}

func TestInspectCountsPrimitiveModes(t *testing.T) {
	tests := []struct {
		name string
		prim string
		want int64
	}{
		{"triangles_default", `{"attributes":{"POSITION":0}}`, 2},
		{"strip", `{"attributes":{"POSITION":0},"mode":5}`, 4},
		{"fan", `{"attributes":{"POSITION":0},"mode":6}`, 4},
		{"lines_have_none", `{"attributes":{"POSITION":0},"mode":1}`, 0},
		{"indexed_ubyte", `{"attributes":{"POSITION":0},"indices":1}`, 1},
	}
	bin := append(floats(0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 2, 0, 0, 2, 1, 0), 0, 1, 5, 0)
	for _, tt := range tests {
		t.Run(tt.name+"_counts_"+strings.Repeat("I", int(tt.want)), func(t *testing.T) {
			js := `{"asset":{"version":"2.0"},"buffers":[{"byteLength":76}],
				"bufferViews":[{"buffer":0,"byteLength":72},{"buffer":0,"byteOffset":72,"byteLength":3}],
				"accessors":[{"bufferView":0,"componentType":5126,"count":6,"type":"VEC3"},
				             {"bufferView":1,"componentType":5121,"count":3,"type":"SCALAR"}],
				"meshes":[{"primitives":[` + tt.prim + `]}],"nodes":[{"mesh":0}],"scenes":[{"nodes":[0]}]}`
			s, err := glb.InspectBytes(assemble(js, bin))
			if err != nil {
				t.Fatal(err)
			}
			if s.Triangles != tt.want {
				t.Errorf("Triangles = %d, want %d", s.Triangles, tt.want)
			}
		})
	}
}

func TestInspectRejectsInvalidFiles(t *testing.T) {
	good := func() []byte {
		return assemble("{"+triangleJSON+`,"nodes":[{"mesh":0}],"scenes":[{"nodes":[0]}]}`, oneTriangle)
	}
	withJSON := func(extra string) []byte { return assemble("{"+triangleJSON+","+extra+"}", oneTriangle) }
	replace := func(old, new string) []byte {
		return assemble("{"+strings.Replace(triangleJSON, old, new, 1)+`,"nodes":[{"mesh":0}]}`, oneTriangle)
	}
	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"empty", nil, glb.ErrInvalid, "header"},
		{"bad_magic", func() []byte { b := good(); b[0] = 'x'; return b }(), glb.ErrInvalid, "magic"},
		{"version_1", func() []byte { b := good(); b[4] = 1; return b }(), glb.ErrInvalid, "version 1"},
		{"length_too_long", func() []byte { b := good(); b[8] += 4; return b }(), glb.ErrInvalid, "declares"},
		{"truncated", func() []byte { b := good(); return b[:len(b)-4] }(), glb.ErrInvalid, "declares"},
		{"trailing_bytes", func() []byte {
			b := append(good(), 0, 0, 0, 0)
			binary.LittleEndian.PutUint32(b[8:], uint32(len(b)))
			return b
		}(), glb.ErrInvalid, "stray"},
		{"chunk_length_unpadded", func() []byte {
			b := good()
			binary.LittleEndian.PutUint32(b[12:], binary.LittleEndian.Uint32(b[12:])-1)
			return b
		}(), glb.ErrInvalid, ""},
		{"bin_before_json", func() []byte { b := good(); binary.LittleEndian.PutUint32(b[16:], 0x004E4942); return b }(), glb.ErrInvalid, "first chunk"},
		{"json_garbage", assemble("{not json", nil), glb.ErrInvalid, "JSON"},
		{"json_trailing_data", assemble(`{"asset":{"version":"2.0"}} {}`, nil), glb.ErrInvalid, "after the document"},
		{"asset_version", assemble(`{"asset":{"version":"1.0"}}`, nil), glb.ErrInvalid, "asset.version"},
		{"required_extension", withJSON(`"extensionsRequired":["KHR_draco_mesh_compression"]`), glb.ErrUnsupported, "KHR_draco"},
		{"external_buffer", assemble(`{"asset":{"version":"2.0"},"buffers":[{"byteLength":4,"uri":"x.bin"}]}`, nil), glb.ErrUnsupported, "URI"},
		{"buffer_without_bin", assemble(`{"asset":{"version":"2.0"},"buffers":[{"byteLength":4}]}`, nil), glb.ErrInvalid, "no BIN"},
		{"buffer_longer_than_bin", replace(`"byteLength":36}]`, `"byteLength":40}]`), glb.ErrInvalid, "BIN chunk"},
		{"view_outside_buffer", replace(`"bufferViews":[{"buffer":0,"byteLength":36}]`, `"bufferViews":[{"buffer":0,"byteOffset":4,"byteLength":36}]`), glb.ErrInvalid, "outside"},
		{"accessor_outside_view", replace(`"count":3`, `"count":4`), glb.ErrInvalid, "runs past"},
		{"accessor_huge_count", replace(`"count":3`, `"count":4611686018427387904`), glb.ErrInvalid, "count"},
		{"accessor_zero_count", replace(`"count":3`, `"count":0`), glb.ErrInvalid, "count 0"},
		{"accessor_misaligned", replace(`"componentType":5126,`, `"componentType":5126,"byteOffset":2,`), glb.ErrInvalid, "multiple"},
		{"sparse_accessor", replace(`"componentType":5126,`, `"componentType":5126,"sparse":{"count":1},`), glb.ErrUnsupported, "sparse"},
		{"position_not_float", replace(`"componentType":5126`, `"componentType":5123`), glb.ErrUnsupported, "POSITION"},
		{"missing_material", replace(`{"POSITION":0}`, `{"POSITION":0},"material":0`), glb.ErrInvalid, "material 0"},
		{"missing_position", replace(`{"POSITION":0}`, `{"NORMAL":0}`), glb.ErrInvalid, "POSITION"},
		{"bad_mode", replace(`{"POSITION":0}`, `{"POSITION":0},"mode":9`), glb.ErrInvalid, "mode 9"},
		{"index_out_of_range", assemble(`{"asset":{"version":"2.0"},"buffers":[{"byteLength":40}],
			"bufferViews":[{"buffer":0,"byteLength":36},{"buffer":0,"byteOffset":36,"byteLength":4}],
			"accessors":[{"bufferView":0,"componentType":5126,"count":3,"type":"VEC3"},{"bufferView":1,"componentType":5121,"count":3,"type":"SCALAR"}],
			"meshes":[{"primitives":[{"attributes":{"POSITION":0},"indices":1}]}]}`, append(append([]byte{}, oneTriangle...), 0, 1, 3, 0)),
			glb.ErrInvalid, "index 2 is 3"},
		{"nan_position", assemble("{"+triangleJSON+"}", floats(0, 0, 0, 1, 0, 0, 0, float32(math.NaN()), 0)), glb.ErrInvalid, "non-finite"},
		{"node_mesh_missing", withJSON(`"nodes":[{"mesh":3}]`), glb.ErrInvalid, "mesh 3"},
		{"node_matrix_short", withJSON(`"nodes":[{"matrix":[1,0,0]}]`), glb.ErrInvalid, "matrix has 3"},
		{"node_matrix_and_trs", withJSON(`"nodes":[{"matrix":[1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1],"scale":[1,1,1]}]`), glb.ErrInvalid, "both"},
		{"node_cycle", withJSON(`"nodes":[{"children":[1]},{"children":[0]}]`), glb.ErrInvalid, ""},
		{"node_self_child", withJSON(`"nodes":[{"children":[0]}]`), glb.ErrInvalid, "cycle"},
		{"node_two_parents", withJSON(`"nodes":[{"children":[2]},{"children":[2]},{}]`), glb.ErrInvalid, "two parents"},
		{"scene_non_root", withJSON(`"nodes":[{"children":[1]},{}],"scenes":[{"nodes":[1]}]`), glb.ErrInvalid, "not a root"},
		{"scene_missing", withJSON(`"nodes":[{}],"scene":2,"scenes":[{"nodes":[0]}]`), glb.ErrInvalid, "scene 2"},
		{"scene_node_twice", withJSON(`"nodes":[{"mesh":0}],"scenes":[{"nodes":[0,0]}]`), glb.ErrInvalid, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"_is_rejected", func(t *testing.T) {
			_, err := glb.InspectBytes(tt.data)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("InspectBytes error = %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
			_, rerr := glb.Inspect(bytes.NewReader(tt.data))
			if !errors.Is(rerr, tt.want) {
				t.Errorf("Inspect error = %v, want %v", rerr, tt.want)
			}
		})
	}
}

func TestInspectIgnoresUnknownChunks(t *testing.T) {
	b := assemble("{"+triangleJSON+"}", oneTriangle)
	b = binary.LittleEndian.AppendUint32(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0x12345678)
	b = append(b, 1, 2, 3, 4)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)))
	s, err := glb.InspectBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Triangles != 1 {
		t.Errorf("Triangles = %d", s.Triangles)
	}
}

func FuzzInspect(f *testing.F) {
	model, err := glb.Encode(&glb.Model{Meshes: []glb.Mesh{{Primitives: []glb.Primitive{cube([3]float32{0, 0, 0}, [3]float32{1, 2, 3})}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(model)
	f.Add(assemble("{"+triangleJSON+`,"nodes":[{"children":[1],"rotation":[0,0,1,0]},{"mesh":0,"matrix":[2,0,0,0,0,2,0,0,0,0,2,0,1,1,1,1]}],"scenes":[{"nodes":[0]}]}`, oneTriangle))
	f.Add([]byte("glTF\x02\x00\x00\x00\x14\x00\x00\x00\x00\x00\x00\x00JSON"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := glb.InspectBytes(data)
		s2, err2 := glb.Inspect(bytes.NewReader(data))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("InspectBytes error %v but Inspect error %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, glb.ErrInvalid) && !errors.Is(err, glb.ErrUnsupported) {
				t.Fatalf("error %v matches neither ErrInvalid nor ErrUnsupported", err)
			}
			return
		}
		if !cmp.Equal(s, s2, cmpopts.EquateNaNs()) {
			t.Fatalf("Inspect and InspectBytes disagree: %+v vs %+v", s, s2)
		}
		if s.TotalBytes != len(data) || s.Triangles < 0 || s.DrawnTriangles < 0 || s.Vertices < 0 {
			t.Fatalf("implausible summary %+v", s)
		}
		for k := range 3 {
			if !s.Empty && !(s.BBoxMin[k] <= s.BBoxMax[k]) {
				t.Fatalf("bbox %v..%v is inverted", s.BBoxMin, s.BBoxMax)
			}
		}
		// A valid document must survive a JSON round trip of its chunk.
		n := binary.LittleEndian.Uint32(data[12:])
		if !json.Valid(data[20 : 20+n]) {
			t.Fatalf("accepted a JSON chunk that is not valid JSON")
		}
	})
}
