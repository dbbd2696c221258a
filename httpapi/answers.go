package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/partflow/partflow/parts"
)

// CacheOptions size the caches of encoded answers. The defaults keep a
// server with 100,000 parts well under 400 MiB. A negative size disables
// that cache.
type CacheOptions struct {
	// PartBytes bounds the encoded JSON of single parts kept by id and
	// version, from which list answers are assembled instead of encoded.
	// Default 80 MiB (about 120,000 parts of the usual size).
	PartBytes int64
	// AnswerBytes bounds the whole answers (lists, searches, stats, the
	// leaderboard) kept for the store's current change sequence, with
	// their compressed forms. Default 96 MiB: the four whole categories
	// of 100,000 parts fit. An answer larger than half
	// of it is built for each request and not kept.
	AnswerBytes int64
}

// Defaults of CacheOptions.
const (
	DefaultPartCacheBytes   = 80 << 20
	DefaultAnswerCacheBytes = 96 << 20
)

func (o CacheOptions) withDefaults() CacheOptions {
	if o.PartBytes == 0 {
		o.PartBytes = DefaultPartCacheBytes
	}
	if o.AnswerBytes == 0 {
		o.AnswerBytes = DefaultAnswerCacheBytes
	}
	return o
}

// partCache keeps each part's encoded JSON, keyed by id and checked against
// its version (the Service bumps it on every write of a part), so that a
// list answer is assembled from bytes instead of encoded. Entries of older
// versions are replaced when the new version is encoded; when the cache
// grows past its budget, a quarter of it is dropped.
type partCache struct {
	mu     sync.RWMutex
	m      map[int64]encodedPart
	bytes  int64
	budget int64 // <= 0: off
}

type encodedPart struct {
	version int64
	b       []byte
}

func newPartCache(budget int64) *partCache {
	return &partCache{m: map[int64]encodedPart{}, budget: budget}
}

