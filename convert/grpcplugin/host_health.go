package grpcplugin

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/partflow/partflow/convert"
)

// Plugin health, file moves across devices, and the stderr tail kept for errors.

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
