package glb

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// NoMaterial is the Primitive.Material value meaning "no material": viewers
// use glTF's default (white, metallic 1, roughness 1).
const NoMaterial = -1

// DefaultGenerator is written as asset.generator when Model.Generator is
// empty.
const DefaultGenerator = "partflow convert/glb"

// Model is the content of a GLB file: meshes and the materials they use.
// Each mesh is placed in the scene by its own root node with no transform,
// so world coordinates are the positions as given.
type Model struct {
	// Generator is written as asset.generator; empty means DefaultGenerator.
	Generator string
	// Meshes are written in order; mesh i is drawn by node i.
	Meshes []Mesh
	// Materials are referenced by Primitive.Material.
	Materials []Material
}

// Mesh is a named list of primitives.
type Mesh struct {
	// Name is optional.
	Name string
	// Primitives must not be empty.
	Primitives []Primitive
}

// Primitive is one triangle list.
type Primitive struct {
	// Positions are the vertices; they must be finite and not empty.
	Positions [][3]float32
	// Normals are optional; when set there is one unit vector per position.
	Normals [][3]float32
	// Indices, when set, hold three vertex indices per triangle, each less
	// than len(Positions). When nil, every three consecutive positions form
	// a triangle and len(Positions) must be a multiple of 3.
	Indices []uint32
	// Material indexes Model.Materials, or is NoMaterial.
	Material int
}

// Material is a flat-coloured, non-metallic, fully rough PBR material.
type Material struct {
	// Name is optional.
	Name string
	// BaseColor is linear RGBA, each in [0, 1].
	BaseColor [4]float32
	// DoubleSided disables back-face culling; useful for meshes whose
	// winding is not trusted (STL).
	DoubleSided bool
}

// Encode returns m as a GLB. Errors wrap ErrInvalid.
func Encode(m *Model) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := Write(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes m as a GLB to w and returns the number of bytes written.
// Errors describing the model wrap ErrInvalid; nothing is written then.
func Write(w io.Writer, m *Model) (int64, error) {
	doc, bin, err := build(m)
	if err != nil {
		return 0, err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return 0, fmt.Errorf("%w: encode JSON: %v", ErrInvalid, err)
	}
	for len(js)%4 != 0 {
		js = append(js, ' ')
	}
	total := headerSize + chunkHeadSize + len(js)
	if len(bin) > 0 {
		total += chunkHeadSize + len(bin)
	}
	if total > math.MaxUint32 {
		return 0, fmt.Errorf("%w: model too large for GLB (%d bytes)", ErrInvalid, total)
	}
	out := make([]byte, 0, headerSize+2*chunkHeadSize)
	out = binary.LittleEndian.AppendUint32(out, magic)
	out = binary.LittleEndian.AppendUint32(out, version)
	out = binary.LittleEndian.AppendUint32(out, uint32(total))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(js)))
	out = binary.LittleEndian.AppendUint32(out, chunkJSON)
	parts := [][]byte{out, js}
	if len(bin) > 0 {
		var head []byte
		head = binary.LittleEndian.AppendUint32(head, uint32(len(bin)))
		head = binary.LittleEndian.AppendUint32(head, chunkBIN)
		parts = append(parts, head, bin)
	}
	var n int64
	for _, p := range parts {
		k, err := w.Write(p)
		n += int64(k)
		if err != nil {
			return n, fmt.Errorf("glb: write: %w", err)
		}
	}
	return n, nil
}

