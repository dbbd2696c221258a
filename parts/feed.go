package parts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// feed fans the change log out to a Service's subscribers. One tail
// goroutine (running while anyone subscribes) keeps the newest events in a
// ring. It is woken at once by this Service's commits, which hand it the
// events they added when the store can give their stored form
// (StoredEventer); it appends those that follow the ring's head without a
// gap, and reads the store for the rest: every Poll for commits by other
// processes, and whenever a handed event does not follow the head (another
// process committed in between, a rolled-back id, a commit handed over out
// of order that has not arrived within Coalesce). Subscribers that are
// caught up read the ring; those further behind read pages from the store.
// Writers never wait for the tail or a subscriber.
type feed struct {
	store  Store
	stored StoredEventer // nil: every commit is read back from the store
	opts   EventOptions
	log    *slog.Logger
	kick   chan struct{}

	mu      sync.Mutex
	subs    int
	running bool
	ready   bool
	base    int64    // the ring holds every event with base < ID <= head
	head    int64    //
	ring    []*Event // ascending IDs
	changed chan struct{}
	handed  []*Event // committed by this Service, not yet in the ring
	dirty   bool     // a commit the tail must read from the store
}

func newFeed(store Store, opts EventOptions, log *slog.Logger) *feed {
	f := &feed{store: store, opts: opts.normalize(), log: log, kick: make(chan struct{}, 1),
		changed: make(chan struct{})}
	f.stored, _ = store.(StoredEventer)
	return f
}

