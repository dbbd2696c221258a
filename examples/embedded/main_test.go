package main

// This test is in package main because a command's run function cannot be
// imported from an external test package.

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/output.golden")

func TestRunPrintsTheWalkthrough(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, fixedClock()); err != nil {
		t.Fatalf("run: %v", err)
	}
	golden := filepath.Join("testdata", "output.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", golden, out.Bytes(), want)
	}
}

func TestRunIsDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := run(t.Context(), &a, fixedClock()); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), &b, fixedClock()); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("two runs printed different output:\n%s\n---\n%s", a.String(), b.String())
	}
}
