package convert_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/partflow/partflow/convert"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want convert.Format
	}{
		{"step", convert.FormatSTEP},
		{"STEP", convert.FormatSTEP},
		{".stp", convert.FormatSTEP},
		{" p21 ", convert.FormatSTEP},
		{"IGS", convert.FormatIGES},
		{".iges", convert.FormatIGES},
		{"stl", convert.FormatSTL},
		{".GLB", convert.FormatGLB},
	}
	for _, tt := range tests {
		t.Run(tt.in+"_is_"+string(tt.want), func(t *testing.T) {
			got, err := convert.ParseFormat(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, in := range []string{"", "obj", ".", "st", "gltf"} {
		t.Run(fmt.Sprintf("%q_is_unsupported", in), func(t *testing.T) {
			_, err := convert.ParseFormat(in)
			if !errors.Is(err, convert.ErrUnsupportedFormat) {
				t.Fatalf("ParseFormat(%q) error = %v, want ErrUnsupportedFormat", in, err)
			}
			if !strings.Contains(err.Error(), "step, iges, stl, glb") {
				t.Errorf("error %q does not list the known formats", err)
			}
		})
	}
}

func TestFormatFromPath(t *testing.T) {
	tests := []struct {
		path string
		want convert.Format
		err  error
	}{
		{"/tmp/part.STP", convert.FormatSTEP, nil},
		{"a.b/part.igs", convert.FormatIGES, nil},
		{"cube.stl", convert.FormatSTL, nil},
		{"out.glb", convert.FormatGLB, nil},
		{"noext", "", convert.ErrUnsupportedFormat},
		{"dir.stl/noext", "", convert.ErrUnsupportedFormat},
		{"model.obj", "", convert.ErrUnsupportedFormat},
	}
	for _, tt := range tests {
		name := tt.path + "_is_" + string(tt.want)
		if tt.err != nil {
			name = tt.path + "_is_unsupported"
		}
		t.Run(name, func(t *testing.T) {
			got, err := convert.FormatFromPath(tt.path)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("FormatFromPath(%q) = %q, %v; want %q, %v", tt.path, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestFormatKnown(t *testing.T) {
	for _, f := range convert.Formats() {
		if !f.Known() {
			t.Errorf("%q.Known() = false", f)
		}
		if f.Ext() != "."+string(f) {
			t.Errorf("%q.Ext() = %q", f, f.Ext())
		}
	}
	for _, f := range []convert.Format{"", "stp", "STEP", "obj"} {
		if f.Known() {
			t.Errorf("%q.Known() = true, want false (only canonical names are known)", f)
		}
	}
}

func TestRequestValidate(t *testing.T) {
	valid := convert.Request{InputPath: "in.stl", OutputPath: "out.glb", From: convert.FormatSTL, To: convert.FormatGLB}
	tests := []struct {
		name   string
		modify func(*convert.Request)
		want   error
	}{
		{"valid_request_passes", func(*convert.Request) {}, nil},
		{"valid_tolerances_pass", func(r *convert.Request) {
			r.Options = convert.Options{LinearTolerance: convert.Ptr(0.1), AngularTolerance: convert.Ptr(0.5), MergePrimitives: convert.Ptr(false)}
		}, nil},
		{"empty_input_is_invalid", func(r *convert.Request) { r.InputPath = "" }, convert.ErrInvalidInput},
		{"empty_output_is_invalid", func(r *convert.Request) { r.OutputPath = "" }, convert.ErrInvalidInput},
		{"same_paths_are_invalid", func(r *convert.Request) { r.OutputPath = "./in.stl" }, convert.ErrInvalidInput},
		{"zero_tolerance_is_invalid", func(r *convert.Request) { r.Options.LinearTolerance = convert.Ptr(0.0) }, convert.ErrInvalidInput},
		{"nan_tolerance_is_invalid", func(r *convert.Request) { r.Options.AngularTolerance = convert.Ptr(math.NaN()) }, convert.ErrInvalidInput},
		{"unknown_from_is_unsupported", func(r *convert.Request) { r.From = "obj" }, convert.ErrUnsupportedFormat},
		{"alias_to_is_unsupported", func(r *convert.Request) { r.To = "gltf" }, convert.ErrUnsupportedFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid
			tt.modify(&r)
			err := r.Validate()
			if tt.want == nil && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

// fakeConverter is a tiny in-memory Converter: it records the requests it
// receives and supports the conversions it is given.
type fakeConverter struct {
	info convert.Info
	mu   sync.Mutex
	reqs []convert.Request
}

func (f *fakeConverter) Info(context.Context) (convert.Info, error) { return f.info, nil }

func (f *fakeConverter) Convert(_ context.Context, req convert.Request) (*convert.Stats, error) {
	if !f.info.Supports(req.From, req.To) {
		return nil, convert.ErrUnsupportedFormat
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	return &convert.Stats{Meshes: 1}, nil
}

type failingInfo struct{ *fakeConverter }

func (*failingInfo) Info(context.Context) (convert.Info, error) {
	return convert.Info{}, convert.ErrUnavailable
}

func newFake(name string, cs ...convert.Conversion) *fakeConverter {
	return &fakeConverter{info: convert.Info{Name: name, Version: "1", Conversions: cs}}
}

var (
	stepToGLB = convert.Conversion{From: convert.FormatSTEP, To: convert.FormatGLB}
	igesToGLB = convert.Conversion{From: convert.FormatIGES, To: convert.FormatGLB}
	stlToGLB  = convert.Conversion{From: convert.FormatSTL, To: convert.FormatGLB}
)

func TestRegistryLookup(t *testing.T) {
	ctx := context.Background()
	reg := convert.NewRegistry()
	cad := newFake("cad", stepToGLB, igesToGLB)
	stl := newFake("stl", stlToGLB)
	for _, c := range []convert.Converter{cad, stl} {
		if err := reg.Register(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("registered_pairs_find_their_converter", func(t *testing.T) {
		for c, want := range map[convert.Conversion]convert.Converter{stepToGLB: cad, igesToGLB: cad, stlToGLB: stl} {
			got, err := reg.Lookup(c.From, c.To)
			if err != nil || got != want {
				t.Errorf("Lookup(%s) = %v, %v", c, got, err)
			}
		}
	})
	t.Run("unknown_pair_is_unsupported_and_lists_known", func(t *testing.T) {
		_, err := reg.Lookup(convert.FormatGLB, convert.FormatSTEP)
		if !errors.Is(err, convert.ErrUnsupportedFormat) {
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(err.Error(), "iges->glb, step->glb, stl->glb") {
			t.Errorf("error %q does not list registered conversions", err)
		}
	})
	t.Run("convert_dispatches_to_converter", func(t *testing.T) {
		req := convert.Request{InputPath: "a.stl", OutputPath: "a.glb", From: convert.FormatSTL, To: convert.FormatGLB}
		if _, err := reg.Convert(ctx, req); err != nil {
			t.Fatal(err)
		}
		if len(stl.reqs) != 1 || stl.reqs[0] != req {
			t.Errorf("stl converter got %v", stl.reqs)
		}
		if len(cad.reqs) != 0 {
			t.Errorf("cad converter got %v", cad.reqs)
		}
	})
	t.Run("conversions_are_sorted", func(t *testing.T) {
		got := fmt.Sprint(reg.Conversions())
		if want := "[iges->glb step->glb stl->glb]"; got != want {
			t.Errorf("Conversions() = %s, want %s", got, want)
		}
	})
}

func TestRegistryRegisterRejects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		conv convert.Converter
		want error
	}{
		{"nil_converter", nil, nil},
		{"no_conversions", newFake("empty"), nil},
		{"unknown_format", newFake("obj", convert.Conversion{From: "obj", To: convert.FormatGLB}), convert.ErrUnsupportedFormat},
		{"failing_info", &failingInfo{newFake("x", stlToGLB)}, convert.ErrUnavailable},
		{"duplicate_conversion", newFake("second", stlToGLB, stepToGLB), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+"_is_rejected", func(t *testing.T) {
			reg := convert.NewRegistry()
			if err := reg.Register(ctx, newFake("first", stlToGLB)); err != nil {
				t.Fatal(err)
			}
			err := reg.Register(ctx, tt.conv)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Register = %v, want an error matching %v", err, tt.want)
			}
			if got := fmt.Sprint(reg.Conversions()); got != "[stl->glb]" {
				t.Errorf("after a rejected Register, Conversions() = %s", got)
			}
		})
	}
}

func TestRegistryConcurrentUse(t *testing.T) {
	ctx := context.Background()
	reg := convert.NewRegistry()
	formats := convert.Formats()
	var wg sync.WaitGroup
	for i, from := range formats {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := reg.Register(ctx, newFake(fmt.Sprint(i), convert.Conversion{From: from, To: convert.FormatGLB})); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = reg.Lookup(from, convert.FormatGLB)
				_ = reg.Conversions()
			}
		}()
	}
	wg.Wait()
	if n := len(reg.Conversions()); n != len(formats) {
		t.Fatalf("registered %d conversions, want %d", n, len(formats))
	}
}
