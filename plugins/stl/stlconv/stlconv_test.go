package stlconv_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/converttest"
	"github.com/partflow/partflow/convert/glb"
	"github.com/partflow/partflow/internal/fixtures"
	"github.com/partflow/partflow/plugins/stl/stlconv"
)

// fixture returns the path of one of the project's fixture files
// (internal/fixtures/testdata).
func fixture(name string) string { return filepath.Join(fixtures.Dir(), name) }

// expected is computed straight from the STL bytes, without stlconv.
type expected struct {
	triangles, meshes int64
	lo, hi            [3]float64
}

func (e *expected) add(v [3]float64) {
	for k := range 3 {
		e.lo[k], e.hi[k] = math.Min(e.lo[k], v[k]), math.Max(e.hi[k], v[k])
	}
}

func expectBinary(t *testing.T, data []byte) expected {
	n := int(binary.LittleEndian.Uint32(data[80:]))
	if len(data) != 84+50*n {
		t.Fatalf("fixture is not a binary STL")
	}
	e := expected{meshes: 1}
	first := true
	for i := range n {
		for v := range 3 {
			var p [3]float64
			for k := range 3 {
				off := 84 + 50*i + 12 + 12*v + 4*k
				p[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[off:])))
			}
			if first {
				e.lo, e.hi, first = p, p, false
			}
			e.add(p)
		}
	}
	e.triangles = int64(n)
	return e
}

func expectASCII(t *testing.T, data []byte) expected {
	var e expected
	f := strings.Fields(string(data))
	first := true
	for i := 0; i < len(f); i++ {
		switch strings.ToLower(f[i]) {
		case "solid":
			e.meshes++
		case "facet":
			e.triangles++
		case "vertex":
			var p [3]float64
			for k := range 3 {
				x, err := strconv.ParseFloat(f[i+1+k], 32)
				if err != nil {
					t.Fatal(err)
				}
				p[k] = float64(float32(x))
			}
			if first {
				e.lo, e.hi, first = p, p, false
			}
			e.add(p)
		}
	}
	return e
}

func TestConvertSharedFixtures(t *testing.T) {
	tests := []struct {
		file   string
		corpus bool // in the shared corpus, not the project's fixtures
		binary bool
		// Extents published in SOURCES.md, as a sanity check of the
		// independent computation.
		extents [3]float64
	}{
		{fixtures.BoxSTLFile, false, true, [3]float64{20, 10, 5}},
		{fixtures.CubeSolidHeaderSTLFile, false, true, [3]float64{1, 1, 1}},
		{fixtures.TwoCubesSTLFile, false, false, [3]float64{3, 1, 1}},
		{"featuretype_binary.stl", true, true, [3]float64{5, 2.5, 1.375}},
		{"unit_cube_binary_solid_header.stl", true, true, [3]float64{1, 1, 1}},
		{"two_cubes_ascii.stl", true, false, [3]float64{}},
	}
	for _, tt := range tests {
		name := tt.file
		if tt.corpus {
			name = "corpus/" + name
		}
		t.Run(name+"_matches_its_stl", func(t *testing.T) {
			in := fixture(tt.file)
			if tt.corpus {
				in = fixtures.CorpusFile(t, tt.file)
			}
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := stlconv.IsBinary(data); got != tt.binary {
				t.Fatalf("IsBinary = %v, want %v", got, tt.binary)
			}
			var want expected
			if tt.binary {
				want = expectBinary(t, data)
			} else {
				want = expectASCII(t, data)
			}
			if tt.extents != ([3]float64{}) {
				for k := range 3 {
					if d := want.hi[k] - want.lo[k]; math.Abs(d-tt.extents[k]) > 1e-4 {
						t.Fatalf("independent extents %v..%v disagree with SOURCES.md %v", want.lo, want.hi, tt.extents)
					}
				}
			}

			out := filepath.Join(t.TempDir(), "out.glb")
			stats, err := stlconv.New().Convert(context.Background(), convert.Request{
				InputPath: in, OutputPath: out, From: convert.FormatSTL, To: convert.FormatGLB,
			})
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sum, err := glb.Inspect(f)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Triangles != want.triangles || stats.Triangles != want.triangles {
				t.Errorf("triangles: GLB %d, stats %d, STL %d", sum.Triangles, stats.Triangles, want.triangles)
			}
			if int64(sum.Meshes) != want.meshes || stats.Meshes != want.meshes {
				t.Errorf("meshes: GLB %d, stats %d, STL solids %d", sum.Meshes, stats.Meshes, want.meshes)
			}
			if sum.BBoxMin != want.lo || sum.BBoxMax != want.hi {
				t.Errorf("GLB bbox %v..%v, STL %v..%v", sum.BBoxMin, sum.BBoxMax, want.lo, want.hi)
			}
			if stats.BBoxMin != want.lo || stats.BBoxMax != want.hi {
				t.Errorf("stats bbox %v..%v, STL %v..%v", stats.BBoxMin, stats.BBoxMax, want.lo, want.hi)
			}
		})
	}
}

