package loadtest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCPUTimeReadsProcStat checks the server CPU figure of bench-events:
// this process's CPU time grows while it computes, an unknown process
// reads as 0, and the per-create figure divides by the creates.
func TestCPUTimeReadsProcStat(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc: bench-events reports no server CPU on this system")
	}
	if cpuTime(0) != 0 || cpuTime(1<<30) != 0 {
		t.Errorf("cpuTime of no process = %v, %v, want 0", cpuTime(0), cpuTime(1<<30))
	}
	pid := os.Getpid()
	start := cpuTime(pid)
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for cpuTime(pid) <= start && time.Now().Before(deadline) {
		for i := range 1 << 20 {
			x ^= i
		}
	}
	if got := cpuTime(pid); got <= start {
		t.Fatalf("CPU time stayed at %v while computing (%d)", got, x)
	}
	r := loadResult{rate: 2, creates: 4, cpu: 2 * time.Millisecond}
	if r.cpuPerCreate() != 500 || r.busy(4*time.Millisecond) != 0.5 {
		t.Errorf("cpuPerCreate %v µs, busy %v: want 500 µs and 0.5", r.cpuPerCreate(), r.busy(4*time.Millisecond))
	}
}

// TestParseEventTime checks the stream clients' time parser against
// time.Parse: the server's form is parsed by hand, others fall back.
func TestParseEventTime(t *testing.T) {
	for _, s := range []string{
		"2026-12-06T09:07:23Z", "2026-12-06T09:07:23.5Z", "2026-12-06T09:07:23.123456Z",
		"2026-12-06T09:07:23.123456789Z", "2024-02-29T23:59:59.000001Z", "2026-12-06T09:07:23+02:00",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := parseEventTime([]byte(s))
		if err != nil || !ok || !got.Equal(want) {
			t.Errorf("parseEventTime(%q) = %v, %v; want %v (%v)", s, got, ok, want, err)
		}
	}
	for _, s := range []string{"", "2026-12-06", "2026-12-06T09:07:23.Z1", "2026-12-06T09:07:23.Z", "2026-1x-06T09:07:23Z", "2026-12-06T09:07:23.1234567890Z"} {
		if _, ok := parseEventTime([]byte(s)); ok {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Errorf("parseEventTime(%q) accepted what time.Parse refuses: %v", s, err)
			}
		}
	}
}

// TestHeldReaderHandsOnEverything checks a stream client's input: a held
// client takes the bytes off the connection (they wait in its buffer, none
// handed on) and, once released, hands on every byte in order and then
// the connection's end; an unheld one hands them on as they come.
func TestHeldReaderHandsOnEverything(t *testing.T) {
	for _, held := range []bool{true, false} {
		pr, pw := io.Pipe()
		h := &heldReader{held: held}
		h.cond = sync.NewCond(&h.mu)
		var wire atomic.Int64
		go h.pump(pr, &wire)
		got := make(chan []byte)
		go func() {
			b, _ := io.ReadAll(h)
			got <- b
		}()
		var want []byte
		for i := range 50 {
			chunk := bytes.Repeat([]byte{byte('a' + i%26)}, 1000+i)
			if _, err := pw.Write(chunk); err != nil { // returns once the pump has read it
				t.Fatal(err)
			}
			want = append(want, chunk...)
		}
		// One more write: the pump has stored every earlier chunk.
		if _, err := pw.Write([]byte("z")); err != nil {
			t.Fatal(err)
		}
		want = append(want, 'z')
		h.mu.Lock()
		stored, handed := len(h.buf), h.off
		h.mu.Unlock()
		if held && (stored < len(want)-1 || handed != 0) {
			t.Errorf("held: %d bytes stored, %d handed on; want at least %d stored, none handed on", stored, handed, len(want)-1)
		}
		h.release()
		pw.Close()
		if b := <-got; !bytes.Equal(b, want) {
			t.Errorf("held=%v: read %d bytes, want the %d written, in order", held, len(b), len(want))
		}
		if wire.Load() != int64(len(want)) {
			t.Errorf("held=%v: wire counted %d, want %d", held, wire.Load(), len(want))
		}
	}
}

// TestHeldReaderStopsWhenClosed checks that closing a held client ends its
// decoder at once, without handing on the bytes it still holds.
func TestHeldReaderStopsWhenClosed(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	h := &heldReader{held: true}
	h.cond = sync.NewCond(&h.mu)
	var wire atomic.Int64
	go h.pump(pr, &wire)
	if _, err := pw.Write([]byte("held bytes")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		b, err := io.ReadAll(h)
		if len(b) != 0 {
			err = errors.New("handed on " + string(b))
		}
		done <- err
	}()
	h.close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("a closed held client's decoder ended with %v, want net.ErrClosed and nothing handed on", err)
	}
}
