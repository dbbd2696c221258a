package grpcplugin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/partflow/partflow/convert"
)

// rootPrefix starts the name of each Plugin's directory in Config.TempDir.
const rootPrefix = "partflow-plugin-"

// Dir returns the Plugin's private directory in Config.TempDir, which
// holds one "job-*" directory per conversion under way.
func (p *Plugin) Dir() string { return p.root }

// RemoveStale removes from dir the directories of Plugins whose host died
// without closing them (a crash or SIGKILL leaves their jobs' inputs and
// outputs behind, and the unix sockets of its processes, which died with
// it): every "partflow-plugin-*" directory last modified before cutoff,
// with the fallback socket directory it links to, except the Dir of each
// Plugin in keep and directories where a plugin process still accepts
// connections on its socket (a live host's, of this process or another).
// A live host's directory is modified by each conversion, and a Plugin
// recreates its directory if an idle one was removed. It returns the
// removed paths.
func RemoveStale(dir string, cutoff time.Time, keep ...*Plugin) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("grpcplugin: remove stale directories: %w", err)
	}
	live := map[string]bool{}
	for _, p := range keep {
		if p != nil {
			live[filepath.Clean(p.root)] = true
		}
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !e.IsDir() || !strings.HasPrefix(e.Name(), rootPrefix) || live[path] {
			continue
		}
		if info, err := e.Info(); err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if serving(path) {
			continue
		}
		if err := errors.Join(removeFallback(path), os.RemoveAll(path)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, path)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("grpcplugin: remove stale directories: %w", err)
	}
	return removed, nil
}

// checkBounds holds a plugin's result to the request's bounds, for plugins
// that do not honour them themselves.
func checkBounds(o convert.Options, st *convert.Stats) error {
	if o.MaxTriangles != nil && st.Triangles > *o.MaxTriangles {
		return fmt.Errorf("the model has %d triangles, more than the bound of %d: %w", st.Triangles, *o.MaxTriangles, convert.ErrTooLarge)
	}
	if o.MaxOutputBytes != nil && st.OutputBytes > *o.MaxOutputBytes {
		return fmt.Errorf("the model takes %d bytes, more than the bound of %d: %w", st.OutputBytes, *o.MaxOutputBytes, convert.ErrTooLarge)
	}
	return nil
}