// invalidFixtures writes malformed STL files into dir and returns them by
// name.
func invalidFixtures(t *testing.T, dir string) map[string]string {
	t.Helper()
	cube, err := os.ReadFile(fixture(fixtures.CubeSolidHeaderSTLFile))
	if err != nil {
		t.Fatal(err)
	}
	ascii, err := os.ReadFile(fixture(fixtures.TwoCubesSTLFile))
	if err != nil {
		t.Fatal(err)
	}
	nanCube := append([]byte(nil), cube...)
	binary.LittleEndian.PutUint32(nanCube[84+12:], math.Float32bits(float32(math.NaN())))
	noTriangles := make([]byte, 84)
	files := map[string][]byte{
		"empty":               nil,
		"not_stl":             []byte("ISO-10303-21;\nHEADER;\n"),
		"truncated_binary":    cube[:len(cube)-20],
		"truncated_ascii":     ascii[:len(ascii)/2],
		"nan_vertex_binary":   nanCube,
		"zero_triangles":      noTriangles,
		"empty_ascii_solid":   []byte("solid empty\nendsolid empty\n"),
		"two_vertices":        []byte("solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\nendfacet\nendsolid\n"),
		"four_vertices":       []byte("solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nvertex 1 1 0\nendloop\nendfacet\nendsolid\n"),
		"word_for_number":     []byte("solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 zero 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid\n"),
		"infinite_vertex":     []byte("solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 1e99 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid\n"),
		"facet_outside_solid": []byte("solid x\nendsolid\nfacet normal 0 0 1\n"),
	}
	paths := map[string]string{}
	for name, data := range files {
		p := filepath.Join(dir, name+".stl")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestConvertRejectsMalformedSTL(t *testing.T) {
	for name, in := range invalidFixtures(t, t.TempDir()) {
		t.Run(name+"_is_invalid_input", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.glb")
			_, err := stlconv.New().Convert(context.Background(), convert.Request{
				InputPath: in, OutputPath: out, From: convert.FormatSTL, To: convert.FormatGLB,
			})
			if !errors.Is(err, convert.ErrInvalidInput) {
				t.Fatalf("error = %v, want ErrInvalidInput", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("failed conversion left %v behind", entries)
			}
		})
	}
}

func TestParseKeepsSolidNamesAndMixedCase(t *testing.T) {
	src := "  SOLID Left Part\r\n Facet Normal 0 0 1\n Outer Loop\n Vertex 0 0 0\n VERTEX 1 0 0\n vertex 0 1 0\n EndLoop\n EndFacet\nEndSolid\n" +
		"solid right\nfacet normal 0 0 0\nouter loop\nvertex 5 0 0\nvertex 6 0 0\nvertex 5 1 -2.5e-1\nendloop\nendfacet\nendsolid right\n"
	solids, err := stlconv.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(solids) != 2 || solids[0].Name != "Left Part" || solids[1].Name != "right" {
		t.Fatalf("solids = %+v", solids)
	}
	if got := solids[1].Triangles[0].Vertices[2]; got != [3]float32{5, 1, -0.25} {
		t.Errorf("last vertex = %v", got)
	}
}

func TestConformance(t *testing.T) {
	var invalid []string
	for _, p := range invalidFixtures(t, t.TempDir()) {
		invalid = append(invalid, p)
	}
	converttest.RunConverter(t, stlconv.New(), converttest.Fixtures{
		Valid: []string{
			fixture(fixtures.BoxSTLFile),
			fixture(fixtures.TwoCubesSTLFile),
			fixture(fixtures.CubeSolidHeaderSTLFile),
		},
		Invalid: invalid,
	})
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{fixtures.TwoCubesSTLFile, fixtures.CubeSolidHeaderSTLFile} {
		data, err := os.ReadFile(fixture(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("solid a\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		solids, err := stlconv.Parse(data)
		if err != nil {
			if !errors.Is(err, convert.ErrInvalidInput) {
				t.Fatalf("error %v does not match ErrInvalidInput", err)
			}
			return
		}
		total := 0
		for _, s := range solids {
			total += len(s.Triangles)
			for _, tri := range s.Triangles {
				for _, v := range tri.Vertices {
					for _, c := range v {
						if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
							t.Fatalf("accepted non-finite vertex %v", v)
						}
					}
				}
			}
		}
		if total == 0 {
			t.Fatal("accepted a file without triangles")
		}
		if stlconv.IsBinary(data) && (len(solids) != 1 || int64(total) != int64(binary.LittleEndian.Uint32(data[80:]))) {
			t.Fatalf("binary file parsed into %d solids, %d triangles", len(solids), total)
		}
		// Whatever parses must encode as a valid GLB.
		in := filepath.Join(t.TempDir(), "in.stl")
		out := filepath.Join(t.TempDir(), "out.glb")
		if err := os.WriteFile(in, data, 0o600); err != nil {
			t.Fatal(err)
		}
		stats, err := stlconv.New().Convert(context.Background(), convert.Request{InputPath: in, OutputPath: out, From: convert.FormatSTL, To: convert.FormatGLB})
		if err != nil {
			t.Fatalf("Parse accepted the file but Convert failed: %v", err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := glb.InspectBytes(b)
		if err != nil {
			t.Fatalf("converted output is invalid: %v", err)
		}
		if sum.Triangles != int64(total) || stats.Triangles != int64(total) {
			t.Fatalf("triangles: parsed %d, GLB %d, stats %d", total, sum.Triangles, stats.Triangles)
		}
	})
}

func BenchmarkConvertFeaturetype(b *testing.B) {
	in := fixtures.CorpusFile(b, "featuretype_binary.stl")
	out := filepath.Join(b.TempDir(), "out.glb")
	conv := stlconv.New()
	for b.Loop() {
		if _, err := conv.Convert(context.Background(), convert.Request{InputPath: in, OutputPath: out, From: convert.FormatSTL, To: convert.FormatGLB}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConvertRefusesMoreTrianglesThanTheBound(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "tri.stl")
	var b strings.Builder
	b.WriteString("solid s\n")
	for i := range 6 {
		fmt.Fprintf(&b, "facet normal 0 0 1\nouter loop\nvertex %d 0 0\nvertex %d 1 0\nvertex %d 0 1\nendloop\nendfacet\n", i, i, i)
	}
	b.WriteString("endsolid s\n")
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	req := func(max int64) convert.Request {
		return convert.Request{InputPath: in, OutputPath: filepath.Join(dir, fmt.Sprintf("out%d.glb", max)), From: convert.FormatSTL, To: convert.FormatGLB,
			Options: convert.Options{MaxTriangles: convert.Ptr(max)}}
	}
	if _, err := stlconv.New().Convert(context.Background(), req(5)); !errors.Is(err, convert.ErrTooLarge) {
		t.Fatalf("6 triangles with a bound of 5: %v, want ErrTooLarge", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out5.glb")); err == nil {
		t.Error("a refused conversion wrote output")
	}
	if st, err := stlconv.New().Convert(context.Background(), req(6)); err != nil || st.Triangles != 6 {
		t.Fatalf("6 triangles with a bound of 6: %v, %v", st, err)
	}
}
