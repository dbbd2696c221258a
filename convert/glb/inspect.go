package glb

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Summary describes a valid GLB file.
type Summary struct {
	// Generator is asset.generator (may be empty).
	Generator string
	// Meshes, Primitives, Materials and Nodes count the document's arrays.
	Meshes, Primitives, Materials, Nodes int
	// Vertices is the sum of POSITION counts over all primitives.
	Vertices int64
	// Triangles counts the triangles stored in the meshes (TRIANGLES,
	// TRIANGLE_STRIP and TRIANGLE_FAN primitives), each mesh once.
	Triangles int64
	// DrawnTriangles counts triangles as drawn by the scene: a mesh used by
	// two nodes counts twice, a mesh used by none not at all.
	DrawnTriangles int64
	// Empty is true when the scene draws no vertex; BBoxMin and BBoxMax
	// are then zero.
	Empty bool
	// BBoxMin and BBoxMax bound every POSITION value of every drawn
	// primitive, transformed to world space through the node hierarchy of
	// the default scene (or of every root node when there is no scene).
	BBoxMin, BBoxMax [3]float64
	// JSONBytes and BINBytes are the chunk lengths, padding included.
	JSONBytes, BINBytes int
	// TotalBytes is the file length from the header.
	TotalBytes int
}

// Inspect reads a whole GLB from r, validates it and summarises it. It never
// allocates much more than the bytes r actually delivers. Errors wrap
// ErrInvalid or ErrUnsupported, or are read errors from r.
func Inspect(r io.Reader) (*Summary, error) {
	head := make([]byte, headerSize)
	if _, err := io.ReadFull(r, head); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: shorter than the 12-byte header", ErrInvalid)
		}
		return nil, fmt.Errorf("glb: read header: %w", err)
	}
	if err := checkHeader(head); err != nil {
		return nil, err
	}
	total := int64(binary.LittleEndian.Uint32(head[8:]))
	rest, err := io.ReadAll(io.LimitReader(r, total-headerSize+1))
	if err != nil {
		return nil, fmt.Errorf("glb: read: %w", err)
	}
	if int64(len(rest)) != total-headerSize {
		if int64(len(rest)) > total-headerSize {
			return nil, fmt.Errorf("%w: data continues past the %d bytes the header declares", ErrInvalid, total)
		}
		return nil, fmt.Errorf("%w: header declares %d bytes, file has %d", ErrInvalid, total, headerSize+len(rest))
	}
	return InspectBytes(append(head, rest...))
}

func checkHeader(b []byte) error {
	if got := binary.LittleEndian.Uint32(b); got != magic {
		return fmt.Errorf("%w: magic is %q, want \"glTF\"", ErrInvalid, b[:4])
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != version {
		return fmt.Errorf("%w: container version %d, want 2", ErrInvalid, v)
	}
	if n := binary.LittleEndian.Uint32(b[8:]); n < headerSize+chunkHeadSize {
		return fmt.Errorf("%w: declared length %d is too short for a JSON chunk", ErrInvalid, n)
	}
	return nil
}

// InspectBytes validates and summarises the GLB in b. See Inspect.
func InspectBytes(b []byte) (*Summary, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: shorter than the 12-byte header", ErrInvalid)
	}
	if err := checkHeader(b); err != nil {
		return nil, err
	}
	if total := binary.LittleEndian.Uint32(b[8:]); int64(total) != int64(len(b)) {
		return nil, fmt.Errorf("%w: header declares %d bytes, file has %d", ErrInvalid, total, len(b))
	}
	// Walk the chunks: JSON first, then optionally BIN, then any unknown
	// chunks (which the specification says to ignore).
	var jsonChunk, binChunk []byte
	sawBIN := false
	off := headerSize
	for i := 0; off < len(b); i++ {
		if len(b)-off < chunkHeadSize {
			return nil, fmt.Errorf("%w: %d stray bytes after chunk %d", ErrInvalid, len(b)-off, i-1)
		}
		n := int64(binary.LittleEndian.Uint32(b[off:]))
		typ := binary.LittleEndian.Uint32(b[off+4:])
		off += chunkHeadSize
		if n > int64(len(b)-off) {
			return nil, fmt.Errorf("%w: chunk %d declares %d bytes, only %d remain", ErrInvalid, i, n, len(b)-off)
		}
		if n%4 != 0 {
			return nil, fmt.Errorf("%w: chunk %d length %d is not a multiple of 4", ErrInvalid, i, n)
		}
		data := b[off : off+int(n)]
		off += int(n)
		switch {
		case i == 0 && typ != chunkJSON:
			return nil, fmt.Errorf("%w: first chunk has type %#x, want JSON", ErrInvalid, typ)
		case i == 0:
			jsonChunk = data
		case typ == chunkJSON:
			return nil, fmt.Errorf("%w: second JSON chunk at index %d", ErrInvalid, i)
		case typ == chunkBIN && i != 1:
			return nil, fmt.Errorf("%w: BIN chunk at index %d, want 1", ErrInvalid, i)
		case typ == chunkBIN:
			binChunk, sawBIN = data, true
		}
	}
	if len(jsonChunk) == 0 {
		return nil, fmt.Errorf("%w: empty JSON chunk", ErrInvalid)
	}
	var doc document
	dec := json.NewDecoder(bytes.NewReader(jsonChunk))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: JSON chunk: %v", ErrInvalid, err)
	}
	if rest := bytes.TrimRight(jsonChunk[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("%w: JSON chunk has data after the document", ErrInvalid)
	}
	in := &inspector{doc: &doc, bin: binChunk, sawBIN: sawBIN}
	s, err := in.run()
	if err != nil {
		return nil, err
	}
	s.JSONBytes, s.BINBytes, s.TotalBytes = len(jsonChunk), len(binChunk), len(b)
	return s, nil
}

