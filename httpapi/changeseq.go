package httpapi

import (
	"context"
	"runtime"
	"sync"
)

// seqReader reads the store's change sequence for many requests at once:
// a request arriving while a read is under way joins the next read, which
// starts when that one ends; so every request gets a number read after it
// arrived (it sees every write committed before), and concurrent
// revalidations cost one query instead of one each. A request finding no
// read under way lets the requests already runnable go first (on one core
// they would otherwise each read in turn), so that they join its read.
type seqReader struct {
	read func(context.Context) (int64, bool, error)

	mu      sync.Mutex
	running bool     // a read is under way or about to start
	next    *seqRead // the read that starts next: after the running one, or once its leader has yielded
}

// seqRead is one read of the change sequence and the requests waiting on it.
type seqRead struct {
	done chan struct{}
	seq  int64
	ok   bool
	err  error
}

// get returns the change sequence as of a read that started after the call.
func (s *seqReader) get(ctx context.Context) (int64, bool, error) {
	s.mu.Lock()
	if !s.running {
		s.running = true
		r := &seqRead{done: make(chan struct{})}
		s.next = r
		s.mu.Unlock()
		runtime.Gosched() // requests runnable now join r
		s.mu.Lock()
		s.next = nil // r starts: later requests wait for the one after
		s.mu.Unlock()
		// Not tied to this request's context alone: others wait on r.
		r.seq, r.ok, r.err = s.read(context.WithoutCancel(ctx))
		close(r.done)
		s.finish()
		return r.seq, r.ok, r.err
	}
	r := s.next
	if r == nil {
		r = &seqRead{done: make(chan struct{})}
		s.next = r
	}
	s.mu.Unlock()
	select {
	case <-r.done:
		return r.seq, r.ok, r.err
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}

// finish ends the running read and runs the next one, if requests wait for
// it, on behalf of all of them.
func (s *seqReader) finish() {
	s.mu.Lock()
	r := s.next
	s.next = nil
	if r == nil {
		s.running = false
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	go func() {
		// Not tied to one waiter's context: the others need the answer.
		r.seq, r.ok, r.err = s.read(context.Background())
		close(r.done)
		s.finish()
	}()
}
