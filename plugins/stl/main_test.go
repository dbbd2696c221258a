package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/converttest"
	"github.com/partflow/partflow/convert/grpcplugin"
	"github.com/partflow/partflow/internal/fixtures"
	"github.com/partflow/partflow/plugins/stl/stlconv"
)

// TestPluginEndToEnd builds this program, runs it through grpcplugin.Open
// and puts it through the converter conformance suite.
func TestPluginEndToEnd(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "stl")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p, err := grpcplugin.Open(context.Background(), grpcplugin.Config{Command: []string{bin}, PoolSize: 2, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	info, err := p.Info(context.Background())
	if err != nil || info.Name != stlconv.Name || info.Version != stlconv.Version {
		t.Fatalf("Info() = %+v, %v", info, err)
	}

	valid := []string{
		filepath.Join(fixtures.Dir(), fixtures.BoxSTLFile),
		filepath.Join(fixtures.Dir(), fixtures.TwoCubesSTLFile),
		filepath.Join(fixtures.Dir(), fixtures.CubeSolidHeaderSTLFile),
	}
	dir := t.TempDir()
	var invalid []string
	for name, data := range map[string]string{
		"text.stl":      "this is not an STL file\n",
		"truncated.stl": "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		invalid = append(invalid, p)
	}
	converttest.RunConverter(t, p, converttest.Fixtures{Valid: valid, Invalid: invalid})

	t.Run("plugin_output_equals_in_process_output", func(t *testing.T) {
		for _, in := range valid {
			viaPlugin := filepath.Join(t.TempDir(), "plugin.glb")
			inProcess := filepath.Join(t.TempDir(), "local.glb")
			for _, c := range []struct {
				conv convert.Converter
				out  string
			}{{p, viaPlugin}, {stlconv.New(), inProcess}} {
				req := convert.Request{InputPath: in, OutputPath: c.out, From: convert.FormatSTL, To: convert.FormatGLB}
				if _, err := c.conv.Convert(context.Background(), req); err != nil {
					t.Fatalf("%s: %v", in, err)
				}
			}
			a, _ := os.ReadFile(viaPlugin)
			b, _ := os.ReadFile(inProcess)
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s: plugin output (%d bytes) differs from in-process output (%d bytes)", in, len(a), len(b))
			}
		}
	})
}

// BenchmarkPluginConvertFeaturetype measures a conversion through the plugin
// process (job directory, copy, gRPC round trip, move); compare with
// stlconv's BenchmarkConvertFeaturetype for the overhead.
func BenchmarkPluginConvertFeaturetype(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "stl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	p, err := grpcplugin.Open(context.Background(), grpcplugin.Config{Command: []string{bin}, TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	req := convert.Request{
		InputPath:  fixtures.CorpusFile(b, "featuretype_binary.stl"),
		OutputPath: filepath.Join(b.TempDir(), "out.glb"),
		From:       convert.FormatSTL, To: convert.FormatGLB,
	}
	for b.Loop() {
		if _, err := p.Convert(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