type inspector struct {
	doc    *document
	bin    []byte
	sawBIN bool
	// buffers[i] is the byte slice of buffer i.
	buffers [][]byte
}

func (in *inspector) run() (*Summary, error) {
	d := in.doc
	if d.Asset.Version != "2.0" {
		return nil, fmt.Errorf("%w: asset.version is %q, want \"2.0\"", ErrInvalid, d.Asset.Version)
	}
	if len(d.ExtensionsRequired) > 0 {
		return nil, fmt.Errorf("%w: requires extensions %v", ErrUnsupported, d.ExtensionsRequired)
	}
	for _, check := range []func() error{in.checkBuffers, in.checkViews, in.checkAccessors} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	s := &Summary{Generator: d.Asset.Generator, Meshes: len(d.Meshes), Materials: len(d.Materials), Nodes: len(d.Nodes)}
	meshTris := make([]int64, len(d.Meshes))
	for mi, m := range d.Meshes {
		if len(m.Primitives) == 0 {
			return nil, fmt.Errorf("%w: mesh %d has no primitives", ErrInvalid, mi)
		}
		for pi, p := range m.Primitives {
			verts, tris, err := in.checkPrimitive(p)
			if err != nil {
				if !errors.Is(err, ErrUnsupported) {
					err = fmt.Errorf("%w: %v", ErrInvalid, err)
				}
				return nil, fmt.Errorf("mesh %d primitive %d: %w", mi, pi, err)
			}
			s.Primitives++
			s.Vertices += verts
			meshTris[mi] += tris
		}
		s.Triangles += meshTris[mi]
	}
	roots, err := in.checkNodes()
	if err != nil {
		return nil, err
	}
	box := newBox()
	if err := in.walk(roots, func(n *node, world *mat4) {
		if n.Mesh == nil {
			return
		}
		s.DrawnTriangles += meshTris[*n.Mesh]
		for _, p := range d.Meshes[*n.Mesh].Primitives {
			in.eachPosition(p.Attributes["POSITION"], func(v [3]float64) { box.add(world.apply(v)) })
		}
	}); err != nil {
		return nil, err
	}
	s.Empty = box.empty()
	if !s.Empty {
		s.BBoxMin, s.BBoxMax = box.lo, box.hi
	}
	return s, nil
}

func (in *inspector) checkBuffers() error {
	for i, b := range in.doc.Buffers {
		if b.ByteLength < 1 {
			return fmt.Errorf("%w: buffer %d byteLength %d < 1", ErrInvalid, i, b.ByteLength)
		}
		if b.URI != "" {
			return fmt.Errorf("%w: buffer %d refers to an external or data URI", ErrUnsupported, i)
		}
		if i != 0 {
			return fmt.Errorf("%w: buffer %d has no URI; only buffer 0 may use the BIN chunk", ErrInvalid, i)
		}
		if !in.sawBIN {
			return fmt.Errorf("%w: buffer 0 has no URI but the file has no BIN chunk", ErrInvalid)
		}
		if b.ByteLength > len(in.bin) || len(in.bin)-b.ByteLength > 3 {
			return fmt.Errorf("%w: buffer 0 byteLength %d does not match the %d-byte BIN chunk", ErrInvalid, b.ByteLength, len(in.bin))
		}
		in.buffers = append(in.buffers, in.bin[:b.ByteLength])
	}
	return nil
}

