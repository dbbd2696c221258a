package httpapi

import (
	"bytes"
	"testing"

	"github.com/partflow/partflow/parts"
)

// TestHubPublishKeepsOnlyWhatABatchHolds checks that a small batch
// encoded into a buffer grown for a burst is kept in a buffer of its own
// size (the ring may hold it for hours), with the same frames, and that a
// buffer about the batch's size is kept as it is.
func TestHubPublishKeepsOnlyWhatABatchHolds(t *testing.T) {
	for _, c := range []struct {
		capacity int
		copied   bool
	}{{1 << 20, true}, {0, false}} {
		r := &hubRun{changed: make(chan struct{})}
		e := &parts.Event{ID: 7, Action: "create", Name: "plate"}
		blob, err := appendFrame(make([]byte, 0, c.capacity), e)
		if err != nil {
			t.Fatal(err)
		}
		r.publish([]hubFrame{{e: e, off: 0, end: len(blob)}}, blob)
		got := r.ring[0].batch.blob
		if !bytes.Equal(got, blob) || r.head != 7 {
			t.Fatalf("ring holds %q (head %d), want %q", got, r.head, blob)
		}
		if cap(got) > 2*len(got)+4<<10 {
			t.Errorf("a %d-byte batch kept in a %d-byte buffer", len(got), cap(got))
		}
		if copied := &got[0] != &blob[0]; copied != c.copied {
			t.Errorf("buffer of capacity %d: copied %v, want %v", c.capacity, copied, c.copied)
		}
	}
}
