package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partflow/partflow/parts"
)

// streamHub fans the change log out to a handler's event stream clients.
// While any client streams, one library subscription reads each batch of
// new events and encodes every event's frame once, a batch's frames side
// by side in one buffer, into a ring; a client that is caught up wakes once
// per batch and writes the run of frames it matches straight from that
// shared buffer: no encoding, allocation, copy or channel hand-off per
// event and client, so a hundred clients cost writers little. A client behind the
// ring (resuming from an old cursor) reads pages from the store until it
// reaches it.
type streamHub struct {
	svc *parts.Service
	log *slog.Logger

	mu  sync.Mutex
	run *hubRun // the running subscription; nil when no client streams
}

// hubRun is one life of the hub's subscription, from its first client to
// its last.
type hubRun struct {
	cancel   context.CancelFunc
	clients  int          // guarded by streamHub.mu
	nclients atomic.Int32 // clients, for the reader

	mu      sync.RWMutex
	base    int64      // the ring holds every event with base < ID <= head
	head    int64      //
	ring    []hubFrame // ascending IDs
	changed chan struct{}
	done    bool // the subscription ended: clients end their streams
}

// hubFrame is an event and where its encoded stream frame is:
// batch.blob[off:end], where the blob holds every frame of its batch in
// order, so that frames of one batch that follow each other are one slice
// of it.
type hubFrame struct {
	e        *parts.Event
	batch    *hubBatch
	off, end int
}

// hubBatch is a published batch's frames, side by side, and (made by the
// first compressed stream that sends the whole batch) their independent
// deflate segment and CRC-32, which every compressed stream sending the
// whole batch shares. None changes once made.
type hubBatch struct {
	blob  []byte
	once  sync.Once
	seg   []byte
	piece crcPiece
}

// segment returns the batch's compressed segment and its CRC-32, making
// them once.
func (b *hubBatch) segment() ([]byte, *crcPiece) {
	b.once.Do(func() { b.seg, b.piece = appendSegment(nil, b.blob), newCRCPiece(b.blob) })
	return b.seg, &b.piece
}

// streamChunk is a run of a client's frames from one published batch:
// data is a slice of the batch's blob (shared: only read), and batch is set
// when data is the whole blob, so that a compressed stream can send the
// batch's shared segment.
type streamChunk struct {
	data  []byte
	batch *hubBatch
}

// hubRingSize is how many recent frames the hub keeps; it trims a quarter
// at a time so that appending a batch rarely copies the ring.
const hubRingSize = 4096

// join returns the running subscription, starting it for the first
// client; every join is paired with a leave.
func (hb *streamHub) join() (*hubRun, error) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if r := hb.run; r != nil && !r.ended() {
		r.clients++
		r.nclients.Add(1)
		return r, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	page, err := hb.svc.Events(ctx, parts.EventQuery{After: parts.FromHead, Limit: 1})
	if err != nil {
		cancel()
		return nil, err
	}
	sub, err := hb.svc.Subscribe(ctx, parts.EventQuery{After: page.Next})
	if err != nil {
		cancel()
		return nil, err
	}
	r := &hubRun{cancel: cancel, clients: 1, base: page.Next, head: page.Next, changed: make(chan struct{})}
	r.nclients.Store(1)
	hb.run = r
	go r.read(sub, hb.log)
	return r, nil
}

// leave ends a client's use of r; the last one stops the subscription.
func (hb *streamHub) leave(r *hubRun) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	r.nclients.Add(-1)
	if r.clients--; r.clients == 0 {
		r.cancel()
		if hb.run == r {
			hb.run = nil
		}
	}
}

// stats returns the clients streaming and, while the hub's subscription
// runs, the last event it published.
func (hb *streamHub) stats() (clients int, head int64, running bool) {
	hb.mu.Lock()
	r := hb.run
	if r != nil {
		clients = r.clients
	}
	hb.mu.Unlock()
	if r == nil {
		return 0, 0, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return clients, r.head, !r.done
}

func (r *hubRun) ended() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.done
}

// Under a sustained burst of commits (more than hubBurstRate events per
// second, averaged over about hubRateWindow) the hub publishes at most once
// per burstGap: each client's wake-up and write then carries a larger
// batch, so the cost of many clients per commit falls as the write rate
// rises. The gap grows with the clients (hubGapPerClient each, between
// hubGapMin and hubGapMax): what a publish costs is a write to each. Above
// hubHeavyRate (writers at full speed) it doubles, up to hubGapHeavyMax:
// streams then lag further behind, but a hundred clients cost writers
// fewer writes per commit. At a quieter rate every batch is published as
// soon as it is read, and a single late batch (a stalled moment) does not
// start the gap.
const (
	hubBurstRate    = 50.0
	hubRateWindow   = 500 * time.Millisecond
	hubGapMin       = 100 * time.Millisecond
	hubGapPerClient = 2 * time.Millisecond
	hubGapMax       = 250 * time.Millisecond
	hubHeavyRate    = 400.0
	hubGapHeavyMax  = 500 * time.Millisecond
)

