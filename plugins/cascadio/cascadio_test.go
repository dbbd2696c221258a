package cascadio_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/converttest"
	"github.com/partflow/partflow/convert/glb"
	"github.com/partflow/partflow/convert/grpcplugin"
	"github.com/partflow/partflow/internal/fixtures"
)

// sample is what converting one STEP file of the shared test data must give.
// The numbers were measured once with the pinned cascadio (0.1.1, OCCT 8.0)
// at its default tolerances and rounded to the micrometre.
type sample struct {
	file string
	// reason, when set, marks a file the plugin must reject with
	// convert.ErrInvalidInput and an error message containing reason.
	reason string
	// meshes is the GLB's mesh count.
	meshes int
	// colours are the sRGB colours of the STEP file's surface styles
	// (COLOUR_RGB); each must come out as its own GLB material. A file
	// without colours gives a GLB without materials.
	colours [][3]float64
	// bboxMin and bboxMax bound the GLB's geometry in metres.
	bboxMin, bboxMax [3]float64
}

// bboxTol is how far a bounding-box coordinate may be from the table, in
// metres: float32 storage and tessellation noise stay far below it, while a
// unit mistake (inch or millimetre numbers) is far above.
const bboxTol = 1e-5

// colourTol is how far a material's colour, converted back to sRGB, may be
// from the STEP file's COLOUR_RGB (both are 0..1).
const colourTol = 2e-3

var (
	grey    = [3]float64{0.792157, 0.819608, 0.933333} // SolidWorks' default part colour
	samples = []sample{
		{file: "base_interface_ap203.step", meshes: 1, // AP203 has no colours, so no materials
			bboxMin: [3]float64{-0.299706, -0.319331, -0.002381}, bboxMax: [3]float64{0.299702, 0.319331, 0.002381}},
		{file: "base_interface_ap214.step", meshes: 1, colours: [][3]float64{grey}, // two COLOUR_RGB, both this grey
			bboxMin: [3]float64{-0.299706, -0.319331, -0.002381}, bboxMax: [3]float64{0.299702, 0.319331, 0.002381}},
		// colored_screw_ap214.step has two COLOUR_RGB, but only one is a
		// surface colour: its single STYLED_ITEM (#589) assigns the solid a
		// SURFACE_STYLE_USAGE with (0.792, 0.882, 1.0), i.e. RGB
		// 202,225,255, and a CURVE_STYLE with dark grey (0.098, 0.098,
		// 0.098) for its edges. A GLB holds only triangles, so the edge
		// colour has nothing to apply to: one material is right, matching
		// the single colour cascadio's own OBJ test expects.
		{file: "colored_screw_ap214.step", meshes: 1, colours: [][3]float64{{0.792157, 0.882353, 1}},
			bboxMin: [3]float64{-0.0038, -0.003795, -0.014}, bboxMax: [3]float64{0.0038, 0.003795, 0.0022}},
		// 5 x 2.5 x 1.375 in, centred in x and y (cascadio's tests: extents
		// 0.127 x 0.0635 x 0.034925 m).
		{file: "featuretype_ap214.step", meshes: 1, colours: [][3]float64{grey},
			bboxMin: [3]float64{-0.0635, -0.03175, 0}, bboxMax: [3]float64{0.0635, 0.03175, 0.034925}},
		{file: "material_ap242.step", meshes: 1, colours: [][3]float64{{0.615686, 0.811765, 0.929412}},
			bboxMin: [3]float64{0, -0.0254, 0}, bboxMax: [3]float64{0.069946, 0, 0.060356}},
		{file: "no_geometry.step", reason: "no geometry that can be transferred (no shapes)"},
		// Two top-level parts, each with its own colour, so two meshes and
		// two materials.
		{file: "red_cube_blue_cylinder.step", meshes: 2,
			colours: [][3]float64{{0.866667, 0.321569, 0.156863}, {0.231373, 0.380392, 0.705882}},
			bboxMin: [3]float64{-0.01, 0, 0}, bboxMax: [3]float64{0.015, 0.01, 0.01}},
		{file: "truncated_colored_screw.step", reason: "it is truncated (no END-ISO-10303-21; at the end)"},
	}
)

