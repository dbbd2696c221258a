package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/partflow/partflow/parts"
)

// faultMemory is how long /ready reports a storage fault after a request
// last ran into it.
const faultMemory = 30 * time.Second

// storageFaults remembers the storage faults requests ran into, by store,
// so that /ready can report them while reads go on being served.
type storageFaults struct {
	mu   sync.Mutex
	seen map[string]faultSeen // store name -> last fault
}

type faultSeen struct {
	err *parts.StorageError
	at  time.Time
}

// record notes err if it is a storage fault.
func (f *storageFaults) record(err error, now time.Time) {
	var se *parts.StorageError
	if !errors.As(err, &se) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]faultSeen{}
	}
	f.seen[se.Store] = faultSeen{err: se, at: now}
}

// current returns the sentences of the faults seen within faultMemory,
// sorted, forgetting older ones.
func (f *storageFaults) current(now time.Time) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for store, s := range f.seen {
		if now.Sub(s.at) > faultMemory {
			delete(f.seen, store)
			continue
		}
		out = append(out, s.err.Error())
	}
	slices.Sort(out)
	return out
}

// storageFaultAnswer is the error table's answer to a storage fault: 507
// Insufficient Storage when full, 503 with Retry-After when read-only,
// naming the store ("The file store is full").
func storageFaultAnswer(err error, w http.ResponseWriter) (int, errorBody) {
	e, _ := as[*parts.StorageError](err)
	msg := e.Error()
	if msg != "" {
		msg = string(msg[0]-'a'+'A') + msg[1:]
	}
	body := errorBody{Error: msg, Details: map[string]any{
		"reason": e.Error(), "reads": "still served; writes work again once the operator frees space or restores write access"}}
	if errors.Is(e, parts.ErrStorageFull) {
		return http.StatusInsufficientStorage, body
	}
	w.Header().Set("Retry-After", "60")
	body.RetryAfter = 60
	return http.StatusServiceUnavailable, body
}
