package grpcplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/partflow/partflow/convert"
	convertpb "github.com/partflow/partflow/convert/proto"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultPoolSize     = 1
	DefaultTimeout      = 120 * time.Second
	DefaultMemoryLimit  = 4 << 30 // 4 GiB
	DefaultStartTimeout = time.Minute
)

// Config describes a plugin program and how to run it.
type Config struct {
	// Name identifies the plugin in logs and errors; empty means the base
	// name of Command[0].
	Name string
	// Command is the program and its arguments, e.g.
	// {"/usr/libexec/partflow/stl"} or {"python3", "-m", "partflow_cascadio"}.
	Command []string
	// Env holds extra "KEY=value" entries for the plugin's environment.
	// The plugin does not inherit the host's environment: it gets PATH,
	// HOME, TMPDIR, LANG and LC_ALL from the host, then Env, then the
	// go-plugin handshake variables.
	Env []string
	// PoolSize is the number of warm processes; each converts one file at
	// a time. Zero means DefaultPoolSize.
	PoolSize int
	// Timeout bounds each conversion; the process is killed when it
	// expires. Zero means DefaultTimeout.
	Timeout time.Duration
	// MemoryLimit caps each process's address space in bytes (RLIMIT_AS,
	// Linux only). Zero means DefaultMemoryLimit; negative means no limit.
	// Address space is larger than resident memory: leave headroom for
	// thread stacks and runtime reservations.
	MemoryLimit int64
	// StartTimeout bounds the plugin's start-up handshake. Zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// TempDir is where job directories are created; it should be on the
	// same file system as the output paths so results are renamed rather
	// than copied. Empty means os.TempDir().
	TempDir string
	// Logger receives go-plugin's and the plugin's log lines. Nil discards
	// them.
	Logger *slog.Logger
}

// Plugin is a pool of running plugin processes. It implements
// convert.Converter and io.Closer and is safe for concurrent use.
type Plugin struct {
	cfg  Config
	log  *slog.Logger
	root string // holds the job directories
	// sockets holds one socket directory per process: root, or a
	// fallback directory when root's path is too long (see socketBase).
	sockets  string
	fallback bool
	slots    []*slot
	idle     chan *slot

	mu       sync.Mutex
	closed   bool
	closing  chan struct{}
	info     *convert.Info
	restarts int64
	inflight sync.WaitGroup
}

// slot is one pool position; its process is replaced after a crash or
// timeout. Fields other than id are guarded by Plugin.mu.
type slot struct {
	id      int
	proc    *proc
	busy    bool
	calls   int64
	lastErr string
}

// proc is one running plugin process.
type proc struct {
	client  *plugin.Client
	cmd     *exec.Cmd
	rpc     convertpb.ConverterClient
	pid     int
	started time.Time
	stderr  *tailWriter
	kill    sync.Once
	// sockDir holds the process's unix socket; stop removes it.
	sockDir string
}

var (
	_ convert.Converter = (*Plugin)(nil)
	_ io.Closer         = (*Plugin)(nil)
)

// Open starts cfg.PoolSize plugin processes, checks the handshake, applies
// the memory limit and fetches the plugin's Info. On failure every process
// it started is gone again and the error matches convert.ErrUnavailable.
// The caller must Close the returned Plugin.
func Open(ctx context.Context, cfg Config) (*Plugin, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("grpcplugin: Config.Command is empty")
	}
	if cfg.Name == "" {
		cfg.Name = filepath.Base(cfg.Command[0])
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = DefaultPoolSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := os.MkdirTemp(cfg.TempDir, rootPrefix+safeName(cfg.Name)+"-")
	if err != nil {
		return nil, fmt.Errorf("grpcplugin: open %s: job directory: %w", cfg.Name, err)
	}
	sockets, fallback, err := socketBase(root, log.With("plugin", cfg.Name))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("grpcplugin: open %s: socket directory: %w", cfg.Name, err), os.RemoveAll(root))
	}
	p := &Plugin{
		cfg:      cfg,
		log:      log.With("plugin", cfg.Name),
		root:     root,
		sockets:  sockets,
		fallback: fallback,
		idle:     make(chan *slot, cfg.PoolSize),
		closing:  make(chan struct{}),
	}
	for i := range cfg.PoolSize {
		p.slots = append(p.slots, &slot{id: i})
	}
	// Start the processes in parallel; each slot goes to the idle queue.
	errs := make([]error, cfg.PoolSize)
	var wg sync.WaitGroup
	for i, s := range p.slots {
		wg.Go(func() { errs[i] = p.ensure(s) })
	}
	wg.Wait()
	for _, s := range p.slots {
		p.idle <- s
	}
	if err := errors.Join(errs...); err != nil {
		_ = p.Close()
		return nil, err
	}
	if _, err := p.Info(ctx); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == '*' {
			return '_'
		}
		return r
	}, s)
}

