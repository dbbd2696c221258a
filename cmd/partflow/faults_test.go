//go:build faults && linux

// The fault-injection suite: `make faults` (or go test -tags faults -run
// TestFaults ./cmd/partflow). It runs the real binary through a kill -9
// under write load, a SIGTERM under write load and a full file store, and
// prints one FAULTS line of figures per scenario: writes acknowledged and
// lost, files leaked, 5xx answers seen. It fails if any acknowledged write
// is lost, any file is leaked or any unexpected 5xx is seen.

package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ack is one acknowledged write: a part, and the file uploaded to it.
type ack struct {
	id  int
	sum [32]byte // zero: the upload was not acknowledged
}

// load runs writers against a server until stop is closed, counting what
// was acknowledged and which answers were 5xx.
type load struct {
	base, key string
	client    *http.Client
	mu        sync.Mutex
	acks      []ack
	fivexx    atomic.Int64
	acked     atomic.Int64
}

func (l *load) do(method, path, ct string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, l.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-API-Key", l.key)
	req.Header.Set("Content-Type", ct)
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		l.fivexx.Add(1)
	}
	return resp.StatusCode, b, err
}

// writer creates parts and uploads a file to each until stop closes.
func (l *load) writer(t *testing.T, n int, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		st, b, err := l.do("POST", "/api/parts/", "application/json",
			fmt.Appendf(nil, `{"partId":"L-%d-%d","name":"Load","type":"cnc","material":"6061","subsystem":"Drive"}`, n, i))
		if err != nil || st != 201 {
			continue
		}
		var id int
		fmt.Sscanf(string(b[bytes.Index(b, []byte(`"id":`))+5:]), "%d", &id)
		a := ack{id: id}
		l.acked.Add(1)
		content := stepFile(fmt.Sprintf("load-%d-%d", n, i), 4<<10+i%7*1024)
		body, ct := multipartBody(t, "l.step", content)
		if st, _, err := l.do("POST", fmt.Sprintf("/api/parts/%d/upload", id), ct, body); err == nil && st == 201 {
			a.sum = sha256.Sum256(content)
			l.acked.Add(1)
		}
		l.mu.Lock()
		l.acks = append(l.acks, a)
		l.mu.Unlock()
	}
}

// verify counts the acknowledged writes missing from a (restarted) server.
func (l *load) verify(t *testing.T, base string) (lost int) {
	l.base = base
	for _, a := range l.acks {
		st, _, err := l.do("GET", fmt.Sprintf("/api/parts/%d", a.id), "", nil)
		if err != nil || st != 200 {
			lost++
			continue
		}
		if a.sum == ([32]byte{}) {
			continue
		}
		st, b, err := l.do("GET", fmt.Sprintf("/api/parts/%d/download", a.id), "", nil)
		if err != nil || st != 200 || sha256.Sum256(b) != a.sum {
			lost++
		}
	}
	return lost
}

// underLoad starts 6 writers, and once at least `after` writes are
// acknowledged signals the server with sig, then stops the writers.
func underLoad(t *testing.T, s *server, key string, sig syscall.Signal, after int64) *load {
	l := &load{base: s.url, key: key, client: &http.Client{Timeout: 10 * time.Second}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for n := range 6 {
		wg.Go(func() { l.writer(t, n, stop) })
	}
	for l.acked.Load() < after {
		if s.cmd.ProcessState != nil {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling the writers' progress
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not exit after %v", sig)
	}
	close(stop)
	wg.Wait()
	return l
}

func TestFaults(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{{"kill -9 under write load", syscall.SIGKILL}, {"SIGTERM under write load", syscall.SIGTERM}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			s := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development"})
			key := generatedKey(t, data)
			l := underLoad(t, s, key, tc.sig, 1500)
			during := l.fivexx.Load()
			left := len(debris(t, data)) // before the restart's sweep
			s2 := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development", "PARTFLOW_GC__GRACE=1ms"})
			lost := l.verify(t, s2.url)
			deadline := time.Now().Add(20 * time.Second)
			for len(debris(t, data)) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // polling the server's sweep
			}
			leaked := len(debris(t, data))
			s2.stop(t)
			fmt.Printf("FAULTS scenario=%q acknowledged=%d lost=%d debris_after_stop=%d leaked_files_after_restart=%d 5xx=%d\n",
				tc.name, l.acked.Load(), lost, left, leaked, during)
			if lost > 0 || leaked > 0 || during > 0 {
				t.Errorf("lost %d acknowledged writes, leaked %d files, saw %d 5xx", lost, leaked, during)
			}
		})
	}
	t.Run("full file store", func(t *testing.T) { fullFileStore(t, bin) })
}