// burstGap is the shortest time between two publishes during a burst of
// rate events per second with clients connected.
func burstGap(clients int64, rate float64) time.Duration {
	gap := min(max(hubGapMin, time.Duration(clients)*hubGapPerClient), hubGapMax)
	if rate > hubHeavyRate {
		gap = min(2*gap, hubGapHeavyMax)
	}
	return gap
}

// rateMeter estimates the rate of published events: an exponentially
// weighted moving average over about hubRateWindow.
type rateMeter struct {
	rate float64 // events per second
	at   time.Time
}

// add notes n events published at now and returns the rate.
func (m *rateMeter) add(n int, now time.Time) float64 {
	w := hubRateWindow.Seconds()
	if !m.at.IsZero() {
		m.rate *= math.Exp(-now.Sub(m.at).Seconds() / w)
	}
	m.rate += float64(n) / w
	m.at = now
	return m.rate
}

// read moves the subscription's events into the ring, a batch at a time,
// encoding each event's frame into the batch's buffer.
func (r *hubRun) read(sub *parts.Subscription, log *slog.Logger) {
	defer r.finish()
	var pending []hubFrame
	var blob []byte
	hold := time.NewTimer(time.Hour)
	hold.Stop()
	holding := false
	var notBefore time.Time
	var meter rateMeter
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				r.publish(pending, blob)
				return
			}
			off := len(blob)
			var err error
			if blob, err = appendFrame(blob, e); err != nil {
				log.Error("encode event", "seq", e.ID, "err", err)
				return
			}
			pending = append(pending, hubFrame{e: e, off: off, end: len(blob)})
			if holding || len(sub.C) > 0 && len(pending) < parts.MaxEventLimit {
				continue // more are ready, or the batch waits for its time
			}
			if wait := time.Until(notBefore); wait > 0 {
				hold.Reset(wait)
				holding = true
				continue
			}
		case <-hold.C:
			holding = false
		}
		r.publish(pending, blob)
		notBefore = time.Time{}
		now := time.Now()
		if rate := meter.add(len(pending), now); rate > hubBurstRate {
			notBefore = now.Add(burstGap(int64(r.nclients.Load()), rate))
		}
		clear(pending) // the ring holds the events now
		pending = pending[:0]
		// The published batch owns the buffer; the next is about as big.
		blob = make([]byte, 0, len(blob)+len(blob)/8)
	}
}

// publish appends a batch (its frames, encoded side by side in blob) to
// the ring and wakes the clients.
func (r *hubRun) publish(pending []hubFrame, blob []byte) {
	if len(pending) == 0 {
		return
	}
	if cap(blob) > 2*len(blob)+4<<10 {
		// A small batch in a buffer sized for a burst: the ring may keep
		// it for hours on a quiet store, so keep only what it holds.
		blob = slices.Clone(blob)
	}
	b := &hubBatch{blob: blob}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range pending {
		f.batch = b
		r.ring = append(r.ring, f)
	}
	if n := len(r.ring) - hubRingSize; n >= hubRingSize/4 {
		r.base = r.ring[n-1].e.ID
		r.ring = append(make([]hubFrame, 0, len(r.ring)-n+hubRingSize/4), r.ring[n:]...)
	}
	r.head = max(r.head, pending[len(pending)-1].e.ID)
	close(r.changed)
	r.changed = make(chan struct{})
}

// finish marks the run ended and wakes its clients.
func (r *hubRun) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = true
	close(r.changed)
}

// since appends to out the frames of the events after cursor that match q
// (frames that follow each other in a batch's buffer as one chunk of it,
// shared: the caller only reads them) and returns it with the new cursor
// and a channel closed when the ring moves on. ok is false when the cursor
// is behind the ring (read the store first); done is true when the run
// ended.
func (r *hubRun) since(q *parts.EventQuery, cursor int64, out []streamChunk) (_ []streamChunk, next int64, wait <-chan struct{}, ok, done bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.done {
		return out, cursor, nil, true, true
	}
	if cursor < r.base {
		return out, cursor, nil, false, false
	}
	i, _ := slices.BinarySearchFunc(r.ring, cursor+1, func(f hubFrame, id int64) int { return cmp.Compare(f.e.ID, id) })
	var prev *hubFrame
	runStart := 0
	for j := range r.ring[i:] {
		f := &r.ring[i+j]
		if !q.Match(f.e) {
			continue
		}
		if prev != nil && prev.batch == f.batch && prev.end == f.off {
			out[len(out)-1].data = f.batch.blob[runStart:f.end] // the run goes on
		} else {
			out, runStart = append(out, streamChunk{data: f.batch.blob[f.off:f.end]}), f.off
		}
		if runStart == 0 && f.end == len(f.batch.blob) {
			out[len(out)-1].batch = f.batch
		}
		prev = f
	}
	return out, max(cursor, r.head), r.changed, true, false
}
