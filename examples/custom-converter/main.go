// Command custom-converter shows an embedder adding its own CAD converter in
// process, with no plugin subprocess: a type implementing convert.Converter
// is registered in a convert.Registry and handed to parts.Service through
// ConvertOptions. Uploading a STEP file to a part then converts it like the
// cascadio plugin would, with the same cache and the same error reporting.
//
// The converter here, stepbox, is deliberately tiny: it turns a STEP file
// into a GLB box spanning the file's CARTESIAN_POINT coordinates, in the
// file's own length unit. A real one would tessellate the geometry; the
// wiring is the same. An existing in-process converter registers the same
// way, e.g. reg.Register(ctx, stlconv.New()) for STL.
//
// The program uses an in-memory SQLite store and an in-memory file store, so
// it leaves nothing behind:
//
//	go run ./examples/custom-converter              # the bundled sample
//	go run ./examples/custom-converter part.step    # your own file
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/glb"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
	_ "github.com/partflow/partflow/storage/blobfiles" // registers file://, mem://
	_ "github.com/partflow/partflow/storage/bunstore"  // registers sqlite://
)

// sample is a small AP242 part in metres (see testdata/SOURCES.md).
//
//go:embed testdata/material_ap242.step
var sample []byte

func main() {
	name, body := "material_ap242.step", sample
	if len(os.Args) > 1 {
		var err error
		name = filepath.Base(os.Args[1])
		if body, err = os.ReadFile(os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "custom-converter:", err)
			os.Exit(1)
		}
	}
	if err := run(context.Background(), os.Stdout, name, body); err != nil {
		fmt.Fprintln(os.Stderr, "custom-converter:", err)
		os.Exit(1)
	}
}

// run uploads body as a part's CAD file, converts it with stepbox and prints
// the model's statistics; then it shows a cache hit and a rejected file.
func run(ctx context.Context, w io.Writer, name string, body []byte) error {
	d := &demo{ctx: ctx, w: w, conv: &stepBox{}}
	closeAll, err := d.open()
	if err != nil {
		return err
	}
	defer closeAll()
	if err := d.convertOne(name, body); err != nil {
		return err
	}
	if err := d.cacheHit(name, body); err != nil {
		return err
	}
	return d.rejected()
}

// demo holds what run's steps share.
type demo struct {
	ctx  context.Context
	w    io.Writer
	conv *stepBox
	svc  *parts.Service
}

// open makes the service over in-memory stores with stepbox registered, and
// returns what closes the stores.
func (d *demo) open() (closeAll func(), err error) {
	now := func() time.Time { return time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC) }
	store, err := storage.Open(d.ctx, "sqlite://:memory:", &storage.Options{Now: now})
	if err != nil {
		return nil, err
	}
	files, err := storage.OpenFiles(d.ctx, "mem://")
	if err != nil {
		store.Close()
		return nil, err
	}
	closeAll = func() {
		if c, ok := files.(io.Closer); ok { // file stores that hold resources close them
			c.Close()
		}
		store.Close()
	}

	// Register the converter. The registry asks it for Info and routes
	// every conversion it lists (here step->glb) to it.
	reg := convert.NewRegistry()
	if err := reg.Register(d.ctx, d.conv); err != nil {
		closeAll()
		return nil, err
	}
	info, err := d.conv.Info(d.ctx)
	if err != nil {
		closeAll()
		return nil, err
	}
	fmt.Fprintf(d.w, "registered %s %s in process for %v\n", info.Name, info.Version, reg.Conversions())

	d.svc = parts.NewService(store, &parts.Options{
		Now:   now,
		Files: files,
		Convert: parts.ConvertOptions{
			Converters: reg,
			Timeout:    time.Minute,
		},
	})
	return closeAll, nil
}