func (in *inspector) checkViews() error {
	for i, v := range in.doc.BufferViews {
		if v.Buffer < 0 || v.Buffer >= len(in.buffers) {
			return fmt.Errorf("%w: bufferView %d: buffer %d does not exist", ErrInvalid, i, v.Buffer)
		}
		n := len(in.buffers[v.Buffer])
		if v.ByteOffset < 0 || v.ByteLength < 1 || v.ByteOffset > n || v.ByteLength > n-v.ByteOffset {
			return fmt.Errorf("%w: bufferView %d (offset %d, length %d) is outside its %d-byte buffer", ErrInvalid, i, v.ByteOffset, v.ByteLength, n)
		}
		if v.ByteStride != 0 && (v.ByteStride < 4 || v.ByteStride > 252 || v.ByteStride%4 != 0) {
			return fmt.Errorf("%w: bufferView %d byteStride %d", ErrInvalid, i, v.ByteStride)
		}
	}
	return nil
}

// layout returns where accessor a's elements live: element k starts at
// data[k*stride] and is elemSize bytes. data is nil for an accessor without
// a bufferView (all zeros).
func (in *inspector) layout(a *accessor) (data []byte, stride, elemSize int) {
	elemSize = componentSizes[a.ComponentType] * typeComponents[a.Type]
	if a.BufferView == nil {
		return nil, elemSize, elemSize
	}
	v := in.doc.BufferViews[*a.BufferView]
	stride = v.ByteStride
	if stride == 0 {
		stride = elemSize
	}
	return in.buffers[v.Buffer][v.ByteOffset+a.ByteOffset : v.ByteOffset+v.ByteLength], stride, elemSize
}

func (in *inspector) checkAccessors() error {
	for i := range in.doc.Accessors {
		a := &in.doc.Accessors[i]
		cs, ok := componentSizes[a.ComponentType]
		if !ok {
			return fmt.Errorf("%w: accessor %d componentType %d", ErrInvalid, i, a.ComponentType)
		}
		nc, ok := typeComponents[a.Type]
		if !ok {
			return fmt.Errorf("%w: accessor %d type %q", ErrInvalid, i, a.Type)
		}
		if a.Count < 1 || a.Count > math.MaxUint32 {
			return fmt.Errorf("%w: accessor %d count %d is not in [1, 2^32)", ErrInvalid, i, a.Count)
		}
		if a.Sparse != nil {
			return fmt.Errorf("%w: accessor %d is sparse", ErrUnsupported, i)
		}
		if a.ByteOffset < 0 || a.ByteOffset%cs != 0 {
			return fmt.Errorf("%w: accessor %d byteOffset %d is not a multiple of its component size %d", ErrInvalid, i, a.ByteOffset, cs)
		}
		if a.BufferView == nil {
			continue
		}
		if *a.BufferView < 0 || *a.BufferView >= len(in.doc.BufferViews) {
			return fmt.Errorf("%w: accessor %d: bufferView %d does not exist", ErrInvalid, i, *a.BufferView)
		}
		v := in.doc.BufferViews[*a.BufferView]
		elem := cs * nc
		stride := v.ByteStride
		if stride == 0 {
			stride = elem
		}
		if stride < elem {
			return fmt.Errorf("%w: accessor %d: byteStride %d is smaller than its %d-byte elements", ErrInvalid, i, stride, elem)
		}
		if (v.ByteOffset+a.ByteOffset)%cs != 0 {
			return fmt.Errorf("%w: accessor %d is not aligned to its component size %d", ErrInvalid, i, cs)
		}
		// Count*stride could overflow; count can never exceed the view's
		// length since every element takes at least one byte.
		if a.Count > v.ByteLength || a.ByteOffset > v.ByteLength ||
			int64(a.ByteOffset)+int64(stride)*int64(a.Count-1)+int64(elem) > int64(v.ByteLength) {
			return fmt.Errorf("%w: accessor %d (%d x %s from offset %d) runs past its %d-byte bufferView %d",
				ErrInvalid, i, a.Count, a.Type, a.ByteOffset, v.ByteLength, *a.BufferView)
		}
	}
	return nil
}

