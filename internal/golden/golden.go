package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files from the tests' output")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Check compares got with the file at path. With -update it first writes
// got there (making the directory). A difference is a test error naming
// the file, with a line diff when both sides are text and the sizes when
// not; a missing file is fatal.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	if utf8.Valid(got) && utf8.Valid(want) {
		t.Errorf("%s differs (-want +got; run go test with -update to accept):\n%s", path, cmp.Diff(string(want), string(got)))
		return
	}
	t.Errorf("%s differs: %d bytes, want %d (run go test with -update to accept)", path, len(got), len(want))
}

// JSON checks got, a JSON document, indented by two spaces with a final
// newline, against the file at path (see Check).
func JSON(t testing.TB, path string, got []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: the output is not JSON: %v", path, err)
	}
	pretty, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	Check(t, path, append(pretty, '\n'))
}