// hostEnv lists the host variables a plugin inherits.
var hostEnv = []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"}

// cookieRefused reports whether a plugin's stderr says it did not accept the
// magic cookie: go-plugin's Serve ("... not meant to be executed directly")
// and the cascadio plugin ("... not meant to be run directly") print this
// when the cookie is missing or another application's.
func cookieRefused(stderr string) bool {
	return strings.Contains(stderr, "not meant to be executed directly") || strings.Contains(stderr, "not meant to be run directly")
}

// start launches one process and completes the handshake.
func (p *Plugin) start() (*proc, error) {
	cmd := exec.Command(p.cfg.Command[0], p.cfg.Command[1:]...)
	for _, k := range hostEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, p.cfg.Env...)
	sockDir, err := p.socketDir()
	if err != nil {
		return nil, fmt.Errorf("grpcplugin: start %s: %w: %w", p.cfg.Name, err, convert.ErrUnavailable)
	}
	cmd.Env = append(cmd.Env, plugin.EnvUnixSocketDir+"="+sockDir)
	isolate(cmd)
	tail := newTailWriter(5)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          pluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     p.cfg.StartTimeout,
		Logger:           newHCLogAdapter(p.log),
		Stderr:           tail,
		SyncStderr:       newLineLogger(p.log, tail, "stderr"),
		SyncStdout:       newLineLogger(p.log, nil, "stdout"),
		SkipHostEnv:      true,
	})
	fail := func(step string, err error) (*proc, error) {
		client.Kill()
		os.RemoveAll(sockDir)
		lines := tail.String()
		msg := fmt.Sprintf("grpcplugin: start %s: %s: %v", p.cfg.Name, step, err)
		if step == "handshake" && cookieRefused(lines) {
			msg = fmt.Sprintf("grpcplugin: start %s: handshake: the program refused Partflow's magic cookie (%s): "+
				"it is not a Partflow converter plugin, or one built for another handshake", p.cfg.Name, Handshake.MagicCookieKey)
		}
		if lines != "" {
			msg += "; stderr: " + lines
		}
		return nil, fmt.Errorf("%s: %w", msg, convert.ErrUnavailable)
	}
	rpcClient, err := client.Client()
	if err != nil {
		return fail("handshake", err)
	}
	raw, err := rpcClient.Dispense(PluginName)
	if err != nil {
		return fail("dispense", err)
	}
	conv, ok := raw.(convertpb.ConverterClient)
	if !ok {
		return fail("dispense", fmt.Errorf("unexpected client type %T", raw))
	}
	pr := &proc{client: client, cmd: cmd, rpc: conv, pid: cmd.Process.Pid, started: time.Now(), stderr: tail, sockDir: sockDir}
	if p.cfg.MemoryLimit > 0 && memoryLimitSupported {
		if err := limitMemory(pr.pid, p.cfg.MemoryLimit); err != nil {
			return fail("memory limit", err)
		}
	}
	p.log.Debug("plugin process started", "pid", pr.pid)
	return pr, nil
}