// fullFileStore mounts an 8 MiB tmpfs as the file store, uploads until it
// is full, and checks the answers are 507 (never another 5xx), /ready
// names the fault, reads go on, and writes work again once space is freed.
func fullFileStore(t *testing.T, bin string) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.MkdirAll(files, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", files).CombinedOutput(); err != nil {
		fmt.Printf("FAULTS scenario=%q not run: mounting a tmpfs needs privileges (%s)\n", "full file store", strings.TrimSpace(string(out)))
		t.Skip("cannot mount a tmpfs here")
	}
	t.Cleanup(func() { exec.Command("umount", files).Run() })
	s := startServer(t, bin, dir, []string{"PARTFLOW_ENV=development", "PARTFLOW_FILES_URL=" + files})
	l := &load{base: s.url, key: generatedKey(t, filepath.Join(dir, "data")), client: &http.Client{Timeout: 10 * time.Second}}
	var ids []int
	full, other5xx, stored := 0, 0, 0
	for i := 0; i < 100 && full == 0; i++ {
		st, b, err := l.do("POST", "/api/parts/", "application/json", fmt.Appendf(nil, `{"partId":"D-%d","type":"cnc","material":"M","subsystem":"S"}`, i))
		if err != nil || st != 201 {
			t.Fatalf("create: %d %s %v", st, b, err)
		}
		var id int
		fmt.Sscanf(string(b[bytes.Index(b, []byte(`"id":`))+5:]), "%d", &id)
		ids = append(ids, id)
		body, ct := multipartBody(t, "big.step", stepFile(fmt.Sprint(i), 1<<20))
		st, b, _ = l.do("POST", fmt.Sprintf("/api/parts/%d/upload", id), ct, body)
		switch {
		case st == 201:
			stored++
		case st == 507:
			full++
			if !strings.Contains(string(b), "The file store is full") {
				t.Errorf("507 body %s", b)
			}
		case st >= 500:
			other5xx++
			t.Errorf("upload: %d %s", st, b)
		}
	}
	if full == 0 {
		t.Fatalf("the 8 MiB file store never filled (%d uploads stored)", stored)
	}
	st, b, _ := l.do("GET", "/ready", "", nil)
	readyOK := st == 503 && strings.Contains(string(b), "the file store is full")
	if st, _, _ := l.do("GET", fmt.Sprintf("/api/parts/%d/download", ids[0]), "", nil); st != 200 {
		t.Errorf("download from a full store: %d", st)
	}
	for _, id := range ids[:len(ids)/2] {
		l.do("DELETE", fmt.Sprintf("/api/parts/%d", id), "", nil)
	}
	body, ct := multipartBody(t, "again.step", stepFile("again", 1<<20))
	again, _, _ := l.do("POST", fmt.Sprintf("/api/parts/%d/upload", ids[len(ids)-1]), ct, body)
	s.stop(t)
	fmt.Printf("FAULTS scenario=%q stored=%d answered_507=%d other_5xx=%d ready_reports_fault=%t write_after_freeing=%d\n",
		"full file store", stored, full, other5xx, readyOK, again)
	if !readyOK || again != 201 {
		t.Errorf("/ready %d %s; upload after freeing space: %d", st, b, again)
	}
}
