package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/partflow/partflow/parts"
)

// ErrUnknownScheme is returned (wrapped) by Open and OpenFiles for a URL whose
// scheme no driver registered.
var ErrUnknownScheme = errors.New("unknown storage scheme")

// Options are the settings every part store driver understands. A nil
// *Options gives the defaults.
type Options struct {
	// Now is the clock the driver uses for times it sets itself (job
	// updates); default time.Now.
	Now func() time.Time
	// Logger receives the driver's logs; default discards them.
	Logger *slog.Logger
}

// OpenFunc opens a part store for a URL of the scheme it was registered for.
// opts may be nil.
type OpenFunc func(ctx context.Context, url string, opts *Options) (parts.Store, error)

// OpenFilesFunc opens a file store for a URL of the scheme it was registered for.
type OpenFilesFunc func(ctx context.Context, url string) (parts.FileStore, error)

type registry[F any] struct {
	mu      sync.RWMutex
	drivers map[string]F
}

func (r *registry[F]) register(kind, scheme string, open F, isNil bool) {
	if scheme == "" || strings.ContainsAny(scheme, ":/") {
		panic(fmt.Sprintf("storage: invalid %s scheme %q", kind, scheme))
	}
	if isNil {
		panic(fmt.Sprintf("storage: nil open function for %s scheme %q", kind, scheme))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.drivers[scheme]; dup {
		panic(fmt.Sprintf("storage: %s scheme %q registered twice", kind, scheme))
	}
	if r.drivers == nil {
		r.drivers = map[string]F{}
	}
	r.drivers[scheme] = open
}

func (r *registry[F]) lookup(kind, url string) (F, error) {
	var zero F
	scheme, _, ok := strings.Cut(url, "://")
	if !ok || scheme == "" {
		return zero, fmt.Errorf("%w: %s URL %q has no scheme (want scheme://...; known: %s)",
			ErrUnknownScheme, kind, redact(url), strings.Join(r.schemes(), ", "))
	}
	scheme = strings.ToLower(scheme)
	r.mu.RLock()
	open, found := r.drivers[scheme]
	r.mu.RUnlock()
	if !found {
		return zero, fmt.Errorf("%w %q for %s (known: %s)", ErrUnknownScheme, scheme, kind, strings.Join(r.schemes(), ", "))
	}
	return open, nil
}

func (r *registry[F]) schemes() []string {
	if out := known(r); len(out) > 0 {
		return out
	}
	return []string{"none registered"}
}

// redact drops everything after the scheme's authority marker that could
// hold credentials, keeping errors safe to log.
func redact(url string) string {
	if i := strings.Index(url, "@"); i >= 0 {
		return "…" + url[i:]
	}
	return url
}

var (
	stores registry[OpenFunc]
	files  registry[OpenFilesFunc]
)

// Register makes a part store driver available under scheme (without "://",
// e.g. "sqlite"). It panics if scheme is empty or already registered, or if
// open is nil. Drivers call it from init.
func Register(scheme string, open OpenFunc) {
	stores.register("store", scheme, open, open == nil)
}

// Open opens the part store for url with the driver registered for its
// scheme. An unknown scheme gives an error wrapping ErrUnknownScheme that lists
// the known schemes, sorted. opts may be nil.
func Open(ctx context.Context, url string, opts *Options) (parts.Store, error) {
	open, err := stores.lookup("store", url)
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	return open(ctx, url, opts)
}

// Schemes returns the registered part store schemes, sorted.
func Schemes() []string { return known(&stores) }

// RegisterFiles makes a file store driver available under scheme (e.g.
// "file", "mem", "s3"). It panics if scheme is empty or already registered,
// or if open is nil.
func RegisterFiles(scheme string, open OpenFilesFunc) {
	files.register("file store", scheme, open, open == nil)
}

// OpenFiles opens the file store for url with the driver registered for its
// scheme. An unknown scheme gives an error wrapping ErrUnknownScheme that
// lists the known schemes, sorted.
func OpenFiles(ctx context.Context, url string) (parts.FileStore, error) {
	open, err := files.lookup("file store", url)
	if err != nil {
		return nil, fmt.Errorf("storage: open files: %w", err)
	}
	return open(ctx, url)
}

// FileSchemes returns the registered file store schemes, sorted.
func FileSchemes() []string { return known(&files) }

func known[F any](r *registry[F]) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.drivers))
	for s := range r.drivers {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