// ensure gives slot s a live process, starting one if needed.
func (p *Plugin) ensure(s *slot) error {
	p.mu.Lock()
	pr := s.proc
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("grpcplugin: %s is closed: %w", p.cfg.Name, convert.ErrUnavailable)
	}
	if pr != nil && !pr.client.Exited() {
		return nil
	}
	if pr != nil {
		p.discard(s, pr, false)
	}
	pr, err := p.start()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		s.lastErr = err.Error()
		return err
	}
	if p.closed { // Close ran while we were starting
		go pr.stop(false)
		return fmt.Errorf("grpcplugin: %s is closed: %w", p.cfg.Name, convert.ErrUnavailable)
	}
	s.proc = pr
	return nil
}

// stop ends the process: unless graceful, it first sends SIGKILL to the
// process group; then go-plugin closes the connection (asking the plugin to
// shut down, then killing it after 2 s) and reaps it. Safe to call twice.
func (pr *proc) stop(graceful bool) {
	pr.kill.Do(func() {
		// Kill the whole group (helpers included) only while the leader
		// is unreaped, so the group ID cannot have been reused.
		if !graceful && !pr.client.Exited() {
			killGroup(pr.pid)
		}
		pr.client.Kill() // waits for the process to be reaped
		os.RemoveAll(pr.sockDir)
	})
}

// discard kills s's process pr and clears the slot.
func (p *Plugin) discard(s *slot, pr *proc, graceful bool) {
	pr.stop(graceful)
	p.mu.Lock()
	if s.proc == pr {
		s.proc = nil
		p.restarts++
	}
	p.mu.Unlock()
}

// enter registers an in-flight call; it fails once Close has begun.
func (p *Plugin) enter() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("grpcplugin: %s is closed: %w", p.cfg.Name, convert.ErrUnavailable)
	}
	p.inflight.Add(1)
	return nil
}

// acquire waits for an idle slot.
func (p *Plugin) acquire(ctx context.Context) (*slot, error) {
	select {
	case s := <-p.idle:
		p.mu.Lock()
		s.busy = true
		p.mu.Unlock()
		return s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin %s: waiting for a free process: %w", p.cfg.Name, ctx.Err())
	case <-p.closing:
		return nil, fmt.Errorf("grpcplugin: %s is closed: %w", p.cfg.Name, convert.ErrUnavailable)
	}
}

func (p *Plugin) release(s *slot) {
	p.mu.Lock()
	s.busy = false
	p.mu.Unlock()
	p.idle <- s
}

// Info returns the plugin's name, version and conversions. The first
// successful answer (fetched by Open) is cached.
func (p *Plugin) Info(ctx context.Context) (convert.Info, error) {
	p.mu.Lock()
	cached := p.info
	p.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	if err := p.enter(); err != nil {
		return convert.Info{}, err
	}
	defer p.inflight.Done()
	var info convert.Info
	err := p.withProcess(ctx, func(ctx context.Context, pr *proc) error {
		resp, err := pr.rpc.Info(ctx, &convertpb.InfoRequest{})
		if err != nil {
			return err
		}
		info = convert.Info{Name: resp.GetName(), Version: resp.GetVersion()}
		for _, c := range resp.GetConversions() {
			info.Conversions = append(info.Conversions, convert.Conversion{From: convert.Format(c.GetFrom()), To: convert.Format(c.GetTo())})
		}
		return nil
	})
	if err != nil {
		return convert.Info{}, err
	}
	p.mu.Lock()
	p.info = &info
	p.mu.Unlock()
	return info, nil
}

// Ping checks that a process answers: it waits for an idle process
// (bounded by ctx), starting one if its slot is empty, and makes an Info
// round trip without using the cache. A process that fails is replaced.
func (p *Plugin) Ping(ctx context.Context) error {
	if err := p.enter(); err != nil {
		return err
	}
	defer p.inflight.Done()
	return p.withProcess(ctx, func(ctx context.Context, pr *proc) error {
		_, err := pr.rpc.Info(ctx, &convertpb.InfoRequest{})
		return err
	})
}

