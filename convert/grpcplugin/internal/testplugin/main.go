// Command testplugin is a converter plugin for grpcplugin's tests. It
// converts stl or step to glb by writing a one-triangle GLB, and misbehaves
// on request: the first word of the input file (of a STEP file, the word
// after ISO-10303-21;) selects what it does.
//
//	crash        exit with status 3 after a line on stderr
//	panic        panic
//	hang         block forever
//	hog          allocate and touch memory until the allocation fails
//	stdout       write garbage to the real stdout, then convert
//	invalid      fail with convert.ErrInvalidInput
//	unsupported  fail with convert.ErrUnsupportedFormat
//	unavailable  fail with convert.ErrUnavailable
//	other        fail with a plain error
//	log          log at info through a slog JSON handler made before Serve
//	             (the README's example), then convert
//	bomb         fail with convert.ErrTooLarge naming the triangle bound, if any
//	slow         take a second (or until cancelled), then convert: a
//	             conversion that is under way long enough to kill its host
//	anything else: convert
//
// With the argument "garbage" it prints a line to stdout before the
// handshake, which must make the host's Open fail; with "othercookie" it
// expects another application's magic cookie, so it refuses the host's.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/glb"
	"github.com/partflow/partflow/convert/grpcplugin"
)

// logger is made as the README's plugin example makes it: before Serve, on
// the process's real stderr.
var logger *slog.Logger

type fake struct{}

func (fake) Info(context.Context) (convert.Info, error) {
	return convert.Info{Name: "testplugin", Version: "1", Conversions: []convert.Conversion{
		{From: convert.FormatSTL, To: convert.FormatGLB},
		{From: convert.FormatSTEP, To: convert.FormatGLB},
	}}, nil
}

func (fake) Convert(ctx context.Context, req convert.Request) (*convert.Stats, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkJobDir(req); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(req.InputPath)
	if err != nil {
		return nil, err
	}
	word := firstWord(data)
	// hclog JSON on os.Stderr (which go-plugin forwards over gRPC): the
	// host routes it into its slog logger.
	fmt.Fprintf(os.Stderr, `{"@level":"warn","@message":"converting","@timestamp":"2026-01-02T15:04:05.000000Z","word":%q}`+"\n", word)
	if err := misbehave(ctx, word, req); err != nil {
		return nil, err
	}
	size := float32(len(data))
	n, err := writeTriangle(req.OutputPath, size)
	if err != nil {
		return nil, err
	}
	return &convert.Stats{
		Triangles: 1, Meshes: 1, Materials: 1,
		BBoxMax:     [3]float64{float64(size), 1, 0},
		OutputBytes: n, Duration: time.Since(start),
	}, nil
}

// checkJobDir checks that the host handed over a private job directory
// holding both files.
func checkJobDir(req convert.Request) error {
	dir := filepath.Dir(req.InputPath)
	if filepath.Dir(req.OutputPath) != dir {
		return fmt.Errorf("input %s and output %s are not in one job directory", req.InputPath, req.OutputPath)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		return fmt.Errorf("job directory %s is not private: %v %v", dir, fi.Mode(), err)
	}
	return nil
}

// misbehave does what the input's first word asks for: crash, panic, hang,
// fail with a given error, write to stdout, log, and so on. A nil error
// means the conversion goes on.
func misbehave(ctx context.Context, word string, req convert.Request) error {
	switch word {
	case "crash":
		// Like native code, write straight to file descriptor 2.
		_, _ = os.NewFile(2, "stderr").WriteString("testplugin: crashing on purpose\n")
		os.Exit(3)
	case "panic":
		panic("boom")
	case "hang":
		<-make(chan struct{})
	case "hog":
		return hog()
	case "stdout":
		_, _ = os.NewFile(1, "stdout").WriteString("garbage on stdout after the handshake\n")
	case "invalid":
		return fmt.Errorf("bad input: %w", convert.ErrInvalidInput)
	case "unsupported":
		return fmt.Errorf("cannot: %w", convert.ErrUnsupportedFormat)
	case "unavailable":
		return fmt.Errorf("license server down: %w", convert.ErrUnavailable)
	case "other":
		return errors.New("something odd happened")
	case "log":
		logger.Info("converting as the README shows", "word", word)
	case "bomb":
		// A file whose mesh would explode: refused up front when the host
		// sends a triangle bound.
		if m := req.Options.MaxTriangles; m != nil {
			return fmt.Errorf("would make about 3000000000 triangles, over the bound of %d: %w", *m, convert.ErrTooLarge)
		}
	case "slow":
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// hog touches up to 4 GiB, so that a memory limit on the process kills it.
func hog() error {
	var keep [][]byte
	for range 64 {
		b := make([]byte, 64<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	return fmt.Errorf("allocated %d chunks without hitting a limit", len(keep))
}

// writeTriangle writes a GLB of one triangle, size wide, to path.
func writeTriangle(path string, size float32) (int64, error) {
	model := &glb.Model{
		Meshes:    []glb.Mesh{{Primitives: []glb.Primitive{{Positions: [][3]float32{{0, 0, 0}, {size, 0, 0}, {0, 1, 0}}, Material: 0}}}},
		Materials: []glb.Material{{BaseColor: [4]float32{1, 0, 0, 1}}},
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := glb.Write(f, model)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "garbage" {
		fmt.Println("hello from a plugin that talks too early")
	}
	logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if len(os.Args) > 1 && os.Args[1] == "othercookie" {
		grpcplugin.Handshake.MagicCookieValue = "another-application"
	}
	grpcplugin.Serve(fake{})
}

// firstWord is the word that selects the behaviour: the first of the file,
// or the second when the first is a STEP file's magic.
func firstWord(data []byte) string {
	words := strings.Fields(string(data))
	if len(words) > 1 && words[0] == "ISO-10303-21;" {
		return words[1]
	}
	if len(words) > 0 {
		return words[0]
	}
	return ""
}
