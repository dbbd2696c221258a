package grpcplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

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