// checkPrimitive returns the primitive's vertex and triangle counts.
func (in *inspector) checkPrimitive(p primitive) (verts, tris int64, err error) {
	if p.Material != nil && (*p.Material < 0 || *p.Material >= len(in.doc.Materials)) {
		return 0, 0, fmt.Errorf("material %d does not exist", *p.Material)
	}
	posIdx, ok := p.Attributes["POSITION"]
	if !ok {
		return 0, 0, fmt.Errorf("no POSITION attribute")
	}
	for name, idx := range p.Attributes {
		if idx < 0 || idx >= len(in.doc.Accessors) {
			return 0, 0, fmt.Errorf("attribute %s: accessor %d does not exist", name, idx)
		}
	}
	pos := &in.doc.Accessors[posIdx]
	if pos.Type != "VEC3" || pos.ComponentType != compFloat {
		return 0, 0, fmt.Errorf("%w: POSITION is %s of component type %d, want VEC3 FLOAT", ErrUnsupported, pos.Type, pos.ComponentType)
	}
	for name, idx := range p.Attributes {
		if c := in.doc.Accessors[idx].Count; c != pos.Count {
			return 0, 0, fmt.Errorf("attribute %s has %d elements, POSITION has %d", name, c, pos.Count)
		}
	}
	var bad error
	in.eachPosition(posIdx, func(v [3]float64) {
		if bad == nil && !(isFinite(v[0]) && isFinite(v[1]) && isFinite(v[2])) {
			bad = fmt.Errorf("POSITION has a non-finite value %v", v)
		}
	})
	if bad != nil {
		return 0, 0, bad
	}
	count := pos.Count
	if p.Indices != nil {
		if *p.Indices < 0 || *p.Indices >= len(in.doc.Accessors) {
			return 0, 0, fmt.Errorf("indices accessor %d does not exist", *p.Indices)
		}
		ia := &in.doc.Accessors[*p.Indices]
		if ia.Type != "SCALAR" || (ia.ComponentType != compUnsignedByte && ia.ComponentType != compUnsignedShort && ia.ComponentType != compUnsignedInt) {
			return 0, 0, fmt.Errorf("indices accessor %d is %s of component type %d, want an unsigned SCALAR", *p.Indices, ia.Type, ia.ComponentType)
		}
		data, stride, _ := in.layout(ia)
		for k := 0; k < ia.Count && data != nil; k++ {
			var v uint64
			switch e := data[k*stride:]; ia.ComponentType {
			case compUnsignedByte:
				v = uint64(e[0])
			case compUnsignedShort:
				v = uint64(binary.LittleEndian.Uint16(e))
			default:
				v = uint64(binary.LittleEndian.Uint32(e))
			}
			if v >= uint64(pos.Count) {
				return 0, 0, fmt.Errorf("index %d is %d, but POSITION has %d vertices", k, v, pos.Count)
			}
		}
		count = ia.Count
	}
	mode := modeTriangles
	if p.Mode != nil {
		mode = *p.Mode
	}
	switch mode {
	case 0, 1, 2, 3: // points and lines: no triangles
	case modeTriangles:
		if count%3 != 0 {
			return 0, 0, fmt.Errorf("TRIANGLES primitive with %d vertices (not a multiple of 3)", count)
		}
		tris = int64(count / 3)
	case modeTriangleStrip, modeTriangleFan:
		tris = int64(max(count-2, 0))
	default:
		return 0, 0, fmt.Errorf("mode %d", mode)
	}
	return int64(pos.Count), tris, nil
}

// eachPosition calls f with every element of a validated VEC3 FLOAT accessor.
func (in *inspector) eachPosition(idx int, f func([3]float64)) {
	a := &in.doc.Accessors[idx]
	data, stride, _ := in.layout(a)
	if data == nil {
		f([3]float64{}) // no bufferView: every element is zero
		return
	}
	for k := range a.Count {
		var v [3]float64
		e := data[k*stride:]
		for c := range 3 {
			v[c] = float64(math.Float32frombits(binary.LittleEndian.Uint32(e[4*c:])))
		}
		f(v)
	}
}