// build lays out the JSON document and the BIN chunk (already padded).
func build(m *Model) (*document, []byte, error) {
	if m == nil {
		return nil, nil, fmt.Errorf("%w: nil model", ErrInvalid)
	}
	doc := &document{Asset: asset{Version: "2.0", Generator: m.Generator}}
	if doc.Asset.Generator == "" {
		doc.Asset.Generator = DefaultGenerator
	}
	for i, mat := range m.Materials {
		c := make([]float64, 4)
		for k, v := range mat.BaseColor {
			if !(v >= 0 && v <= 1) {
				return nil, nil, fmt.Errorf("%w: material %d: base colour component %v outside [0, 1]", ErrInvalid, i, v)
			}
			c[k] = float64(v)
		}
		doc.Materials = append(doc.Materials, material{
			Name:        mat.Name,
			PBR:         &pbr{BaseColorFactor: c, MetallicFactor: ptr(0.0), RoughnessFactor: ptr(1.0)},
			DoubleSided: mat.DoubleSided,
		})
	}
	var bin []byte
	view := func(data []byte, target int) int {
		doc.BufferViews = append(doc.BufferViews, bufferView{ByteOffset: len(bin), ByteLength: len(data), Target: target})
		bin = append(bin, data...) // every view is a multiple of 4 bytes
		return len(doc.BufferViews) - 1
	}
	sc := scene{}
	for mi, msh := range m.Meshes {
		if len(msh.Primitives) == 0 {
			return nil, nil, fmt.Errorf("%w: mesh %d has no primitives", ErrInvalid, mi)
		}
		out := mesh{Name: msh.Name}
		for pi, p := range msh.Primitives {
			where := fmt.Sprintf("mesh %d primitive %d", mi, pi)
			if err := checkPrimitive(p, len(m.Materials)); err != nil {
				return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, where, err)
			}
			lo, hi := bounds(p.Positions)
			pos := accessor{
				BufferView: ptr(view(vec3Bytes(p.Positions), targetArrayBuffer)), ComponentType: compFloat,
				Count: len(p.Positions), Type: "VEC3", Min: lo[:], Max: hi[:],
			}
			doc.Accessors = append(doc.Accessors, pos)
			prim := primitive{Attributes: map[string]int{"POSITION": len(doc.Accessors) - 1}}
			if p.Normals != nil {
				doc.Accessors = append(doc.Accessors, accessor{
					BufferView: ptr(view(vec3Bytes(p.Normals), targetArrayBuffer)), ComponentType: compFloat,
					Count: len(p.Normals), Type: "VEC3",
				})
				prim.Attributes["NORMAL"] = len(doc.Accessors) - 1
			}
			if p.Indices != nil {
				idx := make([]byte, 0, 4*len(p.Indices))
				for _, v := range p.Indices {
					idx = binary.LittleEndian.AppendUint32(idx, v)
				}
				doc.Accessors = append(doc.Accessors, accessor{
					BufferView: ptr(view(idx, targetElementArrayBuffer)), ComponentType: compUnsignedInt,
					Count: len(p.Indices), Type: "SCALAR",
				})
				prim.Indices = ptr(len(doc.Accessors) - 1)
			}
			if p.Material != NoMaterial {
				prim.Material = ptr(p.Material)
			}
			out.Primitives = append(out.Primitives, prim)
		}
		doc.Meshes = append(doc.Meshes, out)
		doc.Nodes = append(doc.Nodes, node{Name: msh.Name, Mesh: ptr(mi)})
		sc.Nodes = append(sc.Nodes, mi)
	}
	doc.Scenes = []scene{sc}
	doc.Scene = ptr(0)
	if len(bin) > 0 {
		doc.Buffers = []buffer{{ByteLength: len(bin)}}
	}
	return doc, bin, nil
}

func checkPrimitive(p Primitive, materials int) error {
	if len(p.Positions) == 0 {
		return fmt.Errorf("no positions")
	}
	if len(p.Positions) > math.MaxUint32 {
		return fmt.Errorf("%d positions is more than uint32 indices can address", len(p.Positions))
	}
	for i, v := range p.Positions {
		for _, c := range v {
			if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
				return fmt.Errorf("position %d is not finite: %v", i, v)
			}
		}
	}
	if p.Normals != nil && len(p.Normals) != len(p.Positions) {
		return fmt.Errorf("%d normals for %d positions", len(p.Normals), len(p.Positions))
	}
	for i, v := range p.Normals {
		for _, c := range v {
			if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
				return fmt.Errorf("normal %d is not finite: %v", i, v)
			}
		}
	}
	if p.Indices == nil {
		if len(p.Positions)%3 != 0 {
			return fmt.Errorf("%d positions without indices is not a whole number of triangles", len(p.Positions))
		}
	} else {
		if len(p.Indices) == 0 || len(p.Indices)%3 != 0 {
			return fmt.Errorf("%d indices is not a whole, non-zero number of triangles", len(p.Indices))
		}
		for i, v := range p.Indices {
			if int64(v) >= int64(len(p.Positions)) {
				return fmt.Errorf("index %d is %d, but there are only %d positions", i, v, len(p.Positions))
			}
		}
	}
	if p.Material != NoMaterial && (p.Material < 0 || p.Material >= materials) {
		return fmt.Errorf("material %d does not exist (model has %d)", p.Material, materials)
	}
	return nil
}

func vec3Bytes(vs [][3]float32) []byte {
	b := make([]byte, 0, 12*len(vs))
	for _, v := range vs {
		for _, c := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(c))
		}
	}
	return b
}

func bounds(vs [][3]float32) (lo, hi [3]float64) {
	for k := range 3 {
		lo[k], hi[k] = math.Inf(1), math.Inf(-1)
	}
	for _, v := range vs {
		for k, c := range v {
			lo[k] = math.Min(lo[k], float64(c))
			hi[k] = math.Max(hi[k], float64(c))
		}
	}
	return lo, hi
}

func ptr[T any](v T) *T { return &v }