// validSample is the small file converted after a rejected one.
const validSample = "material_ap242.step"

// repoRoot returns the directory holding go.mod, searching upwards from the
// package directory.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// cadDir returns the shared CAD corpus (../shared/testdata/cad beside the
// repository): the test is skipped without it, or fails when
// PARTFLOW_REQUIRE_CORPUS=1 (CI).
func cadDir(tb testing.TB) string {
	tb.Helper()
	return fixtures.Corpus(tb)
}

// boxSample is what the project's own STEP fixture must give: one mesh
// without materials, 20 x 10 x 5 mm from the origin.
var boxSample = sample{file: fixtures.BoxSTEPFile, meshes: 1,
	bboxMax: [3]float64{0.02, 0.01, 0.005}}

// brokenFixtures writes STEP files the plugin must reject into dir: the box
// cut in half, and a well-formed file without any shape.
func brokenFixtures(t *testing.T, dir string) (truncated, empty string) {
	t.Helper()
	box := fixtures.Bytes(fixtures.BoxSTEPFile)
	truncated, empty = filepath.Join(dir, "truncated.step"), filepath.Join(dir, "empty.step")
	for p, data := range map[string][]byte{
		truncated: box[:len(box)/2],
		empty:     []byte("ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('empty'),'2;1');\nFILE_NAME('empty.step','',(''),(''),'','','');\nFILE_SCHEMA(('AUTOMOTIVE_DESIGN'));\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n"),
	} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return truncated, empty
}

// TestFixtureBoxConverts converts the project's STEP box, which needs nothing
// beside the repository, and checks that broken files are rejected clearly
// without costing the process.
func TestFixtureBoxConverts(t *testing.T) {
	p := openPlugin(t, 1)
	startPIDs := pids(p)
	box := fixtures.Path(t, fixtures.BoxSTEPFile)
	t.Run("box.step/converts_to_the_expected_GLB", func(t *testing.T) {
		checkConverted(t, p, boxSample, box)
	})
	truncated, empty := brokenFixtures(t, t.TempDir())
	t.Run("truncated/is_rejected_and_the_same_process_converts_the_next_file", func(t *testing.T) {
		checkRejected(t, p, sample{reason: "it is truncated"}, truncated, box, startPIDs[0])
	})
	t.Run("no_shape/is_rejected_and_the_same_process_converts_the_next_file", func(t *testing.T) {
		checkRejected(t, p, sample{reason: "cascadio could not read the STEP file"}, empty, box, startPIDs[0])
	})
}

// pythonPath returns the plugin virtualenv's python: the one the Makefile
// exports in PARTFLOW_TEST_CASCADIO_PYTHON, else .venv/bin/python here. The
// tests fail rather than skip without it: the plugin is the point.
func pythonPath(tb testing.TB) string {
	tb.Helper()
	var tried []string
	if env := os.Getenv("PARTFLOW_TEST_CASCADIO_PYTHON"); env != "" {
		tried = append(tried, env)
	}
	local, err := filepath.Abs(filepath.Join(".venv", "bin", "python"))
	if err != nil {
		tb.Fatal(err)
	}
	tried = append(tried, local)
	for _, py := range tried {
		if st, err := os.Stat(py); err == nil && !st.IsDir() {
			return py
		}
	}
	tb.Fatalf("the cascadio plugin's virtualenv is missing (looked for %s): run `make venv`", strings.Join(tried, " and "))
	return ""
}