// withProcess runs f on an idle, live process with the conversion timeout,
// translating failures like Convert does.
// The caller must hold an enter() registration.
func (p *Plugin) withProcess(ctx context.Context, f func(context.Context, *proc) error) error {
	s, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(s)
	if err := p.ensure(s); err != nil {
		return err
	}
	p.mu.Lock()
	pr := s.proc
	s.calls++
	p.mu.Unlock()
	callCtx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	if err := f(callCtx, pr); err != nil {
		return p.callFailed(ctx, callCtx, s, pr, err)
	}
	return nil
}

// Convert copies the input into a private job directory, has an idle
// plugin process convert it there, and moves the result to req.OutputPath.
// See convert.Converter for the error contract; in addition it returns
// convert.ErrTimeout when Config.Timeout expires, convert.ErrCrashed when
// the process dies, and convert.ErrUnavailable when no process can be
// started or the Plugin is closed.
func (p *Plugin) Convert(ctx context.Context, req convert.Request) (*convert.Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.cfg.Name, err)
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.cfg.Name, err)
	}
	info, err := p.Info(ctx)
	if err != nil {
		return nil, err
	}
	if !info.Supports(req.From, req.To) {
		return nil, fmt.Errorf("plugin %s cannot convert %s->%s: %w", p.cfg.Name, req.From, req.To, convert.ErrUnsupportedFormat)
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.inflight.Done()
	if fi, err := os.Stat(req.InputPath); err != nil {
		return nil, fmt.Errorf("plugin %s: input: %w", p.cfg.Name, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("plugin %s: input %s is not a regular file: %w", p.cfg.Name, req.InputPath, convert.ErrInvalidInput)
	}

	// A sweep of a host that shares TempDir may have removed an idle root.
	if err := os.MkdirAll(p.root, 0o700); err != nil {
		return nil, fmt.Errorf("plugin %s: job directory: %w", p.cfg.Name, err)
	}
	job, err := os.MkdirTemp(p.root, "job-")
	if err != nil {
		return nil, fmt.Errorf("plugin %s: job directory: %w", p.cfg.Name, err)
	}
	defer os.RemoveAll(job)
	in := filepath.Join(job, "input"+req.From.Ext())
	out := filepath.Join(job, "output"+req.To.Ext())
	if err := copyFile(req.InputPath, in, 0o400); err != nil {
		return nil, fmt.Errorf("plugin %s: copy input: %w", p.cfg.Name, err)
	}

	var (
		resp  *convertpb.ConvertResponse
		start time.Time
	)
	err = p.withProcess(ctx, func(ctx context.Context, pr *proc) error {
		start = time.Now()
		var err error
		resp, err = pr.rpc.Convert(ctx, &convertpb.ConvertRequest{
			InputPath:    in,
			OutputPath:   out,
			InputFormat:  string(req.From),
			OutputFormat: string(req.To),
			Options:      optionsToPB(req.Options),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	fi, err := os.Stat(out)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, fmt.Errorf("plugin %s reported success but wrote no output (%v): %w", p.cfg.Name, err, convert.ErrCrashed)
	}
	if err := moveFile(out, req.OutputPath); err != nil {
		return nil, fmt.Errorf("plugin %s: move output: %w", p.cfg.Name, err)
	}
	stats := statsFromPB(resp.GetStats())
	stats.OutputBytes = fi.Size()
	if err := checkBounds(req.Options, stats); err != nil {
		_ = os.Remove(req.OutputPath)
		return nil, fmt.Errorf("plugin %s: %w", p.cfg.Name, err)
	}
	stats.Duration = elapsed
	return stats, nil
}

// callFailed classifies a failed call on process pr of slot s, replacing the
// process when it timed out, was abandoned or died.
func (p *Plugin) callFailed(ctx, callCtx context.Context, s *slot, pr *proc, err error) error {
	name := p.cfg.Name
	code := status.Code(err)
	record := func(e error) error {
		p.mu.Lock()
		s.lastErr = e.Error()
		p.mu.Unlock()
		p.log.Warn("conversion failed", "pid", pr.pid, "error", e)
		return e
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	// The server side may report the deadline (RST_STREAM) a moment
	// before our own context's timer fires, so trust the code too.
	timedOut := callCtx.Err() != nil || code == codes.DeadlineExceeded
	callerDeadline, hasCallerDeadline := ctx.Deadline()
	ourDeadline, _ := callCtx.Deadline()
	switch {
	case closed:
		p.discard(s, pr, false)
		return fmt.Errorf("grpcplugin: %s was closed during the call: %w", name, convert.ErrUnavailable)
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller gave up; the process may still be busy with work
		// nobody wants, and only one call runs per process.
		p.discard(s, pr, false)
		return record(fmt.Errorf("plugin %s: call cancelled; process %d killed: %w", name, pr.pid, ctx.Err()))
	case timedOut && hasCallerDeadline && !callerDeadline.After(ourDeadline):
		p.discard(s, pr, false)
		return record(fmt.Errorf("plugin %s: caller's deadline passed; process %d killed: %w (%w)", name, pr.pid, convert.ErrTimeout, context.DeadlineExceeded))
	case timedOut:
		p.discard(s, pr, false)
		return record(fmt.Errorf("plugin %s: conversion did not finish within %s; process %d killed, the next call starts a fresh one: %w",
			name, p.cfg.Timeout, pr.pid, convert.ErrTimeout))
	}
	// A dead process, or a broken connection, is a crash.
	crashed := pr.client.Exited()
	if !crashed && ((code == codes.Unavailable && isTransport(err)) || code == codes.Canceled) {
		crashed = true
		p.waitExit(pr, 2*time.Second) // for the exit status; the process is killed below anyway
	}
	if crashed {
		exited := pr.client.Exited()
		p.discard(s, pr, false) // also waits until its stderr is drained
		state := "connection lost; process killed"
		if exited && pr.cmd.ProcessState != nil {
			state = pr.cmd.ProcessState.String()
		}
		msg := fmt.Sprintf("plugin %s: process %d crashed during the call (%s); the next call starts a fresh one", name, pr.pid, state)
		lines := pr.stderr.String()
		if lines != "" {
			msg += "; stderr: " + lines
		}
		if outOfMemory(lines) {
			return record(fmt.Errorf("%s: %w (%w)", msg, convert.ErrOutOfMemory, convert.ErrCrashed))
		}
		return record(fmt.Errorf("%s: %w", msg, convert.ErrCrashed))
	}
	if code == codes.Unavailable {
		// The plugin itself said it is unavailable; use a fresh process
		// next time.
		p.discard(s, pr, false)
	}
	return record(fromStatus(name, err))
}

// oomMarkers are what runtimes print when an allocation fails: Go, Python,
// C++ (std::bad_alloc) and the C library.
var oomMarkers = []string{"out of memory", "MemoryError", "bad_alloc", "Cannot allocate memory"}

// outOfMemory reports whether a dead plugin's last stderr lines say it ran
// out of memory.
func outOfMemory(stderr string) bool {
	for _, m := range oomMarkers {
		if strings.Contains(stderr, m) {
			return true
		}
	}
	return false
}

// isTransport reports whether err came from gRPC's transport (the
// connection) rather than from the plugin's handler.
func isTransport(err error) bool {
	msg := status.Convert(err).Message()
	return strings.Contains(msg, "error reading from server") || strings.Contains(msg, "connection") ||
		strings.Contains(msg, "transport") || strings.Contains(msg, "EOF")
}

// waitExit polls until go-plugin has reaped pr or d passes. Polling is
// acceptable here: we wait on an external process.
func (p *Plugin) waitExit(pr *proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !pr.client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Close stops every plugin process (gracefully when idle, with SIGKILL when
// busy, whose calls then fail with ErrUnavailable), waits for in-flight
// calls to return and removes all job directories. It is safe to call more
// than once.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	type victim struct {
		s    *slot
		pr   *proc
		busy bool
	}
	var victims []victim
	for _, s := range p.slots {
		if s.proc != nil {
			victims = append(victims, victim{s, s.proc, s.busy})
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, v := range victims {
		wg.Go(func() { p.discard(v.s, v.pr, !v.busy) })
	}
	wg.Wait()
	p.inflight.Wait()
	var err error
	if p.fallback {
		err = os.RemoveAll(p.sockets)
	}
	if err := errors.Join(err, os.RemoveAll(p.root)); err != nil {
		return fmt.Errorf("grpcplugin: close %s: %w", p.cfg.Name, err)
	}
	return nil
}

// Health is a snapshot of a Plugin's pool, for status pages and the
// `partflow plugins` command.
type Health struct {
	// Name is Config.Name.
	Name string
	// Info is the cached Info (zero before the first success).
	Info convert.Info
	// Closed is true once Close has been called.
	Closed bool
	// Restarts counts processes discarded after a timeout, crash or
	// cancellation.
	Restarts int64
	// Processes has one entry per pool slot.
	Processes []ProcessHealth
}

// ProcessHealth describes one pool slot.
type ProcessHealth struct {
	// PID is the running process, or 0 when the slot is empty (a fresh
	// process starts on the next call).
	PID int
	// Started is when the current process started.
	Started time.Time
	// Busy is true while a call runs on the slot.
	Busy bool
	// Calls counts Convert, Info and Ping calls made on the slot, over all
	// its processes.
	Calls int64
	// LastError is the slot's most recent failure, if any.
	LastError string
}

// Health returns a snapshot of the pool without waiting for busy processes.
// Use Ping for a live check.
func (p *Plugin) Health() Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := Health{Name: p.cfg.Name, Closed: p.closed, Restarts: p.restarts}
	if p.info != nil {
		h.Info = *p.info
	}
	for _, s := range p.slots {
		ph := ProcessHealth{Busy: s.busy, Calls: s.calls, LastError: s.lastErr}
		if s.proc != nil && !s.proc.client.Exited() {
			ph.PID, ph.Started = s.proc.pid, s.proc.started
		}
		h.Processes = append(h.Processes, ph)
	}
	return h
}

// copyFile copies src to a new file dst with mode perm.
func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(dst, perm)
	}
	return err
}

// moveFile renames src to dst, falling back to copy-and-rename across file
// systems so dst is never seen half written.
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".partflow-*.tmp")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	_ = os.Remove(tmpName)
	if err := copyFile(src, tmpName, 0o644); err != nil {
		_ = os.Remove(tmpName)
		return err
	}
	if err := os.Rename(tmpName, dst); err != nil {
		_ = os.Remove(tmpName)
		return err
	}
	return nil
}

// tailWriter keeps the last n lines written to it, and the first line that
// announces a crash ("panic: ...", "fatal error: ...", a Python traceback),
// for crash reports.
type tailWriter struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  []byte
	fatal string
}

func newTailWriter(n int) *tailWriter { return &tailWriter{n: n} }

var fatalPrefixes = []string{"panic:", "fatal error:", "runtime: out of memory", "Traceback", "MemoryError", "Segmentation fault", "terminate called"}

func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range b {
		if c != '\n' {
			if len(w.part) < 4096 {
				w.part = append(w.part, c)
			}
			continue
		}
		w.addLocked(string(w.part))
		w.part = w.part[:0]
	}
	return len(b), nil
}

// AddLine records one complete line.
func (w *tailWriter) AddLine(line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.addLocked(line)
}

func (w *tailWriter) addLocked(line string) {
	if w.fatal == "" {
		for _, p := range fatalPrefixes {
			if strings.HasPrefix(line, p) {
				w.fatal = line
			}
		}
	}
	w.lines = append(w.lines, line)
	if len(w.lines) > w.n {
		w.lines = w.lines[len(w.lines)-w.n:]
	}
}

// String returns the crash line, if any, then the kept lines, joined by
// " | ".
func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lines []string
	if w.fatal != "" {
		lines = append(lines, w.fatal, "...")
	}
	lines = append(lines, w.lines...)
	if len(w.part) > 0 {
		lines = append(lines, string(w.part))
	}
	return strings.Join(lines, " | ")
}
