package httpapi

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSeqReaderNeverAnswersWithAnOlderRead checks the shared read of the
// change sequence: while a read is held up, writes happen and requests
// arrive; each request must get a number read after it arrived (so at
// least the writes before it), and the waiting requests share one read.
func TestSeqReaderNeverAnswersWithAnOlderRead(t *testing.T) {
	var store atomic.Int64 // the change sequence
	var reads atomic.Int64
	gate := make(chan struct{})
	entered := make(chan struct{}, 16)
	s := &seqReader{read: func(ctx context.Context) (int64, bool, error) {
		reads.Add(1)
		v := store.Load()
		entered <- struct{}{}
		<-gate
		return v, true, nil
	}}
	first := make(chan int64)
	go func() {
		v, _, _ := s.get(context.Background())
		first <- v
	}()
	<-entered // the first read has taken its number (0) and is held up
	store.Store(5)
	var wg sync.WaitGroup
	got := make([]int64, 8)
	joined := make(chan struct{}, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			joined <- struct{}{}
			got[i], _, _ = s.get(context.Background())
		}()
	}
	for range got {
		<-joined
	}
	// Let the held read go: the 8 waiters must not get its 0.
	close(gate)
	if v := <-first; v != 0 {
		t.Fatalf("first read: %d, want 0", v)
	}
	wg.Wait()
	for i, v := range got {
		if v != 5 {
			t.Errorf("request %d, which arrived after the write, got %d", i, v)
		}
	}
	if n := reads.Load(); n > 1+int64(len(got)) {
		t.Errorf("%d reads for %d requests", n, 1+len(got))
	}
}
