package main

// This test is in package main because a command's run function and types
// cannot be imported from an external test package.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partflow/partflow/convert/converttest"
	"github.com/partflow/partflow/internal/golden"
)

// TestRunPrintsTheModelStats runs the walkthrough and compares its output
// with testdata/output.golden.
func TestRunPrintsTheModelStats(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, "material_ap242.step", sample); err != nil {
		t.Fatalf("run: %v", err)
	}
	golden.Check(t, filepath.Join("testdata", "output.golden"), out.Bytes())
	// The box spans the part's points: 0.069946 x 0.0254 x 0.060356 m,
	// the same extent cascadio's tessellation of this file has.
	if !strings.Contains(out.String(), "bbox min=(0, -0.0254, 0) max=(0.0699461, 0, 0.0603564)") {
		t.Errorf("output lacks the part's extent:\n%s", out.String())
	}
}

// TestProgramRunsWithAFileArgument runs the program as a user would, on a
// file given on the command line.
func TestProgramRunsWithAFileArgument(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "custom-converter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, filepath.Join("testdata", "material_ap242.step")).CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	golden.Check(t, filepath.Join("testdata", "output.golden"), out)

	missing := exec.Command(bin, filepath.Join(t.TempDir(), "missing.step"))
	if out, err := missing.CombinedOutput(); err == nil || !strings.Contains(string(out), "no such file") {
		t.Errorf("missing file: err %v, output %q; want a failure naming the problem", err, out)
	}
}

// TestStepBoxPassesTheConformanceSuite checks the example converter against
// the contract every converter must keep; an embedder's own converter
// should pass the same suite.
func TestStepBoxPassesTheConformanceSuite(t *testing.T) {
	dir := t.TempDir()
	invalid := map[string]string{
		"no_points.step":  "ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n",
		"not_step.step":   "solid cube\nendsolid cube\n",
		"bad_point.step":  "ISO-10303-21;\nDATA;\n#1=CARTESIAN_POINT('',(1.,x,3.));\nENDSEC;\n",
		"empty_file.step": "",
	}
	var invalidPaths []string
	for name, body := range invalid {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		invalidPaths = append(invalidPaths, p)
	}
	converttest.RunConverter(t, &stepBox{}, converttest.Fixtures{
		Valid:   []string{filepath.Join("testdata", "material_ap242.step")},
		Invalid: invalidPaths,
	})
}