// notify wakes the tail; with read, it reads the store when it wakes. It
// never blocks.
func (f *feed) notify(read bool) {
	if read {
		f.mu.Lock()
		if f.running {
			f.dirty = true
		}
		f.mu.Unlock()
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// maxHanded bounds the events handed to the tail and not yet in the ring;
// past it they are dropped and the tail reads the store.
const maxHanded = 4096

// committed hands the tail the events a commit of this Service added.
func (f *feed) committed(evs []*Event) {
	if len(evs) == 0 {
		return
	}
	f.mu.Lock()
	switch {
	case !f.running:
	case !f.ready || len(f.handed)+len(evs) > maxHanded:
		// The tail has not read the head yet, or is far behind: the
		// store has it all.
		f.dirty, f.handed = true, nil
	default:
		f.handed = append(f.handed, evs...)
	}
	f.mu.Unlock()
	f.notify(false)
}

// subscriptionBuffer is the channel buffer of a Subscription.
const subscriptionBuffer = 64

// Subscription is a running subscription to the change log.
type Subscription struct {
	// C delivers the events in ID order. It is closed when the
	// subscription ends; Err then says why.
	C   <-chan *Event
	err error
}

// Err returns why the subscription ended: the context's error, or an error
// wrapping ErrCursorExpired (resync and subscribe again). Call it once C is
// closed.
func (s *Subscription) Err() error { return s.err }

// Subscribe follows the change log from q.After: every matching event after
// the cursor, in order, including events committed by other processes
// sharing the store, then new ones as they commit, until ctx ends. q.Limit
// is ignored. Delivery is at-least-once: a consumer that stores its cursor
// (the last ID it handled) and resumes from it may see an event again after
// a crash, never miss one; use the ID to de-duplicate. A slow consumer
// never blocks writers or other subscribers: it falls behind and catches up
// from the store. With q.After FromHead it delivers the events committed
// after Subscribe returns. An invalid query gives a *ValidationError; a
// store error reading the head is returned.
func (s *Service) Subscribe(ctx context.Context, q EventQuery) (*Subscription, error) {
	q, err := normalizeQuery(q)
	if err != nil {
		return nil, err
	}
	q.Limit = MaxEventLimit
	if q.After < 0 {
		// Resolve the head now, so every event committed after Subscribe
		// returns is delivered.
		page, err := s.store.ReadLog(ctx, EventQuery{After: FromHead, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		q.After = page.Next
	}
	// A small buffer lets a batch reach the consumer without a hand-off
	// per event; a consumer further behind reads from the store.
	ch := make(chan *Event, subscriptionBuffer)
	sub := &Subscription{C: ch}
	s.feed.join()
	go func() {
		defer close(ch)
		defer s.feed.leave()
		sub.err = s.feed.follow(ctx, q, ch)
	}()
	return sub, nil
}

func (f *feed) join() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs++
	if !f.running {
		f.running = true
		go f.tail()
	}
}

func (f *feed) leave() {
	f.mu.Lock()
	f.subs--
	f.mu.Unlock()
	f.notify(false)
}

// follow delivers the events after q.After to out until ctx ends or the
// cursor expires.
func (f *feed) follow(ctx context.Context, q EventQuery, out chan<- *Event) error {
	cursor := q.After
	for {
		evs, next, wait, fromRing := f.fromRing(&q, cursor)
		if !fromRing {
			q.After = cursor
			page, err := f.store.ReadLog(ctx, q)
			if err != nil {
				if errors.Is(err, ErrCursorExpired) || ctx.Err() != nil {
					return fmt.Errorf("subscribe after %d: %w", cursor, err)
				}
				f.log.Warn("change feed: read failed; retrying", "err", err)
				if err := f.sleep(ctx, f.opts.Poll); err != nil {
					return err
				}
				continue
			}
			evs, next = page.Events, page.Next
		}
		for _, e := range evs {
			select {
			case out <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		cursor = max(cursor, next)
		if wait != nil && len(evs) == 0 {
			select {
			case <-wait:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// fromRing returns the matching events after cursor from the ring (copies)
// and the new cursor, with the channel that closes when the ring moves on.
// ok is false when the cursor is behind the ring: read the store.
func (f *feed) fromRing(q *EventQuery, cursor int64) (evs []*Event, next int64, wait <-chan struct{}, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ready {
		return nil, cursor, f.changed, true
	}
	if cursor < f.base {
		return nil, cursor, nil, false
	}
	i, _ := slices.BinarySearchFunc(f.ring, cursor+1, func(e *Event, id int64) int { return cmp.Compare(e.ID, id) })
	for _, e := range f.ring[i:] {
		if q.Match(e) {
			evs = append(evs, cloneEvent(e))
		}
	}
	return evs, max(cursor, f.head), f.changed, true
}

// sleep waits d or until ctx ends.
func (f *feed) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tail keeps the ring up to date until no one subscribes.
func (f *feed) tail() {
	ctx := context.Background()
	timer := time.NewTimer(0)
	defer timer.Stop()
	gap := false // a handed event waits for an earlier one
	for {
		poll := false
		select {
		case <-f.kick:
		case <-timer.C:
			poll = !gap // else the wake that gives a missing commit its time
		}
		f.mu.Lock()
		if f.subs == 0 {
			f.running, f.ready, f.ring, f.handed, f.dirty = false, false, nil, nil, false
			f.mu.Unlock()
			return
		}
		read := poll || f.dirty || !f.ready
		f.dirty = false
		f.mu.Unlock()
		n, waiting, err := f.advance(ctx, read, gap)
		if err != nil {
			f.log.Warn("change feed: tail read failed; retrying", "err", err)
		}
		gap = waiting
		// Under a burst of commits, wake subscribers at most once per
		// Coalesce: each wake then carries a batch. A wake that added
		// feedBurst events or more means the burst goes on: the next waits
		// feedBurstFactor times as long. After a quiet spell the next
		// commit is delivered at once.
		wait := f.opts.Coalesce
		if n >= feedBurst {
			wait *= feedBurstFactor
		}
		<-time.After(wait)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if gap {
			// Give the missing commit one more Coalesce to be handed
			// over; the store is read if it has not come by then.
			timer.Reset(0)
		} else {
			timer.Reset(f.opts.Poll)
		}
	}
}

// advance moves the ring on: with the events handed over by this
// Service's commits, and from the store when read is set, or when a handed
// event still waits for an earlier one (gap) after the last advance too.
// It returns how many events it added and whether one still waits.
func (f *feed) advance(ctx context.Context, read, gap bool) (int, bool, error) {
	n := 0
	if !read {
		k, waiting, err := f.appendHanded()
		if err == nil && (!waiting || !gap) {
			return k, waiting, nil
		}
		if err != nil {
			f.log.Warn("change feed: stored form of an event failed; reading the store", "err", err)
		}
		n = k
	}
	k, err := f.readNew(ctx)
	n += k
	if err != nil {
		return n, false, err
	}
	k, waiting, err := f.appendHanded()
	return n + k, waiting, err
}

// appendHanded appends to the ring the handed events that follow its head
// without a gap, in their stored form. It keeps those after a gap and
// drops those the ring already has; waiting says whether any are kept.
func (f *feed) appendHanded() (n int, waiting bool, err error) {
	f.mu.Lock()
	evs, head := f.handed, f.head
	f.handed = nil
	f.mu.Unlock()
	if len(evs) == 0 || f.stored == nil {
		return 0, false, nil
	}
	slices.SortFunc(evs, func(a, b *Event) int { return cmp.Compare(a.ID, b.ID) })
	var add []*Event
	i := 0
	for ; i < len(evs) && evs[i].ID <= head+1; i++ {
		if evs[i].ID <= head {
			continue
		}
		e, err := f.stored.StoredEvent(evs[i])
		if err != nil {
			return 0, false, err // the store is read instead
		}
		add = append(add, e)
		head = e.ID
	}
	rest := evs[i:]
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(add) > 0 {
		f.push(add, head)
	}
	if len(rest) > 0 {
		f.handed = slices.Concat(rest, f.handed)
	}
	return len(add), len(rest) > 0, nil
}

// A read of feedBurst events or more makes the tail wait feedBurstFactor
// times Coalesce before the next: at the default 20ms, a sustained burst of
// 800 commits per second or more is read every 100ms.
const (
	feedBurst       = 16
	feedBurstFactor = 5
)

// readNew appends the events committed since the ring's head and returns
// how many it read.
func (f *feed) readNew(ctx context.Context) (int, error) {
	f.mu.Lock()
	ready, after := f.ready, f.head
	f.mu.Unlock()
	if !ready {
		after = FromHead
	}
	n := 0
	for {
		page, err := f.store.ReadLog(ctx, EventQuery{After: after, Limit: MaxEventLimit})
		if err != nil {
			return n, err
		}
		f.append(page, !ready)
		if ready {
			n += len(page.Events) // the first read only finds the head
		}
		ready = true
		if len(page.Events) < MaxEventLimit {
			return n, nil
		}
		after = page.Next
	}
}

// append adds a page read by the tail to the ring and wakes subscribers.
func (f *feed) append(page *EventPage, first bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if first {
		f.ready, f.base, f.head, f.ring = true, page.Next, page.Next, nil
	}
	if len(page.Events) == 0 && page.Next <= f.head && !first {
		return
	}
	f.push(page.Events, page.Next)
}

// push adds evs, which follow the head without a gap, to the ring, moves
// the head to head and wakes subscribers. The caller holds f.mu.
func (f *feed) push(evs []*Event, head int64) {
	f.ring = append(f.ring, evs...)
	if n := len(f.ring) - f.opts.Buffer; n > 0 {
		f.base = f.ring[n-1].ID
		f.ring = append([]*Event(nil), f.ring[n:]...)
	}
	f.head = max(f.head, head)
	close(f.changed)
	f.changed = make(chan struct{})
}

// FeedStats describe the Service's shared change-log reader, which feeds
// every Subscription (metrics).
type FeedStats struct {
	// Subscribers counts the running Subscriptions.
	Subscribers int
	// Reading says whether the shared reader runs and has read the log.
	Reading bool
	// Head is the last event it has read, when Reading.
	Head int64
}

// FeedStats returns the state of the shared change-log reader.
func (s *Service) FeedStats() FeedStats {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	st := FeedStats{Subscribers: s.feed.subs, Reading: s.feed.running && s.feed.ready}
	if st.Reading {
		st.Head = s.feed.head
	}
	return st
}