// checkNodes validates node fields and the hierarchy (every node has at most
// one parent, no cycles) and returns the root nodes to draw.
func (in *inspector) checkNodes() ([]int, error) {
	d := in.doc
	parent := make([]int, len(d.Nodes))
	for i := range parent {
		parent[i] = -1
	}
	for i, n := range d.Nodes {
		if n.Mesh != nil && (*n.Mesh < 0 || *n.Mesh >= len(d.Meshes)) {
			return nil, fmt.Errorf("%w: node %d: mesh %d does not exist", ErrInvalid, i, *n.Mesh)
		}
		for _, spec := range []struct {
			name string
			v    []float64
			n    int
		}{{"matrix", n.Matrix, 16}, {"translation", n.Translation, 3}, {"rotation", n.Rotation, 4}, {"scale", n.Scale, 3}} {
			if spec.v == nil {
				continue
			}
			if len(spec.v) != spec.n {
				return nil, fmt.Errorf("%w: node %d: %s has %d numbers, want %d", ErrInvalid, i, spec.name, len(spec.v), spec.n)
			}
			for _, x := range spec.v {
				if !isFinite(x) {
					return nil, fmt.Errorf("%w: node %d: %s has a non-finite number", ErrInvalid, i, spec.name)
				}
			}
		}
		if n.Matrix != nil && (n.Translation != nil || n.Rotation != nil || n.Scale != nil) {
			return nil, fmt.Errorf("%w: node %d has both a matrix and translation/rotation/scale", ErrInvalid, i)
		}
		for _, c := range n.Children {
			if c < 0 || c >= len(d.Nodes) {
				return nil, fmt.Errorf("%w: node %d: child %d does not exist", ErrInvalid, i, c)
			}
			if parent[c] != -1 {
				return nil, fmt.Errorf("%w: node %d has two parents (%d and %d)", ErrInvalid, c, parent[c], i)
			}
			parent[c] = i
		}
	}
	// With at most one parent each, the nodes reachable from the
	// parentless ones form trees; anything left over sits on a cycle.
	var all []int
	for i, p := range parent {
		if p == -1 {
			all = append(all, i)
		}
	}
	seen := 0
	if err := in.walk(all, func(*node, *mat4) { seen++ }); err != nil {
		return nil, err
	}
	if seen != len(d.Nodes) {
		return nil, fmt.Errorf("%w: the node hierarchy has a cycle", ErrInvalid)
	}
	for si, s := range d.Scenes {
		for _, r := range s.Nodes {
			if r < 0 || r >= len(d.Nodes) {
				return nil, fmt.Errorf("%w: scene %d: node %d does not exist", ErrInvalid, si, r)
			}
			if parent[r] != -1 {
				return nil, fmt.Errorf("%w: scene %d: node %d is not a root (its parent is %d)", ErrInvalid, si, r, parent[r])
			}
		}
	}
	if d.Scene != nil && (*d.Scene < 0 || *d.Scene >= len(d.Scenes)) {
		return nil, fmt.Errorf("%w: default scene %d does not exist", ErrInvalid, *d.Scene)
	}
	switch {
	case d.Scene != nil:
		return d.Scenes[*d.Scene].Nodes, nil
	case len(d.Scenes) > 0:
		return d.Scenes[0].Nodes, nil
	default:
		return all, nil
	}
}

// walk visits the trees under roots depth first with each node's world
// matrix. It must only be called on a hierarchy without shared children, or
// from checkNodes before the cycle check (where it visits each node at most
// once, because every node has at most one parent).
func (in *inspector) walk(roots []int, visit func(*node, *mat4)) error {
	type item struct {
		n      int
		parent mat4
	}
	seen := make([]bool, len(in.doc.Nodes))
	stack := make([]item, 0, len(roots))
	for i := len(roots) - 1; i >= 0; i-- {
		stack = append(stack, item{roots[i], identity()})
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[it.n] {
			return fmt.Errorf("%w: node %d is reached twice", ErrInvalid, it.n)
		}
		seen[it.n] = true
		n := &in.doc.Nodes[it.n]
		world := it.parent.mul(localMatrix(n))
		visit(n, &world)
		for i := len(n.Children) - 1; i >= 0; i-- {
			stack = append(stack, item{n.Children[i], world})
		}
	}
	return nil
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

type box struct{ lo, hi [3]float64 }

func newBox() *box {
	b := &box{}
	for k := range 3 {
		b.lo[k], b.hi[k] = math.Inf(1), math.Inf(-1)
	}
	return b
}

func (b *box) add(v [3]float64) {
	for k := range 3 {
		b.lo[k] = math.Min(b.lo[k], v[k])
		b.hi[k] = math.Max(b.hi[k], v[k])
	}
}

func (b *box) empty() bool { return b.lo[0] > b.hi[0] }
