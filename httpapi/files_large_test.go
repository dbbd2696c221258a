package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

var largeFile = flag.Bool("largefile", false, "run TestLargeFileMemory (50 MiB upload and download, RSS and throughput)")

// largeSize is the size of the measured file.
const largeSize = 50 << 20

// maxRSSGrowth is the most the process's peak RSS may grow above idle.
const maxRSSGrowth = 64 << 20

// procStatus reads a "kB" field of /proc/self/status, in bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parse %s: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// settle returns the idle RSS after a GC and resets the high-water mark
// (writing 5 to clear_refs), reporting whether the reset worked.
func settle(t *testing.T) (idle int64, hwmReset bool) {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	idle = procStatus(t, "VmRSS")
	hwmReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	return idle, hwmReset
}

// stepStream generates n bytes of a STEP-looking file without holding them:
// a header, then letters copied from a 64 KiB random table.
type stepStream struct {
	n, off int64
	table  []byte
}

func (s *stepStream) Read(p []byte) (int, error) {
	if s.off >= s.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.n-s.off)]
	i := 0
	if s.off == 0 {
		i = copy(p, "ISO-10303-21;\n")
	}
	for i < len(p) {
		pos := (s.off + int64(i)) % int64(len(s.table))
		i += copy(p[i:], s.table[pos:])
	}
	s.off += int64(len(p))
	return len(p), nil
}

func newStepStream(n int64) *stepStream {
	rng := rand.New(rand.NewPCG(1, 2))
	table := make([]byte, 64<<10)
	for i := range table {
		table[i] = 'A' + byte(rng.IntN(26))
	}
	return &stepStream{n: n, table: table}
}

// TestLargeFileMemory uploads and downloads a 50 MiB file through the handler
// on a real 127.0.0.1 listener with the file:// store, and checks that the
// process's peak RSS stays under 64 MiB above idle (the body is streamed,
// never buffered). Run it with:
//
//	go test ./httpapi -run TestLargeFileMemory -largefile -v
func TestLargeFileMemory(t *testing.T) {
	if !*largeFile {
		t.Skip("measurement; enable with -largefile")
	}
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	srv := httptest.NewUnstartedServer(e.h)
	srv.Listener = listen(t)
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}

	want := sha256.New()
	if _, err := io.Copy(want, newStepStream(largeSize)); err != nil {
		t.Fatal(err)
	}
	wantSum := hex.EncodeToString(want.Sum(nil))

	// Upload: the multipart body is produced on the fly through a pipe.
	idle, reset := settle(t)
	if !reset {
		t.Logf("cannot reset VmHWM (clear_refs not writable): the peak includes earlier activity")
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "large.step")
		if err == nil {
			_, err = io.Copy(fw, newStepStream(largeSize))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest("POST", srv.URL+p+"/upload", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-API-Key", adminKey)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	upTime := time.Since(start)
	upPeak := procStatus(t, "VmHWM")
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	var up struct {
		File struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"file"`
	}
	if err := json.Unmarshal(body, &up); err != nil || up.File.SHA256 != wantSum || up.File.Size != largeSize {
		t.Fatalf("upload answer %s (%v), want sha %s", body, err, wantSum)
	}
	upGrowth := upPeak - idle

	// Download into a hash.
	idle2, _ := settle(t)
	req, _ = http.NewRequest("GET", srv.URL+p+"/download", nil)
	req.Header.Set("X-API-Key", adminKey)
	start = time.Now()
	resp, err = client.Do(req)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	resp.Body.Close()
	downTime := time.Since(start)
	downPeak := procStatus(t, "VmHWM")
	if err != nil || n != largeSize || hex.EncodeToString(got.Sum(nil)) != wantSum {
		t.Fatalf("download: %d bytes, %v, sha mismatch=%v", n, err, hex.EncodeToString(got.Sum(nil)) != wantSum)
	}
	downGrowth := downPeak - idle2

	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	rate := func(d time.Duration) string { return fmt.Sprintf("%.0f MiB/s", float64(largeSize)/(1<<20)/d.Seconds()) }
	t.Logf("upload   50 MiB in %v (%s): idle RSS %s, peak %s, growth %s", upTime.Round(time.Millisecond), rate(upTime), mib(idle), mib(upPeak), mib(upGrowth))
	t.Logf("download 50 MiB in %v (%s): idle RSS %s, peak %s, growth %s", downTime.Round(time.Millisecond), rate(downTime), mib(idle2), mib(downPeak), mib(downGrowth))
	for _, g := range []struct {
		what   string
		growth int64
	}{{"upload", upGrowth}, {"download", downGrowth}} {
		if g.growth > maxRSSGrowth {
			t.Errorf("%s: peak RSS grew %s above idle, want under %s", g.what, mib(g.growth), mib(maxRSSGrowth))
		}
	}
}