// appendPart appends p's JSON to dst: the kept bytes when they are of p's
// version, else freshly encoded (and then kept).
func (c *partCache) appendPart(dst []byte, p *parts.Part) ([]byte, error) {
	if c.budget <= 0 {
		return appendPart(dst, p)
	}
	if b := c.lookup(p.ID, p.Version); b != nil {
		return append(dst, b...), nil
	}
	start := len(dst)
	dst, err := appendPart(dst, p)
	if err != nil {
		return dst, err
	}
	b := append([]byte(nil), dst[start:]...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[p.ID]; ok {
		if old.version > p.Version {
			return dst, nil // a newer version is kept already
		}
		c.bytes -= int64(len(old.b))
	}
	c.m[p.ID] = encodedPart{version: p.Version, b: b}
	c.bytes += int64(len(b))
	if c.bytes > c.budget {
		for id, e := range c.m { // map order: an arbitrary quarter goes
			delete(c.m, id)
			c.bytes -= int64(len(e.b))
			if c.bytes <= c.budget*3/4 {
				break
			}
		}
	}
	return dst, nil
}

// sizeHint is the room to make for a part's JSON in a list: a little more
// than the average kept part (800 bytes while none are kept), so that a
// list body is allocated about once and not much too big.
func (c *partCache) sizeHint() int {
	c.mu.RLock()
	n, size := len(c.m), c.bytes
	c.mu.RUnlock()
	if n < 16 {
		return 800
	}
	avg := int(size) / n
	return avg + avg/16 + 2 // and the comma
}

// lookup returns the kept encoding of the part's version, or nil. The bytes
// are never changed once kept.
func (c *partCache) lookup(id, version int64) []byte {
	if c.budget <= 0 {
		return nil
	}
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if ok && e.version == version {
		return e.b
	}
	return nil
}

// answer is one encoded answer of the store at change sequence seq, with
// its compressed forms made on demand.
type answer struct {
	key  string
	seq  int64     // the answer is the store's as of this change; guarded by answerCache.mu once kept
	tag  string    // the ETag's base, without quotes and encoding suffix
	segs []segment // the body, in segments
	size int       // the body's length
	list *listing  // for a list answer, its filter (only); nil for other answers
	// patched says the answer was made by patching a previous one: its
	// parts change under writes, so it goes out as gzip, kept per segment
	// (seggzip.go), rather than brotli, compressed whole for each version.
	patched bool
	used    atomic.Int64 // the cache's clock at the last use

	mu  sync.Mutex          // guards enc; held while compressing
	enc map[string][][]byte // content coding -> compressed body, in chunks
}

// built is a newly encoded answer: its body and, for a list, where its
// parts lie (nil: any write rebuilds the answer).
type built struct {
	body []byte
	list *listing
}

// answerCache keeps the newest answer per normalised query, valid while the
// store's change sequence has not moved past it, within a byte budget and
// maxAnswers (least recently used answers go first). Requests for an answer being built
// wait for that build instead of building it again. When the change
// sequence has moved, advance may bring a kept answer forward (unchanged or
// patched) instead of a rebuild.
type answerCache struct {
	epoch   string // distinguishes this process's tags from an earlier one's
	budget  int64  // <= 0: nothing is kept (builds are still shared)
	clock   atomic.Int64
	advance func(ctx context.Context, a *answer, from int64) (*answer, int64, error) // nil, or see handler.advance
	stats   answerStats

	mu       sync.Mutex
	m        map[string]*answer
	bytes    int64
	building map[string]*build
}

// build is an answer being built.
type build struct {
	seq  int64 // the change it is built for; once done, the change the answer is valid at
	done chan struct{}
	a    *answer
	err  error
}

func newAnswerCache(budget int64) *answerCache {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &answerCache{epoch: hex.EncodeToString(b[:]), budget: budget,
		m: map[string]*answer{}, building: map[string]*build{}}
}

// tag returns the ETag base of the answer to key at change sequence seq.
func (c *answerCache) tag(key string, seq int64) string {
	f := fnv.New64a()
	f.Write([]byte(key))
	return c.epoch + "." + strconv.FormatInt(seq, 36) + "." + strconv.FormatUint(f.Sum64(), 36)
}

// get returns the answer to key at change sequence seq or newer: the kept
// one, the one being built, the kept one brought forward, or a new one
// from fn. A request finding an older answer being built waits for it and
// brings it forward, instead of building another one beside it.
func (c *answerCache) get(ctx context.Context, key string, seq int64, fn func(context.Context) (built, error)) (*answer, error) {
	for {
		c.mu.Lock()
		old := c.m[key]
		var from int64
		if old != nil {
			from = old.seq
		}
		if old != nil && from >= seq {
			c.mu.Unlock()
			old.used.Store(c.clock.Add(1))
			c.stats.hits.Add(1)
			return old, nil
		}
		if b := c.building[key]; b != nil {
			c.mu.Unlock()
			select {
			case <-b.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if b.err == nil && b.seq >= seq {
				c.stats.hits.Add(1)
				return b.a, nil
			}
			continue // older, or failed: bring the kept answer forward, or build
		}
		b := &build{seq: seq, done: make(chan struct{})}
		c.building[key] = b
		c.mu.Unlock()
		return c.run(ctx, b, key, seq, old, from, fn)
	}
}

// run is get's build b: the answer from refresh, kept.
func (c *answerCache) run(ctx context.Context, b *build, key string, seq int64, old *answer, from int64,
	fn func(context.Context) (built, error)) (*answer, error) {
	defer close(b.done)
	a, newSeq, unchanged, err := c.refresh(ctx, key, seq, old, from, fn)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.building[key] == b {
		delete(c.building, key)
	}
	if err != nil {
		b.err = err
		return nil, err
	}
	a.used.Store(c.clock.Add(1))
	if unchanged { // a is the kept answer, valid under the newer number
		a.seq = max(a.seq, newSeq)
		if c.m[key] == a {
			c.trim()
		} else {
			c.keep(a) // it was dropped meanwhile
		}
	} else {
		c.keep(a)
	}
	b.a, b.seq = a, newSeq // read by waiters once done is closed
	return a, nil
}

// refresh returns the answer to key at seq or newer: old (the answer as of
// change from) brought forward by c.advance when it can be (old itself,
// unchanged, valid as of newSeq, when the writes since did not touch it;
// or a patched copy), else a new answer from fn. A small old answer gives
// its ETag to new bytes that are the same; a big one is dropped before the
// new one is built, so that the two are not held at once.
func (c *answerCache) refresh(ctx context.Context, key string, seq int64, old *answer, from int64,
	fn func(context.Context) (built, error)) (a *answer, newSeq int64, unchanged bool, err error) {
	if old != nil && c.advance != nil {
		next, upto, err := c.advance(ctx, old, from)
		if err != nil {
			return nil, 0, false, err
		}
		switch {
		case next == nil || upto < seq: // (the log's head is read after seq: upto >= seq)
		case next == old:
			c.stats.kept.Add(1)
			return old, upto, true, nil
		default:
			c.stats.patched.Add(1)
			return next, upto, false, nil
		}
	}
	if old != nil {
		c.stats.rebuilt.Add(1)
		if old.size >= segBytes {
			c.forget(old)
			old = nil
		}
	} else {
		c.stats.built.Add(1)
	}
	bt, err := fn(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	a = &answer{key: key, seq: seq, tag: c.tag(key, seq), segs: cut(bt.body, bt.list), size: len(bt.body)}
	if bt.list != nil {
		a.list = &listing{filter: bt.list.filter}
	}
	if old != nil && old.equal(bt.body) {
		a.tag = old.tag // the same bytes keep their ETag: clients need not fetch them again
	}
	return a, seq, false, nil
}

// forget drops a from the cache if it is still kept.
func (c *answerCache) forget(a *answer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[a.key] == a {
		c.drop(a)
	}
}

// chunks returns a's body as the byte slices of its segments.
func (a *answer) chunks() [][]byte {
	out := make([][]byte, len(a.segs))
	for i, sg := range a.segs {
		out[i] = sg.b
	}
	return out
}

// equal reports whether a's body is b.
func (a *answer) equal(b []byte) bool {
	if a.size != len(b) {
		return false
	}
	for _, sg := range a.segs {
		if !bytes.Equal(sg.b, b[:len(sg.b)]) {
			return false
		}
		b = b[len(sg.b):]
	}
	return true
}

// answerStats count how requests for answers were met.
type answerStats struct {
	hits    atomic.Int64 // a kept answer, or one being built for another request
	built   atomic.Int64 // built, none being kept
	kept    atomic.Int64 // a kept answer the writes since did not touch, under the newer number
	patched atomic.Int64 // a kept answer with the parts that changed replaced
	rebuilt atomic.Int64 // built again after writes
}

// valid returns the kept answer to key if it is valid at change sequence
// seq, else nil.
func (c *answerCache) valid(key string, seq int64) *answer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.m[key]; a != nil && a.seq >= seq {
		return a
	}
	return nil
}

// keep stores a, unless it is too big or older than what is kept. c.mu is
// held.
func (c *answerCache) keep(a *answer) {
	size := int64(a.size)
	if size > c.budget/2 {
		return
	}
	if old := c.m[a.key]; old != nil {
		if old.seq > a.seq || old == a {
			return
		}
		c.drop(old)
	}
	c.m[a.key] = a
	c.bytes += size
	c.trim()
}

// drop removes a and its compressed forms. c.mu is held.
func (c *answerCache) drop(a *answer) {
	delete(c.m, a.key)
	a.mu.Lock()
	c.bytes -= int64(a.size)
	for _, b := range a.enc {
		c.bytes -= chunksLen(b)
	}
	a.enc = nil // a request still holding a compresses again
	a.mu.Unlock()
}

// maxAnswers bounds the number of answers kept: the hot ones are few (the
// four categories, the first pages, stats); thousands of distinct searches
// would otherwise fill the budget with answers asked for once.
const maxAnswers = 256

// trim drops the least recently used answers until the cache fits its
// budget and maxAnswers. When only the count is over, small answers go
// first: thousands of distinct searches must not push out the few big
// answers (a whole category at 100,000 parts) that are costly to build
// again. c.mu is held.
func (c *answerCache) trim() {
	for (c.bytes > c.budget || len(c.m) > maxAnswers) && len(c.m) > 0 {
		var oldest, oldestSmall *answer
		for _, a := range c.m {
			if oldest == nil || a.used.Load() < oldest.used.Load() {
				oldest = a
			}
			if a.size < segBytes && (oldestSmall == nil || a.used.Load() < oldestSmall.used.Load()) {
				oldestSmall = a
			}
		}
		if c.bytes <= c.budget && oldestSmall != nil {
			oldest = oldestSmall
		}
		c.drop(oldest)
	}
}

// encoded returns a's body in the content coding enc, compressing it on
// first use: a big answer's gzip form from its segments' runs (only new
// segments are compressed), anything else whole.
func (c *answerCache) encoded(a *answer, enc string) ([][]byte, error) {
	a.mu.Lock()
	if b, ok := a.enc[enc]; ok {
		a.mu.Unlock()
		return b, nil
	}
	var b [][]byte
	var err error
	if enc == "gzip" && len(a.segs) > 1 {
		b, err = gzipSegments(a.segs)
	} else {
		var one []byte
		one, err = compress(enc, a.chunks()...)
		b = [][]byte{one}
	}
	if err != nil {
		a.mu.Unlock()
		return nil, err
	}
	if a.enc == nil {
		a.enc = map[string][][]byte{}
	}
	a.enc[enc] = b
	a.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[a.key] == a {
		c.bytes += chunksLen(b)
		c.trim()
	}
	return b, nil
}

// chunksLen is the total length of bs.
func chunksLen(bs [][]byte) int64 {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	return int64(n)
}
