//go:build linux

// These tests inspect /proc and use Linux-only RLIMIT_AS behaviour.

package grpcplugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/converttest"
	"github.com/partflow/partflow/convert/glb"
	"github.com/partflow/partflow/convert/grpcplugin"
)

// testPlugin is the path of internal/testplugin, built once by TestMain.
var testPlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "grpcplugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugin = filepath.Join(dir, "testplugin")
	build := exec.Command("go", "build", "-o", testPlugin, "./internal/testplugin")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test plugin:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// open starts the test plugin and checks, when the test ends, that Close
// left no child process and no job directory behind.
func open(t *testing.T, cfg grpcplugin.Config) *grpcplugin.Plugin {
	t.Helper()
	if cfg.Command == nil {
		cfg.Command = []string{testPlugin}
	}
	if cfg.TempDir == "" {
		cfg.TempDir = t.TempDir()
	}
	p, err := grpcplugin.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertNoChildren(t)
		if entries, _ := os.ReadDir(cfg.TempDir); len(entries) != 0 {
			t.Errorf("Close left %v in the temp dir", entries)
		}
	})
	return p
}

// children lists the PIDs of this test process's children running the test
// plugin, from /proc.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("listing /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the parenthesised command: state ppid ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func assertNoChildren(t *testing.T) {
	t.Helper()
	if pids := children(t); len(pids) != 0 {
		t.Errorf("child processes still running: %v", pids)
	}
}

// assertGone checks that pid has exited and been reaped.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("no PID to check (%d)", pid)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists (kill 0: %v)", pid, err)
	}
}

func pids(p *grpcplugin.Plugin) []int {
	var out []int
	for _, ph := range p.Health().Processes {
		out = append(out, ph.PID)
	}
	return out
}

// input writes an STL-named input file whose first word drives the test
// plugin.
func input(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.stl")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func request(t *testing.T, content string) convert.Request {
	return convert.Request{
		InputPath:  input(t, content),
		OutputPath: filepath.Join(t.TempDir(), "out.glb"),
		From:       convert.FormatSTL,
		To:         convert.FormatGLB,
	}
}

// convertOK converts a harmless input and checks the output.
func convertOK(t *testing.T, p *grpcplugin.Plugin) {
	t.Helper()
	req := request(t, "fine input")
	stats, err := p.Convert(context.Background(), req)
	if err != nil {
		t.Fatalf("Convert(ok): %v", err)
	}
	data, err := os.ReadFile(req.OutputPath)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := glb.InspectBytes(data)
	if err != nil {
		t.Fatalf("output: %v", err)
	}
	if sum.Triangles != 1 || stats.Triangles != 1 || stats.OutputBytes != int64(len(data)) || sum.BBoxMax[0] != float64(len("fine input")) {
		t.Errorf("stats %+v, summary %+v", stats, sum)
	}
}

func TestConformance(t *testing.T) {
	p := open(t, grpcplugin.Config{PoolSize: 2})
	converttest.RunConverter(t, p, converttest.Fixtures{
		Valid:   []string{input(t, "part one"), input(t, "a second part")},
		Invalid: []string{input(t, "invalid content")},
	})
}

