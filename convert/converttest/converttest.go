package converttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/glb"
)

// Fixtures are the inputs RunConverter feeds the converter. Each file's
// format is taken from its extension (convert.FormatFromPath).
type Fixtures struct {
	// Valid lists inputs the converter must convert. At least one.
	Valid []string
	// Invalid lists inputs in a supported format that the converter must
	// reject with convert.ErrInvalidInput. At least one.
	Invalid []string
	// To is the output format; empty means convert.FormatGLB, the only one
	// whose output the suite can check.
	To convert.Format
	// Prompt bounds how long a call with an already cancelled context may
	// take; zero means 5 seconds.
	Prompt time.Duration
}

// RunConverter runs the conformance suite against conv as subtests of t.
// Conversions write into t.TempDir(); the input files are never modified.
func RunConverter(t *testing.T, conv convert.Converter, fx Fixtures) {
	t.Helper()
	if len(fx.Valid) == 0 || len(fx.Invalid) == 0 {
		t.Fatal("converttest: Fixtures need at least one Valid and one Invalid input")
	}
	if fx.To == "" {
		fx.To = convert.FormatGLB
	}
	if fx.Prompt == 0 {
		fx.Prompt = 5 * time.Second
	}
	s := &suite{conv: conv, fx: fx}
	t.Run("info_lists_the_fixture_conversions", s.testInfo)
	t.Run("valid_input_converts", func(t *testing.T) {
		for _, in := range fx.Valid {
			t.Run(filepath.Base(in), func(t *testing.T) { s.convertValid(t, in) })
		}
	})
	t.Run("existing_output_is_replaced", s.testReplace)
	t.Run("unsupported_conversion_is_ErrUnsupportedFormat", s.testUnsupported)
	t.Run("unknown_format_is_ErrUnsupportedFormat", s.testUnknownFormat)
	t.Run("invalid_input_is_ErrInvalidInput", func(t *testing.T) {
		for _, in := range fx.Invalid {
			t.Run(filepath.Base(in), func(t *testing.T) { s.testInvalid(t, in) })
		}
	})
	t.Run("missing_input_is_ErrNotExist", s.testMissing)
	t.Run("cancelled_context_returns_promptly", s.testCancelled)
	t.Run("concurrent_conversions_succeed", s.testConcurrent)
}

type suite struct {
	conv convert.Converter
	fx   Fixtures
}

func (s *suite) request(t *testing.T, in string) convert.Request {
	t.Helper()
	from, err := convert.FormatFromPath(in)
	if err != nil {
		t.Fatalf("fixture %s: %v", in, err)
	}
	return convert.Request{
		InputPath:  in,
		OutputPath: filepath.Join(t.TempDir(), "out"+s.fx.To.Ext()),
		From:       from,
		To:         s.fx.To,
	}
}

func (s *suite) testInfo(t *testing.T) {
	info, err := s.conv.Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Name == "" {
		t.Error("Info().Name is empty")
	}
	if len(info.Conversions) == 0 {
		t.Error("Info().Conversions is empty")
	}
	for _, c := range info.Conversions {
		if !c.From.Known() || !c.To.Known() {
			t.Errorf("Info() lists %s, which uses an unknown format", c)
		}
	}
	for _, in := range append(append([]string{}, s.fx.Valid...), s.fx.Invalid...) {
		req := s.request(t, in)
		if !info.Supports(req.From, req.To) {
			t.Errorf("Info() does not list %s->%s, needed by fixture %s", req.From, req.To, in)
		}
	}
}

// convertValid converts in and checks the output against the stats.
func (s *suite) convertValid(t *testing.T, in string) {
	t.Helper()
	req := s.request(t, in)
	before, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := s.conv.Convert(context.Background(), req)
	if err != nil {
		t.Fatalf("Convert(%s): %v", in, err)
	}
	if stats == nil {
		t.Fatalf("Convert(%s) returned nil stats and no error", in)
	}
	after, err := os.ReadFile(in)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("Convert modified or removed its input %s (read error %v)", in, err)
	}
	checkOutput(t, req.OutputPath, stats)
}

