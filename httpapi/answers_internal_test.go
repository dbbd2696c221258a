package httpapi

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
)

// TestNewerRequestWaitsForTheBuildAndBringsItForward checks that a request
// for a newer change than the answer being built waits for that build and
// brings its answer forward, instead of building a second one beside it
// (at 100,000 parts, eight requests building a 15 MB category each).
func TestNewerRequestWaitsForTheBuildAndBringsItForward(t *testing.T) {
	c := newAnswerCache(1 << 20)
	var builds, advances atomic.Int32
	started, gate := make(chan struct{}), make(chan struct{})
	fn := func(context.Context) (built, error) {
		if builds.Add(1) == 1 {
			close(started)
			<-gate
		}
		return built{body: []byte(`{"parts":[]}`)}, nil
	}
	c.advance = func(_ context.Context, a *answer, from int64) (*answer, int64, error) {
		advances.Add(1)
		return a, 2, nil // no event since touches it
	}
	first := make(chan *answer)
	go func() {
		a, _ := c.get(context.Background(), "k", 1, fn)
		first <- a
	}()
	<-started
	second := make(chan *answer)
	go func() {
		a, _ := c.get(context.Background(), "k", 2, fn)
		second <- a
	}()
	for range 100 {
		runtime.Gosched() // let the second request find the build under way
	}
	close(gate)
	a1, a2 := <-first, <-second
	if builds.Load() != 1 || advances.Load() != 1 || a1 != a2 {
		t.Fatalf("%d builds, %d advances, answers %p %p: want one build brought forward once", builds.Load(), advances.Load(), a1, a2)
	}
	if a := c.valid("k", 2); a != a1 {
		t.Fatalf("kept answer %p is not valid at change 2", a)
	}
}

// TestManySmallAnswersDoNotPushOutABigOne fills the cache with more small
// answers than it keeps after a big one: the small ones go, the big one
// (costly to build again) stays.
func TestManySmallAnswersDoNotPushOutABigOne(t *testing.T) {
	c := newAnswerCache(64 << 20)
	big := make([]byte, 4*segBytes)
	if _, err := c.get(context.Background(), "big", 1, func(context.Context) (built, error) { return built{body: big}, nil }); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * maxAnswers {
		key := "small" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, err := c.get(context.Background(), key, 1, func(context.Context) (built, error) {
			return built{body: []byte(`{"parts":[]}`)}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if c.valid("big", 1) == nil {
		t.Fatal("the big answer was dropped for small ones")
	}
	if len(c.m) > maxAnswers {
		t.Fatalf("%d answers kept, want at most %d", len(c.m), maxAnswers)
	}
}
