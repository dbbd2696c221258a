//go:build failpoint

// This file is compiled only into test builds (go build -tags failpoint):
// it lets a crash test stop the real binary at an exact point and SIGKILL
// it there, without sleeps or races. Release builds have no such hook.

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/partflow/partflow/parts"
)

// Environment of a failpoint build.
const (
	// envStopAfterPut is a regular expression: once a file store Put of a
	// key it matches has succeeded, the process reports the key and stops
	// there for good.
	envStopAfterPut = "FAILPOINT_STOP_AFTER_PUT"
	// envReport is the file (a FIFO the test reads, say) the line
	// "stored KEY" is appended to when the process stops.
	envReport = "FAILPOINT_REPORT"
)

func init() { wrapFiles = stopAfterPutFromEnv }

// stopAfterPutFromEnv wraps files in a stopAfterPut when envStopAfterPut is
// set, and returns files unchanged otherwise.
func stopAfterPutFromEnv(files parts.FileStore) parts.FileStore {
	expr := os.Getenv(envStopAfterPut)
	if expr == "" {
		return files
	}
	return &stopAfterPut{FileStore: files, match: regexp.MustCompile(expr), report: os.Getenv(envReport)}
}

// stopAfterPut is a file store that, after storing an object whose key
// matches, reports it and blocks the Put forever: the object is in the file
// store and the process never gets to record it, until the test kills it.
type stopAfterPut struct {
	parts.FileStore
	match  *regexp.Regexp
	report string
}

// Put stores the object, then stops if its key matches.
func (s *stopAfterPut) Put(ctx context.Context, key string, r io.Reader, contentType string) (parts.FileObject, error) {
	obj, err := s.FileStore.Put(ctx, key, r, contentType)
	if err != nil || !s.match.MatchString(key) {
		return obj, err
	}
	if f, err := os.OpenFile(s.report, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
		fmt.Fprintf(f, "stored %s\n", key)
		f.Close()
	}
	select {} // until SIGKILL
}

// SweepDebris passes the sweep on to the file store, if it sweeps.
func (s *stopAfterPut) SweepDebris(ctx context.Context, cutoff time.Time) ([]string, error) {
	if ds, ok := s.FileStore.(parts.DebrisSweeper); ok {
		return ds.SweepDebris(ctx, cutoff)
	}
	return nil, nil
}

// Close closes the file store, if it has a Close.
func (s *stopAfterPut) Close() error {
	if c, ok := s.FileStore.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