// openPlugin starts the real plugin with poolSize processes; it is closed
// when the test ends.
func openPlugin(tb testing.TB, poolSize int) *grpcplugin.Plugin {
	tb.Helper()
	p, err := grpcplugin.Open(context.Background(), grpcplugin.Config{
		Name:     "cascadio",
		Command:  []string{pythonPath(tb), "-m", "partflow_cascadio"},
		PoolSize: poolSize,
		Timeout:  time.Minute,
		TempDir:  tb.TempDir(),
	})
	if err != nil {
		tb.Fatalf("open the cascadio plugin: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return p
}

func stepRequest(in, out string) convert.Request {
	return convert.Request{InputPath: in, OutputPath: out, From: convert.FormatSTEP, To: convert.FormatGLB}
}

// pids returns the process IDs of the pool's slots (0 for an empty slot).
func pids(p *grpcplugin.Plugin) []int {
	var out []int
	for _, ph := range p.Health().Processes {
		out = append(out, ph.PID)
	}
	return out
}

// TestEverySTEPSampleConverts converts every STEP file in the shared test
// data through one plugin process and checks each GLB against the table;
// the two broken files must be rejected clearly without costing the process.
func TestEverySTEPSampleConverts(t *testing.T) {
	dir := cadDir(t)
	p := openPlugin(t, 1)
	startPIDs := pids(p)
	if len(startPIDs) != 1 || startPIDs[0] == 0 {
		t.Fatalf("pool of one has processes %v", startPIDs)
	}

	var files []string
	for _, pattern := range []string{"*.step", "*.stp", "*.STEP", "*.STP"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	byName := map[string]sample{}
	for _, s := range samples {
		byName[s.file] = s
	}
	for _, f := range files {
		if _, ok := byName[filepath.Base(f)]; !ok {
			t.Errorf("%s has no entry in the samples table: measure it and add one", filepath.Base(f))
		}
		delete(byName, filepath.Base(f))
	}
	for name := range byName {
		t.Errorf("the samples table lists %s, which is not in %s", name, dir)
	}

	for _, s := range samples {
		in := filepath.Join(dir, s.file)
		if s.reason != "" {
			t.Run(s.file+"/is_rejected_and_the_same_process_converts_the_next_file", func(t *testing.T) {
				checkRejected(t, p, s, in, filepath.Join(dir, validSample), startPIDs[0])
			})
			continue
		}
		t.Run(s.file+"/converts_to_the_expected_GLB", func(t *testing.T) {
			checkConverted(t, p, s, in)
		})
	}

	t.Run("featuretype_ap214.step/comes_out_in_metres", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.glb")
		stats, err := p.Convert(t.Context(), stepRequest(filepath.Join(dir, "featuretype_ap214.step"), out))
		if err != nil {
			t.Fatal(err)
		}
		want := [3]float64{0.127, 0.0635, 0.034925} // 5 x 2.5 x 1.375 in
		for k := range 3 {
			got := stats.BBoxMax[k] - stats.BBoxMin[k]
			if math.Abs(got-want[k]) > 1e-3*want[k] {
				t.Errorf("extent %c = %.6f m, want %.6f m (within 0.1%%)", "xyz"[k], got, want[k])
			}
		}
	})

	h := p.Health()
	if got := pids(p); !slices.Equal(got, startPIDs) || h.Restarts != 0 {
		t.Errorf("after all samples: processes %v, restarts %d; want the starting process %v and no restarts", got, h.Restarts, startPIDs)
	}
}

// checkConverted converts in and compares the GLB with s.
func checkConverted(t *testing.T, p *grpcplugin.Plugin, s sample, in string) {
	out := filepath.Join(t.TempDir(), "out.glb")
	stats, err := p.Convert(t.Context(), stepRequest(in, out))
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := glb.InspectBytes(data)
	if err != nil {
		t.Fatalf("output is not a valid GLB: %v", err)
	}
	if sum.Meshes != s.meshes {
		t.Errorf("meshes = %d, want %d", sum.Meshes, s.meshes)
	}
	if sum.Triangles <= 0 || sum.Empty {
		t.Errorf("GLB holds %d triangles (empty scene: %v)", sum.Triangles, sum.Empty)
	}
	if stats.Meshes != int64(sum.Meshes) || stats.Triangles != sum.Triangles || stats.Materials != int64(sum.Materials) ||
		stats.OutputBytes != int64(len(data)) {
		t.Errorf("stats %+v disagree with the GLB (meshes %d, triangles %d, materials %d, %d bytes)",
			*stats, sum.Meshes, sum.Triangles, sum.Materials, len(data))
	}
	for k := range 3 {
		if math.Abs(sum.BBoxMin[k]-s.bboxMin[k]) > bboxTol || math.Abs(sum.BBoxMax[k]-s.bboxMax[k]) > bboxTol {
			t.Errorf("bounding box %.6f..%.6f m, want %.6f..%.6f m (±%g)", sum.BBoxMin, sum.BBoxMax, s.bboxMin, s.bboxMax, bboxTol)
			break
		}
	}
	for k := range 3 {
		if math.Abs(stats.BBoxMin[k]-sum.BBoxMin[k]) > 1e-6 || math.Abs(stats.BBoxMax[k]-sum.BBoxMax[k]) > 1e-6 {
			t.Errorf("stats bounding box %v..%v, GLB's %v..%v", stats.BBoxMin, stats.BBoxMax, sum.BBoxMin, sum.BBoxMax)
			break
		}
	}
	colours, err := materialColours(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(colours) != len(s.colours) || sum.Materials != len(s.colours) {
		t.Fatalf("materials %v (summary: %d), want one per surface colour %v", colours, sum.Materials, s.colours)
	}
	used := make([]bool, len(colours))
	for _, want := range s.colours {
		found := false
		for i, got := range colours {
			if !used[i] && closeColour(got, want) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no material has the STEP colour %v (sRGB); materials: %v", want, colours)
		}
	}
}

// checkRejected converts the broken file in, expects a clear
// ErrInvalidInput, and then converts next on the same process.
func checkRejected(t *testing.T, p *grpcplugin.Plugin, s sample, in, next string, pid int) {
	out := filepath.Join(t.TempDir(), "out.glb")
	stats, err := p.Convert(t.Context(), stepRequest(in, out))
	if !errors.Is(err, convert.ErrInvalidInput) {
		t.Fatalf("Convert = %+v, %v; want ErrInvalidInput", stats, err)
	}
	if !strings.Contains(err.Error(), s.reason) {
		t.Errorf("error %q does not say %q", err, s.reason)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a rejected file left output behind (stat: %v)", err)
	}
	if got := pids(p); len(got) != 1 || got[0] != pid {
		t.Fatalf("after the rejection the pool runs %v, want the same process %d", got, pid)
	}
	out = filepath.Join(t.TempDir(), "next.glb")
	if _, err := p.Convert(t.Context(), stepRequest(next, out)); err != nil {
		t.Fatalf("the next file (%s) failed: %v", filepath.Base(next), err)
	}
	if got := pids(p); len(got) != 1 || got[0] != pid {
		t.Fatalf("the next file ran on %v, want the same process %d", got, pid)
	}
	if h := p.Health(); h.Restarts != 0 {
		t.Errorf("restarts = %d, want 0", h.Restarts)
	}
}

// materialColours returns each GLB material's base colour converted from
// glTF's linear RGB back to sRGB, the space of STEP's COLOUR_RGB. The GLB
// must already have passed glb.InspectBytes.
func materialColours(data []byte) ([][3]float64, error) {
	n := binary.LittleEndian.Uint32(data[12:])
	var doc struct {
		Materials []struct {
			PBR struct {
				BaseColorFactor []float64 `json:"baseColorFactor"`
			} `json:"pbrMetallicRoughness"`
		} `json:"materials"`
	}
	if err := json.Unmarshal(data[20:20+n], &doc); err != nil {
		return nil, fmt.Errorf("GLB JSON chunk: %w", err)
	}
	var out [][3]float64
	for _, m := range doc.Materials {
		c := [3]float64{1, 1, 1} // glTF's default base colour
		for k := 0; k < 3 && k < len(m.PBR.BaseColorFactor); k++ {
			c[k] = linearToSRGB(m.PBR.BaseColorFactor[k])
		}
		out = append(out, c)
	}
	return out, nil
}

func linearToSRGB(v float64) float64 {
	if v <= 0.0031308 {
		return 12.92 * v
	}
	return 1.055*math.Pow(v, 1/2.4) - 0.055
}

func closeColour(a, b [3]float64) bool {
	for k := range 3 {
		if math.Abs(a[k]-b[k]) > colourTol {
			return false
		}
	}
	return true
}

// TestConformance runs the converter conformance suite against the real
// plugin with a pool of two processes, on the project's fixtures and, when
// present, on the shared corpus.
func TestConformance(t *testing.T) {
	t.Run("fixtures", func(t *testing.T) {
		p := openPlugin(t, 2)
		truncated, empty := brokenFixtures(t, t.TempDir())
		converttest.RunConverter(t, p, converttest.Fixtures{
			Valid:   []string{fixtures.Path(t, fixtures.BoxSTEPFile)},
			Invalid: []string{truncated, empty},
		})
	})
	t.Run("corpus", testConformanceCorpus)
}

func testConformanceCorpus(t *testing.T) {
	dir := cadDir(t)
	p := openPlugin(t, 2)
	converttest.RunConverter(t, p, converttest.Fixtures{
		Valid: []string{
			filepath.Join(dir, validSample),
			filepath.Join(dir, "red_cube_blue_cylinder.step"),
			filepath.Join(dir, "colored_screw_ap214.step"),
		},
		Invalid: []string{
			filepath.Join(dir, "truncated_colored_screw.step"),
			filepath.Join(dir, "no_geometry.step"),
		},
	})
}

// directResult is bench_direct.py's JSON output.
type directResult struct {
	Cascadio string                `json:"cascadio"`
	Repeat   int                   `json:"repeat"`
	Files    map[string]directFile `json:"files"`
}

// directFile is bench_direct.py's result for one file.
type directFile struct {
	OK       bool    `json:"ok"`
	MedianMs float64 `json:"median_ms"`
	MinMs    float64 `json:"min_ms"`
}

// direct runs bench_direct.py on one file n times and returns the wall
// times of cascadio.step_to_glb alone, and cascadio's version.
func direct(b *testing.B, py, in string, n int) (directFile, string) {
	b.Helper()
	cmd := exec.Command(py, "bench_direct.py", "-n", strconv.Itoa(n), in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("bench_direct.py: %v\n%s", err, lastLines(stderr.String(), 10))
	}
	var res directResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		b.Fatalf("bench_direct.py printed %q: %v", stdout.String(), err)
	}
	r, ok := res.Files[filepath.Base(in)]
	if !ok || !r.OK || res.Repeat != n {
		b.Fatalf("bench_direct.py result %+v: want %d successful runs of %s", res, n, filepath.Base(in))
	}
	return r, res.Cascadio
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// medianMinMs returns the median and the minimum of ds in milliseconds.
func medianMinMs(ds []time.Duration) (median, least float64) {
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return float64(m) / float64(time.Millisecond), float64(s[0]) / float64(time.Millisecond)
}

// BenchmarkCascadio times each valid STEP sample through a warm plugin
// process (job directory, input copy, gRPC round trip, GLB statistics in
// Python, output move) and, in the same run and with the same number of
// repetitions, cascadio.step_to_glb called directly (bench_direct.py).
// Both are medians; overhead-ms/op is their difference (overhead-min-ms/op
// compares the fastest runs, which a busy machine disturbs less). The
// issue's target is an overhead under 10% of the direct time or 50 ms,
// whichever is larger; a miss is logged, not failed, since it depends on
// the machine's load.
//
//	go test -run '^$' -bench Cascadio -benchtime 5x ./plugins/cascadio
func BenchmarkCascadio(b *testing.B) {
	dir := cadDir(b)
	py := pythonPath(b)
	p := openPlugin(b, 1)
	for _, s := range samples {
		if s.reason != "" {
			continue
		}
		in := filepath.Join(dir, s.file)
		b.Run("plugin/"+s.file, func(b *testing.B) {
			req := stepRequest(in, filepath.Join(b.TempDir(), "out.glb"))
			// One untimed conversion, so the process has read this kind of
			// file before (b.Loop starts the timer on its first call).
			if _, err := p.Convert(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := p.Convert(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			plugin, pluginMin := medianMinMs(times)
			d, version := direct(b, py, in, len(times))
			overhead := plugin - d.MedianMs
			b.ReportMetric(plugin, "plugin-ms/op")
			b.ReportMetric(d.MedianMs, "direct-ms/op")
			b.ReportMetric(overhead, "overhead-ms/op")
			// Minimum-based overhead: less sensitive to a busy machine.
			b.ReportMetric(pluginMin-d.MinMs, "overhead-min-ms/op")
			if target := max(0.1*d.MedianMs, 50); overhead > target {
				b.Logf("%s: overhead %.1f ms is over the target %.1f ms (plugin %.1f ms, direct %.1f ms, cascadio %s)",
					s.file, overhead, target, plugin, d.MedianMs, version)
			}
		})
	}
}
