package stlconv

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/glb"
)

// Name and Version identify this converter in convert.Info.
const (
	Name    = "stl"
	Version = "0.1.0"
)

// material is the one material every converted mesh uses.
var material = glb.Material{Name: "stl", BaseColor: [4]float32{0.8, 0.8, 0.8, 1}, DoubleSided: true}

// Converter converts STL to GLB in process. The zero value is ready to use
// and safe for concurrent use.
type Converter struct{}

var _ convert.Converter = Converter{}

// New returns the STL to GLB converter.
func New() convert.Converter { return Converter{} }

// Info names the converter and lists stl -> glb.
func (Converter) Info(context.Context) (convert.Info, error) {
	return convert.Info{
		Name:        Name,
		Version:     Version,
		Conversions: []convert.Conversion{{From: convert.FormatSTL, To: convert.FormatGLB}},
	}, nil
}

// Convert reads req.InputPath as STL and writes req.OutputPath as GLB. The
// output is written to a temporary file beside OutputPath and renamed, so a
// failed conversion leaves nothing behind.
func (c Converter) Convert(ctx context.Context, req convert.Request) (*convert.Stats, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stl: %w", err)
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("stl: %w", err)
	}
	if req.From != convert.FormatSTL || req.To != convert.FormatGLB {
		return nil, fmt.Errorf("stl: %s->%s: %w (only stl->glb)", req.From, req.To, convert.ErrUnsupportedFormat)
	}
	data, err := os.ReadFile(req.InputPath)
	if err != nil {
		return nil, fmt.Errorf("stl: read input: %w", err)
	}
	solids, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stl: %w", err)
	}
	if max := req.Options.MaxTriangles; max != nil {
		total := int64(0)
		for _, s := range solids {
			total += int64(len(s.Triangles))
		}
		if total > *max {
			return nil, fmt.Errorf("stl: the file has %d triangles, more than the bound of %d: %w", total, *max, convert.ErrTooLarge)
		}
	}
	model, stats := build(solids)
	n, err := writeAtomic(req.OutputPath, model)
	if err != nil {
		return nil, err
	}
	stats.OutputBytes = n
	stats.Duration = time.Since(start)
	return stats, nil
}

// build turns solids into a GLB model with one mesh per non-empty solid and
// returns the matching stats (without size and duration).
func build(solids []Solid) (*glb.Model, *convert.Stats) {
	model := &glb.Model{Generator: "partflow stl " + Version, Materials: []glb.Material{material}}
	st := &convert.Stats{Materials: 1}
	for k := range 3 {
		st.BBoxMin[k], st.BBoxMax[k] = math.Inf(1), math.Inf(-1)
	}
	for _, s := range solids {
		if len(s.Triangles) == 0 {
			continue
		}
		p := glb.Primitive{
			Positions: make([][3]float32, 0, 3*len(s.Triangles)),
			Normals:   make([][3]float32, 0, 3*len(s.Triangles)),
			Material:  0,
		}
		for _, t := range s.Triangles {
			n := flatNormal(t)
			for _, v := range t.Vertices {
				p.Positions = append(p.Positions, v)
				p.Normals = append(p.Normals, n)
				for k, c := range v {
					st.BBoxMin[k] = math.Min(st.BBoxMin[k], float64(c))
					st.BBoxMax[k] = math.Max(st.BBoxMax[k], float64(c))
				}
			}
		}
		model.Meshes = append(model.Meshes, glb.Mesh{Name: s.Name, Primitives: []glb.Primitive{p}})
		st.Triangles += int64(len(s.Triangles))
		st.Meshes++
	}
	return model, st
}

// flatNormal returns the unit normal of t's winding, else its stored normal
// normalised, else +Z.
func flatNormal(t Triangle) [3]float32 {
	var e1, e2 [3]float64
	for k := range 3 {
		e1[k] = float64(t.Vertices[1][k]) - float64(t.Vertices[0][k])
		e2[k] = float64(t.Vertices[2][k]) - float64(t.Vertices[0][k])
	}
	cross := [3]float64{e1[1]*e2[2] - e1[2]*e2[1], e1[2]*e2[0] - e1[0]*e2[2], e1[0]*e2[1] - e1[1]*e2[0]}
	if n, ok := unit(cross); ok {
		return n
	}
	if n, ok := unit([3]float64{float64(t.Normal[0]), float64(t.Normal[1]), float64(t.Normal[2])}); ok {
		return n
	}
	return [3]float32{0, 0, 1}
}

func unit(v [3]float64) ([3]float32, bool) {
	l := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	if !(l > 1e-30) || math.IsInf(l, 0) {
		return [3]float32{}, false
	}
	return [3]float32{float32(v[0] / l), float32(v[1] / l), float32(v[2] / l)}, true
}

// writeAtomic writes model to a temporary file in path's directory and
// renames it to path.
func writeAtomic(path string, model *glb.Model) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".stl-*.glb.tmp")
	if err != nil {
		return 0, fmt.Errorf("stl: create output: %w", err)
	}
	tmp := f.Name()
	n, err := glb.Write(f, model)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("stl: write output: %w", err)
	}
	return n, nil
}