func checkOutput(t *testing.T, path string, stats *convert.Stats) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading output: %v", err)
	}
	sum, err := glb.InspectBytes(data)
	if err != nil {
		t.Fatalf("output is not a valid GLB: %v", err)
	}
	if stats.OutputBytes != int64(len(data)) {
		t.Errorf("Stats.OutputBytes = %d, output file has %d bytes", stats.OutputBytes, len(data))
	}
	if stats.Triangles <= 0 || stats.Triangles != sum.Triangles {
		t.Errorf("Stats.Triangles = %d, output holds %d", stats.Triangles, sum.Triangles)
	}
	if stats.Meshes != int64(sum.Meshes) {
		t.Errorf("Stats.Meshes = %d, output holds %d", stats.Meshes, sum.Meshes)
	}
	if stats.Materials != int64(sum.Materials) {
		t.Errorf("Stats.Materials = %d, output holds %d", stats.Materials, sum.Materials)
	}
	if sum.Empty {
		t.Errorf("output draws no geometry")
	}
	for k := range 3 {
		if !near(stats.BBoxMin[k], sum.BBoxMin[k]) || !near(stats.BBoxMax[k], sum.BBoxMax[k]) {
			t.Errorf("Stats bbox %v..%v, output's world bbox %v..%v", stats.BBoxMin, stats.BBoxMax, sum.BBoxMin, sum.BBoxMax)
			break
		}
	}
	if stats.Duration < 0 {
		t.Errorf("Stats.Duration = %v", stats.Duration)
	}
}

// near compares bounding-box coordinates, allowing for float32 storage.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-6*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func (s *suite) testReplace(t *testing.T) {
	req := s.request(t, s.fx.Valid[0])
	if err := os.WriteFile(req.OutputPath, []byte("stale output"), 0o600); err != nil {
		t.Fatal(err)
	}
	stats, err := s.conv.Convert(context.Background(), req)
	if err != nil {
		t.Fatalf("Convert over an existing output: %v", err)
	}
	checkOutput(t, req.OutputPath, stats)
}

// noOutput fails the test if a failed conversion left something behind.
func noOutput(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed conversion left %s behind (stat error %v)", path, err)
	}
}

func (s *suite) testUnsupported(t *testing.T) {
	info, err := s.conv.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req := s.request(t, s.fx.Valid[0])
	found := false
	for _, from := range convert.Formats() {
		for _, to := range convert.Formats() {
			if !found && !info.Supports(from, to) {
				req.From, req.To, found = from, to, true
			}
		}
	}
	if !found {
		t.Skip("the converter claims every conversion between known formats")
	}
	_, err = s.conv.Convert(context.Background(), req)
	if !errors.Is(err, convert.ErrUnsupportedFormat) {
		t.Fatalf("Convert %s->%s: error = %v, want ErrUnsupportedFormat", req.From, req.To, err)
	}
	noOutput(t, req.OutputPath)
}

func (s *suite) testUnknownFormat(t *testing.T) {
	for _, mod := range []struct {
		name string
		set  func(*convert.Request)
	}{
		{"from", func(r *convert.Request) { r.From = "obj" }},
		{"to", func(r *convert.Request) { r.To = "usdz" }},
	} {
		req := s.request(t, s.fx.Valid[0])
		mod.set(&req)
		_, err := s.conv.Convert(context.Background(), req)
		if !errors.Is(err, convert.ErrUnsupportedFormat) {
			t.Errorf("unknown %s format: error = %v, want ErrUnsupportedFormat", mod.name, err)
		}
		noOutput(t, req.OutputPath)
	}
}

func (s *suite) testInvalid(t *testing.T, in string) {
	req := s.request(t, in)
	stats, err := s.conv.Convert(context.Background(), req)
	if !errors.Is(err, convert.ErrInvalidInput) {
		t.Fatalf("Convert(%s): stats %+v, error = %v, want ErrInvalidInput", in, stats, err)
	}
	noOutput(t, req.OutputPath)
	// The converter must still work afterwards.
	s.convertValid(t, s.fx.Valid[0])
}

func (s *suite) testMissing(t *testing.T) {
	req := s.request(t, s.fx.Valid[0])
	req.InputPath = filepath.Join(t.TempDir(), "missing"+req.From.Ext())
	_, err := s.conv.Convert(context.Background(), req)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Convert of a missing file: error = %v, want one matching fs.ErrNotExist", err)
	}
	noOutput(t, req.OutputPath)
}

func (s *suite) testCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := s.request(t, s.fx.Valid[0])
	start := time.Now()
	_, err := s.conv.Convert(ctx, req)
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) && !errors.Is(err, convert.ErrTimeout) {
		t.Fatalf("Convert with a cancelled context: error = %v, want context.Canceled or ErrTimeout", err)
	}
	if elapsed > s.fx.Prompt {
		t.Errorf("Convert with a cancelled context took %v, more than %v", elapsed, s.fx.Prompt)
	}
	noOutput(t, req.OutputPath)
	s.convertValid(t, s.fx.Valid[0])
}

func (s *suite) testConcurrent(t *testing.T) {
	const n = 4
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		in := s.fx.Valid[i%len(s.fx.Valid)]
		req := s.request(t, in)
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats, err := s.conv.Convert(context.Background(), req)
			if err != nil {
				errs <- fmt.Errorf("concurrent Convert(%s): %w", in, err)
				return
			}
			if _, err := os.Stat(req.OutputPath); err != nil || stats == nil {
				errs <- fmt.Errorf("concurrent Convert(%s): no output (%v)", in, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
