package grpcplugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/partflow/partflow/convert"
	convertpb "github.com/partflow/partflow/convert/proto"
)

// The host side's calls: Info, Ping and Convert over a plugin process, and what a failed call means.

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