// newPart creates a part and uploads data to it as its CAD file.
func (d *demo) newPart(partID, fileName string, data []byte) (*parts.Part, error) {
	p, err := d.svc.CreatePart(d.ctx, &parts.Part{PartID: partID, Name: "Side bracket", Type: parts.TypeCNC,
		Material: "Aluminum 6061", Subsystem: "Drivetrain"}, "alice")
	if err != nil {
		return nil, err
	}
	res, err := d.svc.UploadFile(d.ctx, p.ID, parts.Upload{Name: fileName, Body: bytes.NewReader(data), Actor: "alice"})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(d.w, "part #%d %s: uploaded %s (%d bytes), model %s\n", p.ID, partID, res.File.Name, res.File.Size, res.Part.Model.State)
	return res.Part, nil
}

// convertOne converts now (a server would let RunConversions' workers do
// it) and prints the model's statistics.
func (d *demo) convertOne(name string, body []byte) error {
	p, err := d.newPart("DRV-001", name, body)
	if err != nil {
		return err
	}
	p, err = d.svc.ConvertNow(d.ctx, p.ID, "alice")
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	rc, f, err := d.svc.OpenFileOfKind(d.ctx, p.ID, parts.FileModel)
	if err != nil {
		return err
	}
	sum, err := glb.Inspect(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	fmt.Fprintf(d.w, "part #%d model %s: %s (%s, %d bytes)\n", p.ID, p.Model.State, f.Name, f.ContentType, f.Size)
	fmt.Fprintf(d.w, "  meshes=%d materials=%d triangles=%d\n", sum.Meshes, sum.Materials, sum.Triangles)
	fmt.Fprintf(d.w, "  bbox min=%s max=%s\n", vec(sum.BBoxMin), vec(sum.BBoxMax))
	return nil
}

// cacheHit shows that the same file on another part runs no conversion.
func (d *demo) cacheHit(name string, body []byte) error {
	q, err := d.newPart("DRV-002", name, body)
	if err != nil {
		return err
	}
	if q, err = d.svc.ConvertNow(d.ctx, q.ID, "alice"); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	fmt.Fprintf(d.w, "part #%d model %s; stepbox has converted %d file(s) so far\n", q.ID, q.Model.State, d.conv.calls.Load())
	return nil
}

// rejected shows a file the converter rejects: the part records why.
func (d *demo) rejected() error {
	empty := []byte("ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n")
	r, err := d.newPart("DRV-003", "empty.step", empty)
	if err != nil {
		return err
	}
	_, err = d.svc.ConvertNow(d.ctx, r.ID, "alice")
	var ce *parts.ConversionError
	if !errors.As(err, &ce) || !errors.Is(err, convert.ErrInvalidInput) {
		return fmt.Errorf("converting an empty STEP file: got %v, want a ConversionError wrapping ErrInvalidInput", err)
	}
	if r, err = d.svc.FindPartByID(d.ctx, r.ID); err != nil {
		return err
	}
	// Users see one sentence and a reference (random, so not printed here);
	// the converter's own error goes to the log under that reference.
	shown := strings.TrimSuffix(r.Model.Error, " (reference "+ce.Ref+")")
	fmt.Fprintf(d.w, "part #%d model %s: %s (reference ...)\n  logged: %v\n", r.ID, r.Model.State, shown, ce.Err)
	return nil
}

// vec formats a point with 6 significant digits.
func vec(v [3]float64) string {
	return fmt.Sprintf("(%s, %s, %s)", num(v[0]), num(v[1]), num(v[2]))
}

func num(f float64) string {
	if f == 0 {
		f = 0 // no "-0"
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// stepBox is a convert.Converter that turns a STEP file into a GLB box
// spanning its CARTESIAN_POINTs. It follows the contract every converter
// must keep (convert/converttest checks it): sentinel errors, ctx honoured,
// nothing left at OutputPath on failure, safe for concurrent use.
type stepBox struct {
	calls atomic.Int64 // conversions run, to show the cache at work
}

var _ convert.Converter = (*stepBox)(nil)

// Info names the converter and lists its one conversion. Name and Version
// are part of the pipeline's cache key: change Version when the output
// changes.
func (c *stepBox) Info(context.Context) (convert.Info, error) {
	return convert.Info{Name: "stepbox", Version: "1.0.0",
		Conversions: []convert.Conversion{{From: convert.FormatSTEP, To: convert.FormatGLB}}}, nil
}

// point matches a CARTESIAN_POINT('name',(x,y,z)) entity and captures the
// coordinates.
var point = regexp.MustCompile(`CARTESIAN_POINT\s*\(\s*'[^']*'\s*,\s*\(([^)]*)\)`)

// Convert writes the bounding box of req.InputPath's points to
// req.OutputPath as a GLB.
func (c *stepBox) Convert(ctx context.Context, req convert.Request) (*convert.Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stepbox: %w", err)
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("stepbox: %w", err)
	}
	if req.From != convert.FormatSTEP || req.To != convert.FormatGLB {
		return nil, fmt.Errorf("stepbox: %s->%s: %w (only step->glb)", req.From, req.To, convert.ErrUnsupportedFormat)
	}
	start := time.Now()
	c.calls.Add(1)
	data, err := os.ReadFile(req.InputPath)
	if err != nil {
		return nil, fmt.Errorf("stepbox: read input: %w", err) // keeps fs.ErrNotExist
	}
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("ISO-10303-21;")) {
		return nil, fmt.Errorf("stepbox: not a STEP file (no ISO-10303-21; header): %w", convert.ErrInvalidInput)
	}
	lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	n := 0
	for _, m := range point.FindAllSubmatch(data, -1) {
		var xyz [3]float64
		fields := bytes.Split(m[1], []byte(","))
		if len(fields) != 3 {
			continue // a 2D point
		}
		ok := true
		for k, f := range fields {
			v, err := strconv.ParseFloat(string(bytes.TrimSpace(f)), 64)
			ok = ok && err == nil && !math.IsInf(v, 0) && !math.IsNaN(v)
			xyz[k] = v
		}
		if !ok {
			return nil, fmt.Errorf("stepbox: bad CARTESIAN_POINT %q: %w", m[0], convert.ErrInvalidInput)
		}
		for k := range 3 {
			lo[k], hi[k] = min(lo[k], xyz[k]), max(hi[k], xyz[k])
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("stepbox: the file has no 3D CARTESIAN_POINT, so nothing to show: %w", convert.ErrInvalidInput)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stepbox: %w", err)
	}
	out, err := glb.Encode(box(lo, hi))
	if err != nil {
		return nil, fmt.Errorf("stepbox: %w", err)
	}
	// Write next to the target and rename, so a failure never leaves a
	// partial file at OutputPath.
	tmp, err := os.CreateTemp(filepath.Dir(req.OutputPath), ".stepbox-*.glb")
	if err != nil {
		return nil, fmt.Errorf("stepbox: %w", err)
	}
	_, err = tmp.Write(out)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), req.OutputPath)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("stepbox: write output: %w", err)
	}
	return &convert.Stats{Triangles: 12, Meshes: 1, Materials: 1, BBoxMin: lo, BBoxMax: hi,
		OutputBytes: int64(len(out)), Duration: time.Since(start)}, nil
}

// box is a closed box from lo to hi: 8 corners, 12 outward-facing triangles.
func box(lo, hi [3]float64) *glb.Model {
	var pos [][3]float32
	for i := range 8 { // corner i takes hi on axis k when bit k of i is set
		var p [3]float32
		for k := range 3 {
			p[k] = float32(lo[k])
			if i&(1<<k) != 0 {
				p[k] = float32(hi[k])
			}
		}
		pos = append(pos, p)
	}
	idx := []uint32{
		0, 2, 1, 1, 2, 3, // z = lo
		4, 5, 6, 5, 7, 6, // z = hi
		0, 1, 4, 1, 5, 4, // y = lo
		2, 6, 3, 3, 6, 7, // y = hi
		0, 4, 2, 2, 4, 6, // x = lo
		1, 3, 5, 3, 7, 5, // x = hi
	}
	return &glb.Model{
		Meshes:    []glb.Mesh{{Name: "extent", Primitives: []glb.Primitive{{Positions: pos, Indices: idx, Material: 0}}}},
		Materials: []glb.Material{{Name: "extent", BaseColor: [4]float32{0.6, 0.65, 0.85, 1}, DoubleSided: true}},
	}
}
