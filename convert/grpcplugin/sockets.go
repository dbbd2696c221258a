package grpcplugin

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Plugin processes serve on a unix socket whose directory the host names in
// go-plugin's PLUGIN_UNIX_SOCKET_DIR (plugin.EnvUnixSocketDir; go-plugin's
// Go server and the cascadio plugin both honour it). Without it each plugin
// makes its own in the system's temporary directory, and a process killed
// with its host (SIGKILL) leaves it there for good. The host therefore
// gives each process a directory inside the Plugin's own directory, which
// Close and RemoveStale remove. (go-plugin's UnixSocketConfig.TempDir does
// the same only for hosts with a RunnerFunc, whose default runner is
// internal to go-plugin.)

const (
	// maxSocketPath is the longest unix socket path Linux accepts
	// (sun_path holds 108 bytes, the NUL included).
	maxSocketPath = 107
	// socketSlack is the room a socket path needs beyond the socket base:
	// "/s" and up to 10 digits for the process's directory, "/" and up to
	// 20 bytes for the socket's name (go-plugin: "plugin" and up to 10
	// digits, cascadio: "plugin.sock").
	socketSlack = 2 + 10 + 1 + 20
	// socketLink, in a Plugin's directory, is a symbolic link to its
	// fallback socket directory, so RemoveStale finds that too.
	socketLink = "sockets"
	// fallbackPrefix starts the name of a fallback socket directory.
	fallbackPrefix = "partflow-sock-"
)

// socketBase returns the directory under which the Plugin with directory
// root puts its processes' socket directories: root itself, or, when root's
// path is too long for unix socket paths, a new private directory in the
// system's temporary directory, linked from root as socketLink. fallback
// reports the latter; it is logged, since that directory outlives a host
// killed with SIGKILL until a sweep removes root.
func socketBase(root string, log *slog.Logger) (base string, fallback bool, err error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", false, err
	}
	if len(abs)+socketSlack <= maxSocketPath {
		return abs, false, nil
	}
	dir, err := os.MkdirTemp("", fallbackPrefix)
	if err != nil {
		return "", false, err
	}
	if dir, err = filepath.Abs(dir); err == nil {
		err = os.Symlink(dir, filepath.Join(root, socketLink))
	}
	if err != nil {
		return "", false, errors.Join(err, os.RemoveAll(dir))
	}
	log.Warn("plugin sockets go to a private directory in the system's temporary directory: the work directory's path is too long for unix sockets",
		"dir", dir, "work_dir", abs, "max_socket_path", maxSocketPath)
	return dir, true, nil
}

// socketDir makes a new private directory for one process's socket.
func (p *Plugin) socketDir() (string, error) {
	// A sweep of a host that shares TempDir may have removed an idle root.
	if err := os.MkdirAll(p.sockets, 0o700); err != nil {
		return "", fmt.Errorf("socket directory: %w", err)
	}
	dir, err := os.MkdirTemp(p.sockets, "s")
	if err != nil {
		return "", fmt.Errorf("socket directory: %w", err)
	}
	return dir, nil
}

// removeFallback removes the fallback socket directory root links to, if
// any: a directory whose name has fallbackPrefix.
func removeFallback(root string) error {
	target, err := os.Readlink(filepath.Join(root, socketLink))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return nil
	}
	if err != nil {
		return err
	}
	if !filepath.IsAbs(target) || !strings.HasPrefix(filepath.Base(target), fallbackPrefix) {
		return nil
	}
	if fi, err := os.Lstat(target); err != nil || !fi.IsDir() {
		return nil
	}
	return os.RemoveAll(target)
}

// serving reports whether a process still serves on a unix socket in the
// Plugin directory root (or the fallback directory it links to): then its
// host is alive, although root may be old (a host idle for long, seen by
// `partflow gc` or another host sharing the directory). The sockets of
// processes that died refuse connections at once.
func serving(root string) bool {
	dirs := []string{root}
	if target, err := os.Readlink(filepath.Join(root, socketLink)); err == nil && strings.HasPrefix(filepath.Base(target), fallbackPrefix) {
		dirs = append(dirs, target)
	}
	for _, dir := range dirs {
		subs, _ := os.ReadDir(dir)
		for _, sub := range subs {
			if !sub.IsDir() {
				continue
			}
			entries, _ := os.ReadDir(filepath.Join(dir, sub.Name()))
			for _, e := range entries {
				if e.Type()&fs.ModeSocket == 0 {
					continue
				}
				if c, err := net.DialTimeout("unix", filepath.Join(dir, sub.Name(), e.Name()), time.Second); err == nil {
					c.Close()
					return true
				}
			}
		}
	}
	return false
}
