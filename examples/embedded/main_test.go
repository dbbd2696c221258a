package main

// This test is in package main because a command's run function cannot be
// imported from an external test package.

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/partflow/partflow/internal/golden"
)

func TestRunPrintsTheWalkthrough(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, fixedClock()); err != nil {
		t.Fatalf("run: %v", err)
	}
	golden.Check(t, filepath.Join("testdata", "output.golden"), out.Bytes())
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
