package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// ErrNoBinaries means no PostgreSQL 15+ server binaries were found.
var ErrNoBinaries = errors.New("pgtest: no PostgreSQL (15 or newer) binaries found; install Debian's postgresql package (make ci-deps) or set PARTFLOW_PG_BIN")

// Options configure a Server. A nil *Options gives the defaults.
type Options struct {
	// Durable keeps fsync and synchronous commits on, as in production
	// (for benchmarks). By default they are off: tests need no durability
	// across power loss and run faster without.
	Durable bool
}

// Server is a private PostgreSQL server in a temporary directory.
type Server struct {
	dir, sock string
	cmd       *exec.Cmd
	exited    chan struct{}
	admin     *sql.DB
	n         atomic.Int64
}

// Start initialises and starts a new server. Stop removes it again.
func Start(ctx context.Context, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	base := ""
	if cred != nil {
		// The postgres user must reach the directory: $TMPDIR may be
		// inside root's private home.
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pgtest")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, sock: filepath.Join(dir, "sock"), exited: make(chan struct{})}
	if err := s.start(ctx, bin, cred, opts); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, bin string, cred *syscall.Credential, opts *Options) error {
	if err := os.Mkdir(s.sock, 0o700); err != nil {
		return err
	}
	if cred != nil {
		for _, p := range []string{s.dir, s.sock} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("pgtest: hand %s to the postgres user: %w", p, err)
			}
		}
	}
	data := filepath.Join(s.dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "partflow",
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = sysProcAttr(cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	sync := "off"
	if opts.Durable {
		sync = "on"
	}
	logf, err := os.Create(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", s.sock, "-c", "listen_addresses=",
		"-c", "fsync="+sync, "-c", "synchronous_commit="+sync, "-c", "full_page_writes="+sync,
		"-c", "max_connections=300", "-c", "shared_buffers=128MB")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = sysProcAttr(cred)
	// The kernel's parent-death signal follows the thread that started the
	// process: start and wait on one locked thread, which lives as long as
	// the server, so the server is stopped only when this process dies.
	started := make(chan error, 1)
	go func() {
		defer close(s.exited)
		runtime.LockOSThread()
		err := s.cmd.Start()
		started <- err
		if err == nil {
			_ = s.cmd.Wait()
		}
	}()
	if err := <-started; err != nil {
		s.cmd = nil
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.admin, err = sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		return err
	}
	return s.waitReady(ctx)
}

// waitReady polls the new server until it accepts connections (an external
// process: there is nothing to wait on but its socket), for up to a minute.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.admin.PingContext(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("pgtest: postgres exited: %v\n%s", err, s.log())
		case <-ctx.Done():
			return fmt.Errorf("pgtest: postgres did not start: %v\n%s", err, s.log())
		case <-tick.C:
		}
	}
}

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// URL returns the URL of database db on the server (a unix socket).
func (s *Server) URL(db string) string {
	return "postgres://partflow@/" + db + "?host=" + url.QueryEscape(s.sock)
}

// Database is a database on a Server.
type Database struct {
	// Name is the database's name, URL its URL.
	Name, URL string
	srv       *Server
}

// Drop drops the database, ending its sessions.
func (d *Database) Drop() error {
	_, err := d.srv.admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+d.Name+" WITH (FORCE)")
	return err
}

// CreateDatabase creates a new database: an empty one, or a copy of
// template's database when template is not "" (it must have no sessions).
func (s *Server) CreateDatabase(ctx context.Context, template string) (*Database, error) {
	if template == "" {
		template = "template0"
	}
	name := "t" + strconv.FormatInt(s.n.Add(1), 10)
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		return nil, fmt.Errorf("pgtest: create database: %w", err)
	}
	return &Database{Name: name, URL: s.URL(name), srv: s}, nil
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and
// removes its directory.
func (s *Server) Stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	return os.RemoveAll(s.dir)
}

// credential returns the user to run the server as: nil (this process's
// user) unless this process is root, then the postgres user.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and PostgreSQL refuses to run as root; no postgres user to run it as (install Debian's postgresql package): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// findBinaries returns the directory of a PostgreSQL 15+ server's binaries.
func findBinaries() (string, error) {
	var dirs []string
	if d := os.Getenv("PARTFLOW_PG_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
	dirs = append(dirs, found...)
	if p, err := exec.LookPath("postgres"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		out, err := exec.Command(filepath.Join(d, "postgres"), "--version").Output()
		if err != nil {
			continue
		}
		m := versionRE.FindSubmatch(out)
		if m == nil {
			continue
		}
		if v, _ := strconv.Atoi(string(m[1])); v >= 15 {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d, nil
			}
		}
	}
	return "", ErrNoBinaries
}

// versionOf is the major version in a /usr/lib/postgresql/N/bin path.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}
