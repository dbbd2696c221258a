package httpapi

import (
	"container/list"
	"sync"
	"time"
)

// limiter is a bounded map of counters that expire. Entries are kept in
// order of expiry (every entry of one limiter lives for the same duration
// from when it was (re)started), so expired entries are dropped from the
// front cheaply, and when the map is full the entry closest to expiry goes.
// Memory is therefore bounded by max entries whatever clients send.
type limiter struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element
	order *list.List // of *limitEntry, soonest expiry first
}

type limitEntry struct {
	key     string
	count   int
	expires time.Time
}

func newLimiter(max int) *limiter {
	return &limiter{max: max, items: map[string]*list.Element{}, order: list.New()}
}

// get returns the live entry for key, dropping expired entries first.
func (l *limiter) get(key string, now time.Time) *limitEntry {
	for f := l.order.Front(); f != nil; f = l.order.Front() {
		e := f.Value.(*limitEntry)
		if now.Before(e.expires) {
			break
		}
		l.order.Remove(f)
		delete(l.items, e.key)
	}
	if el, ok := l.items[key]; ok {
		return el.Value.(*limitEntry)
	}
	return nil
}

// start (re)starts key's entry with count 0, expiring after ttl.
func (l *limiter) start(key string, now time.Time, ttl time.Duration) *limitEntry {
	if el, ok := l.items[key]; ok {
		l.order.Remove(el)
		delete(l.items, key)
	}
	for len(l.items) >= l.max {
		f := l.order.Front()
		l.order.Remove(f)
		delete(l.items, f.Value.(*limitEntry).key)
	}
	e := &limitEntry{key: key, expires: now.Add(ttl)}
	l.items[key] = l.order.PushBack(e)
	return e
}

// hit counts one event for key in a window of length window that starts at
// the first event, and returns the count in the current window.
func (l *limiter) hit(key string, now time.Time, window time.Duration) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.get(key, now)
	if e == nil {
		e = l.start(key, now, window)
	}
	e.count++
	return e.count
}

// blocked returns how long key must wait when its current window holds at
// least limit events, else 0. A limit <= 0 never blocks.
func (l *limiter) blocked(key string, now time.Time, limit int) time.Duration {
	if limit <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.get(key, now); e != nil && e.count >= limit {
		return e.expires.Sub(now)
	}
	return 0
}

// since allows one event per interval per key: it returns 0 and records the
// event if key has none within interval, else how long until the next is
// allowed (without recording anything).
func (l *limiter) since(key string, now time.Time, interval time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.get(key, now); e != nil {
		return e.expires.Sub(now)
	}
	l.start(key, now, interval)
	return 0
}

// len returns the number of entries held.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}