func TestOpenAppliesDefaultsAndCachesInfo(t *testing.T) {
	p := open(t, grpcplugin.Config{})
	h := p.Health()
	if h.Name != "testplugin" || h.Info.Name != "testplugin" || len(h.Processes) != grpcplugin.DefaultPoolSize || h.Processes[0].PID == 0 {
		t.Fatalf("Health() = %+v", h)
	}
	calls := h.Processes[0].Calls
	for range 3 {
		if _, err := p.Info(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Health().Processes[0].Calls; got != calls {
		t.Errorf("Info made %d calls to the plugin after the first success, want 0", got-calls)
	}
	if err := p.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got := p.Health().Processes[0].Calls; got != calls+1 {
		t.Errorf("Ping made %d calls, want 1", got-calls)
	}
}

func TestErrorsMapToSentinels(t *testing.T) {
	p := open(t, grpcplugin.Config{})
	tests := []struct {
		content string
		want    error
		msg     string
	}{
		{"invalid", convert.ErrInvalidInput, "bad input"},
		{"unsupported", convert.ErrUnsupportedFormat, "cannot"},
		{"unavailable", convert.ErrUnavailable, "license server down"},
		{"other", nil, "something odd happened"},
	}
	for _, tt := range tests {
		name := tt.content + "_is_" + fmt.Sprint(tt.want)
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			req := request(t, tt.content)
			_, err := p.Convert(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.msg)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			for _, s := range []error{convert.ErrInvalidInput, convert.ErrUnsupportedFormat, convert.ErrUnavailable, convert.ErrCrashed, convert.ErrTimeout} {
				if s != tt.want && errors.Is(err, s) {
					t.Errorf("error %v also matches %v", err, s)
				}
			}
			if _, err := os.Stat(req.OutputPath); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("failed conversion left output behind")
			}
			convertOK(t, p)
		})
	}
	t.Run("unlisted_conversion_is_ErrUnsupportedFormat", func(t *testing.T) {
		req := request(t, "fine")
		req.From = convert.FormatIGES
		if _, err := p.Convert(context.Background(), req); !errors.Is(err, convert.ErrUnsupportedFormat) {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestTimeoutKillsProcessAndNextCallRestarts(t *testing.T) {
	p := open(t, grpcplugin.Config{Timeout: 500 * time.Millisecond})
	old := pids(p)[0]
	start := time.Now()
	_, err := p.Convert(context.Background(), request(t, "hang"))
	if !errors.Is(err, convert.ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("timeout took %v to report", elapsed)
	}
	if !strings.Contains(err.Error(), "within 500ms") {
		t.Errorf("error %q does not say what the limit was", err)
	}
	assertGone(t, old)
	if h := p.Health(); h.Processes[0].PID != 0 || h.Restarts != 1 || !strings.Contains(h.Processes[0].LastError, "did not finish") {
		t.Errorf("after a timeout Health() = %+v", h)
	}
	convertOK(t, p)
	if now := pids(p)[0]; now == old || now == 0 {
		t.Errorf("next call ran on PID %d, want a fresh process (old %d)", now, old)
	}
}

func TestCrashIsReportedAndNextCallRestarts(t *testing.T) {
	tests := []struct {
		content string
		msg     []string
	}{
		{"crash", []string{"exit status 3", "crashing on purpose"}},
		{"panic", []string{"exit status 2", "panic: boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.content+"_is_ErrCrashed", func(t *testing.T) {
			p := open(t, grpcplugin.Config{})
			old := pids(p)[0]
			_, err := p.Convert(context.Background(), request(t, tt.content))
			if !errors.Is(err, convert.ErrCrashed) {
				t.Fatalf("error = %v, want ErrCrashed", err)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			assertGone(t, old)
			convertOK(t, p)
		})
	}
}

func TestFailuresDoNotDisturbOtherProcesses(t *testing.T) {
	p := open(t, grpcplugin.Config{PoolSize: 2, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hung := make(chan error, 1)
	go func() {
		_, err := p.Convert(ctx, request(t, "hang"))
		hung <- err
	}()
	// Wait until the hanging call holds a process (the plugin is an external
	// process, so this polls with a deadline).
	poll := time.NewTicker(2 * time.Millisecond)
	defer poll.Stop()
	deadline := time.After(30 * time.Second)
	for busy := false; !busy; {
		for _, ph := range p.Health().Processes {
			busy = busy || ph.Busy
		}
		if busy {
			break
		}
		select {
		case <-poll.C:
		case <-deadline:
			t.Fatal("the hanging call never got a process")
		}
	}
	// While one process hangs, the other keeps converting, including
	// after a crash on it.
	for _, content := range []string{"ok", "crash", "ok", "ok"} {
		_, err := p.Convert(context.Background(), request(t, content))
		if content == "crash" {
			if !errors.Is(err, convert.ErrCrashed) {
				t.Fatalf("crash: error = %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Convert(%s) beside a hanging call: %v", content, err)
		}
	}
	select {
	case err := <-hung:
		t.Fatalf("hanging call returned early: %v", err)
	default:
	}
	var hungPID int
	for _, ph := range p.Health().Processes {
		if ph.Busy {
			hungPID = ph.PID
		}
	}
	start := time.Now()
	cancel()
	if err := <-hung; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: error = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("cancellation took %v", elapsed)
	}
	assertGone(t, hungPID)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { convertOK(t, p) })
	}
	wg.Wait()
}

func TestMemoryLimitStopsARunawayPlugin(t *testing.T) {
	// An idle Go plugin already reserves about 1.7 GiB of address space.
	p := open(t, grpcplugin.Config{MemoryLimit: 2560 << 20})
	_, err := p.Convert(context.Background(), request(t, "hog"))
	if !errors.Is(err, convert.ErrCrashed) || !errors.Is(err, convert.ErrOutOfMemory) {
		t.Fatalf("error = %v, want ErrCrashed and ErrOutOfMemory", err)
	}
	if !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("error %q does not say the plugin ran out of memory", err)
	}
	convertOK(t, p)
}

func TestGarbageBeforeHandshakeFailsOpen(t *testing.T) {
	tmp := t.TempDir()
	_, err := grpcplugin.Open(context.Background(), grpcplugin.Config{Command: []string{testPlugin, "garbage"}, TempDir: tmp})
	if !errors.Is(err, convert.ErrUnavailable) {
		t.Fatalf("Open error = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "hello from a plugin") {
		t.Errorf("error %q does not show the unexpected output", err)
	}
	assertNoChildren(t)
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("failed Open left %v behind", entries)
	}
}

// TestCookieMismatchIsNamed: a program expecting another magic cookie is
// reported as such, not as a generic handshake failure.
func TestCookieMismatchIsNamed(t *testing.T) {
	_, err := grpcplugin.Open(context.Background(), grpcplugin.Config{Name: "foreign", Command: []string{testPlugin, "othercookie"}, TempDir: t.TempDir()})
	if !errors.Is(err, convert.ErrUnavailable) {
		t.Fatalf("Open error = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "refused Partflow's magic cookie") || !strings.Contains(err.Error(), "foreign") {
		t.Errorf("error %q does not name the cookie mismatch and the plugin", err)
	}
	assertNoChildren(t)
}

func TestGarbageAfterHandshakeIsIgnored(t *testing.T) {
	p := open(t, grpcplugin.Config{})
	req := request(t, "stdout")
	if _, err := p.Convert(context.Background(), req); err != nil {
		t.Fatalf("Convert: %v", err)
	}
	convertOK(t, p)
}

func TestOpenRejectsBadCommands(t *testing.T) {
	tests := []struct {
		name string
		cmd  []string
	}{
		{"empty_command", nil},
		{"missing_binary", []string{filepath.Join(t.TempDir(), "nope")}},
		{"not_a_plugin", []string{"/bin/true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"_fails", func(t *testing.T) {
			_, err := grpcplugin.Open(context.Background(), grpcplugin.Config{Command: tt.cmd, TempDir: t.TempDir(), StartTimeout: 5 * time.Second})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			assertNoChildren(t)
		})
	}
}

func TestCloseKillsBusyAndIdleProcesses(t *testing.T) {
	tmp := t.TempDir()
	p, err := grpcplugin.Open(context.Background(), grpcplugin.Config{Command: []string{testPlugin}, PoolSize: 3, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	all := pids(p)
	hung := make(chan error, 1)
	go func() {
		_, err := p.Convert(context.Background(), request(t, "hang"))
		hung <- err
	}()
	// Wait until the hanging call holds a process (our own state, so a
	// short poll is fine).
	for deadline := time.Now().Add(10 * time.Second); ; {
		busy := false
		for _, ph := range p.Health().Processes {
			busy = busy || ph.Busy
		}
		if busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hanging call never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-hung; !errors.Is(err, convert.ErrUnavailable) {
		t.Errorf("call interrupted by Close: error = %v, want ErrUnavailable", err)
	}
	for _, pid := range all {
		assertGone(t, pid)
	}
	assertNoChildren(t)
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("Close left %v behind", entries)
	}
	if _, err := p.Convert(context.Background(), request(t, "ok")); !errors.Is(err, convert.ErrUnavailable) {
		t.Errorf("Convert after Close: error = %v, want ErrUnavailable", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// recorder is a slog.Handler that keeps records.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
	// handled, when set, receives the records as they are handled (while
	// its buffer has room; a full buffer drops them rather than block).
	handled chan slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	if r.handled != nil {
		select {
		case r.handled <- rec.Clone():
		default:
		}
	}
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// TestSlogJSONOnRealStderrKeepsItsLevel is the README's Go plugin example: a
// slog JSON handler made on os.Stderr before Serve writes to the process's
// real stderr; its info lines must reach the host's log at info, not debug.
func TestSlogJSONOnRealStderrKeepsItsLevel(t *testing.T) {
	var buf syncBuf
	host := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p := open(t, grpcplugin.Config{Logger: host})
	if _, err := p.Convert(context.Background(), request(t, "log this")); err != nil {
		t.Fatal(err)
	}
	// The stderr pipe is read asynchronously; Close waits for it.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "converting as the README shows" {
			if m["level"] != "INFO" || m["word"] != "log" {
				t.Errorf("host log line %s: want level INFO and word log", line)
			}
			return
		}
	}
	t.Errorf("the plugin's info line is not in the host's info log:\n%s", buf.String())
}

// syncBuf is a goroutine-safe buffer.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPluginLogsReachSlog(t *testing.T) {
	rec := &recorder{handled: make(chan slog.Record, 1024)}
	p := open(t, grpcplugin.Config{Logger: slog.New(rec)})
	convertOK(t, p)
	// What a Go plugin writes to os.Stderr reaches the host over go-plugin's
	// gRPC stdio stream, asynchronously: wait for the record itself.
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-rec.handled:
			if r.Message != "converting" {
				continue
			}
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			if r.Level != slog.LevelWarn || attrs["word"] != "fine" {
				t.Errorf("plugin log record: level %v attrs %v", r.Level, attrs)
			}
			return
		case <-timeout:
			rec.mu.Lock()
			defer rec.mu.Unlock()
			t.Fatalf("the plugin's JSON log line never reached slog (%d records)", len(rec.records))
		}
	}
}

func TestOutputBoundsReachThePluginAndAreChecked(t *testing.T) {
	p := open(t, grpcplugin.Config{})
	bomb := request(t, "bomb")
	bomb.Options.MaxTriangles = convert.Ptr[int64](5_000_000)
	_, err := p.Convert(context.Background(), bomb)
	if !errors.Is(err, convert.ErrTooLarge) || !strings.Contains(err.Error(), "5000000") {
		t.Fatalf("bomb with a bound: %v, want ErrTooLarge naming the bound the plugin received", err)
	}
	// A plugin that ignores a bound is held to it by the host.
	small := request(t, "fine")
	small.Options.MaxOutputBytes = convert.Ptr[int64](10)
	if _, err := p.Convert(context.Background(), small); !errors.Is(err, convert.ErrTooLarge) {
		t.Fatalf("output over MaxOutputBytes: %v, want ErrTooLarge", err)
	}
	if _, err := os.Stat(small.OutputPath); err == nil {
		t.Error("an output over the bound was left at OutputPath")
	}
	convertOK(t, p)
}
