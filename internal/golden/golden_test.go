package golden_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/golden"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, format)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = true
	r.errors = append(r.errors, format)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%v", args...) }

// run calls fn on a goroutine of its own, as testing does, so that a
// Fatal stops fn.
func run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func TestCheck(t *testing.T) {
	if golden.Updating() {
		t.Skip("-update rewrites instead of comparing")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "out.golden")
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		path     string
		got      string
		failures int
		fatal    bool
	}{
		{"equal passes", path, "a\nb\n", 0, false},
		{"different text fails", path, "a\nc\n", 1, false},
		{"different binary fails", path, "a\xff", 1, false},
		{"missing file is fatal", filepath.Join(dir, "none.golden"), "x", 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			run(func() { golden.Check(r, tc.path, []byte(tc.got)) })
			if len(r.errors) != tc.failures || r.fatal != tc.fatal {
				t.Errorf("failures %q (fatal %v), want %d (fatal %v)", r.errors, r.fatal, tc.failures, tc.fatal)
			}
		})
	}
}

func TestJSONIndents(t *testing.T) {
	if golden.Updating() {
		t.Skip("-update rewrites instead of comparing")
	}
	path := filepath.Join(t.TempDir(), "v.golden.json")
	if err := os.WriteFile(path, []byte("{\n  \"a\": [\n    1\n  ]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	run(func() { golden.JSON(r, path, []byte(`{"a":[1]}`)) })
	if len(r.errors) != 0 {
		t.Errorf("compact JSON equal to the indented file: %q", r.errors)
	}
	run(func() { golden.JSON(r, path, []byte(`not json`)) })
	if !r.fatal || !strings.Contains(strings.Join(r.errors, ""), "not JSON") {
		t.Errorf("non-JSON output: %q (fatal %v), want a fatal error", r.errors, r.fatal)
	}
}
