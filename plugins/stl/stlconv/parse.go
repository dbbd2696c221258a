package stlconv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/partflow/partflow/convert"
)

// Triangle is one STL facet.
type Triangle struct {
	// Normal is the facet normal as stored in the file; it may be zero or
	// wrong, since many exporters do not fill it in.
	Normal [3]float32
	// Vertices are the corners in the stored order.
	Vertices [3][3]float32
}

// Solid is a named group of triangles: one per "solid" block of an ASCII
// file, or the whole of a binary file (named after its header when the
// header is printable text).
type Solid struct {
	Name      string
	Triangles []Triangle
}

// IsBinary reports whether data has the exact size of a binary STL with the
// triangle count stored at offset 80.
func IsBinary(data []byte) bool {
	if len(data) < 84 {
		return false
	}
	n := uint64(binary.LittleEndian.Uint32(data[80:]))
	return uint64(len(data)) == 84+50*n
}

// Parse reads a binary or ASCII STL. It fails with an error matching
// convert.ErrInvalidInput when data is neither, is truncated, has a
// non-finite vertex, or holds no triangle at all.
func Parse(data []byte) ([]Solid, error) {
	var (
		solids []Solid
		err    error
	)
	switch {
	case IsBinary(data):
		solids, err = parseBinary(data)
	case bytes.IndexByte(data, 0) >= 0 && len(data) >= 84:
		// Text STL never holds NUL bytes; this is a damaged binary file.
		n := uint64(binary.LittleEndian.Uint32(data[80:]))
		return nil, invalid("binary file of %d bytes, but its %d triangles need %d (truncated?)", len(data), n, 84+50*n)
	default:
		solids, err = parseASCII(data)
	}
	if err != nil {
		return nil, err
	}
	total := 0
	for _, s := range solids {
		total += len(s.Triangles)
	}
	if total == 0 {
		return nil, invalid("the file holds no triangles")
	}
	return solids, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("stl: %s: %w", fmt.Sprintf(format, args...), convert.ErrInvalidInput)
}

func parseBinary(data []byte) ([]Solid, error) {
	n := int(binary.LittleEndian.Uint32(data[80:]))
	tris := make([]Triangle, n)
	for i := range tris {
		rec := data[84+50*i:]
		var f [12]float32
		for k := range f {
			f[k] = math.Float32frombits(binary.LittleEndian.Uint32(rec[4*k:]))
		}
		t := Triangle{Normal: [3]float32{f[0], f[1], f[2]}}
		for v := range 3 {
			t.Vertices[v] = [3]float32{f[3+3*v], f[4+3*v], f[5+3*v]}
			if !finite3(t.Vertices[v]) {
				return nil, invalid("binary triangle %d has a non-finite vertex %v", i, t.Vertices[v])
			}
		}
		tris[i] = t
	}
	return []Solid{{Name: headerName(data[:80]), Triangles: tris}}, nil
}

// headerName returns the binary header as a name when it is printable text
// (after an optional "solid " prefix), or "".
func headerName(h []byte) string {
	h = bytes.TrimRight(h, "\x00 ")
	for _, c := range h {
		if c < 0x20 || c > 0x7e {
			return ""
		}
	}
	s := strings.TrimSpace(string(h))
	if rest, ok := strings.CutPrefix(s, "solid"); ok && (rest == "" || rest[0] == ' ') {
		s = strings.TrimSpace(rest)
	}
	return s
}

// parseASCII reads
//
//	solid [name]
//	  facet normal nx ny nz
//	    outer loop
//	      vertex x y z   (three times)
//	    endloop
//	  endfacet
//	endsolid [name]
//
// with any number of solids and facets; keywords are case-insensitive.
func parseASCII(data []byte) ([]Solid, error) {
	var p asciiParser
	lineNo, size := 0, len(data)
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		lineNo++
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		if msg := p.line(fields); msg != "" {
			if p.unexpected && len(p.solids) == 0 {
				return nil, invalid("neither binary (size %d is not 84 + 50 x the stored triangle count) nor ASCII (no \"solid\" line)", size)
			}
			return nil, invalid("line %d: %s", lineNo, msg)
		}
	}
	if len(p.solids) == 0 {
		return nil, invalid("empty file")
	}
	if p.state != outside {
		return nil, invalid("file ends inside a solid (truncated? no \"endsolid\")")
	}
	return p.solids, nil
}

// Where an ASCII parser stands in the grammar.
const (
	outside = iota
	inSolid
	inFacet
	inLoop
	loopDone
)

// asciiParser holds what parseASCII has read so far.
type asciiParser struct {
	solids     []Solid
	tri        Triangle
	nv         int // vertices of tri read so far
	state      int
	unexpected bool // the last error is a keyword out of place
}

// line reads one non-empty line's fields and returns "" or what is wrong
// with it.
func (p *asciiParser) line(fields []string) string {
	switch kw := strings.ToLower(fields[0]); {
	case kw == "solid" && p.state == outside:
		p.solids = append(p.solids, Solid{Name: strings.Join(fields[1:], " ")})
		p.state = inSolid
	case kw == "endsolid" && p.state == inSolid:
		p.state = outside
	case kw == "facet" && p.state == inSolid:
		return p.facet(fields)
	case kw == "outer" && p.state == inFacet:
		if len(fields) != 2 || strings.ToLower(fields[1]) != "loop" {
			return `want "outer loop"`
		}
		p.nv, p.state = 0, inLoop
	case kw == "vertex" && p.state == inLoop:
		return p.vertex(fields)
	case kw == "endloop" && p.state == inLoop:
		if p.nv != 3 {
			return fmt.Sprintf("facet has %d vertices, want 3", p.nv)
		}
		p.state = loopDone
	case kw == "endfacet" && p.state == loopDone:
		cur := &p.solids[len(p.solids)-1]
		cur.Triangles = append(cur.Triangles, p.tri)
		p.state = inSolid
	default:
		p.unexpected = true
		return fmt.Sprintf("unexpected %q", truncate(fields[0], 40))
	}
	return ""
}

// facet reads "facet normal nx ny nz".
func (p *asciiParser) facet(fields []string) string {
	if len(fields) != 5 || strings.ToLower(fields[1]) != "normal" {
		return `want "facet normal nx ny nz"`
	}
	n, err := parseVec(fields[2:])
	if err != nil {
		return fmt.Sprintf("facet normal: %v", err)
	}
	p.tri = Triangle{Normal: n}
	p.state = inFacet
	return ""
}

// vertex reads "vertex x y z", at most three to a facet.
func (p *asciiParser) vertex(fields []string) string {
	if p.nv == 3 {
		return "more than three vertices in a facet"
	}
	if len(fields) != 4 {
		return `want "vertex x y z"`
	}
	v, err := parseVec(fields[1:])
	if err != nil {
		return fmt.Sprintf("vertex: %v", err)
	}
	p.tri.Vertices[p.nv] = v
	p.nv++
	return ""
}

func parseVec(fields []string) ([3]float32, error) {
	var v [3]float32
	for i, f := range fields {
		x, err := strconv.ParseFloat(f, 32)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return v, fmt.Errorf("%q is not a finite number", truncate(f, 40))
		}
		v[i] = float32(x)
	}
	return v, nil
}

func finite3(v [3]float32) bool {
	for _, c := range v {
		if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
