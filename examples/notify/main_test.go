package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// TestNotify_postsCompletionsAndResumes completes parts through another
// Service on the same database file (as a server would), and checks that
// notify posts each completion once, also across a restart.
func TestNotify_postsCompletionsAndResumes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "parts.db")
	got := make(chan string, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	t.Cleanup(recv.Close)
	store, err := bunstore.Open(t.Context(), "sqlite://"+db, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	writer := parts.NewService(store, nil)
	complete := func(partID string) {
		p, err := writer.CreatePart(t.Context(), &parts.Part{PartID: partID, Name: "Gearbox plate", Material: "al",
			Subsystem: "drive", Type: parts.TypeHand}, "ada")
		if err == nil {
			_, err = writer.Approve(t.Context(), p.ID, parts.ActionInput{Actor: "ada"})
		}
		if err == nil {
			_, err = writer.Complete(t.Context(), p.ID, parts.ActionInput{Actor: "Ada"})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	stored := make(chan int64, 10)
	cfg := config{DB: db, Cursor: filepath.Join(dir, "cursor"), URL: recv.URL, Poll: 5 * time.Millisecond,
		Stored: func(seq int64) { stored <- seq }}
	start := func() func() {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- run(ctx, cfg) }()
		return func() {
			cancel()
			if err := <-done; err != context.Canceled {
				t.Errorf("run ended with %v, want context.Canceled", err)
			}
		}
	}
	// next returns the next message once its cursor is stored.
	next := func() string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		var m string
		select {
		case m = <-got:
		case <-deadline:
			t.Fatal("no message posted")
		}
		select {
		case <-stored:
		case <-deadline:
			t.Fatal("the cursor was not stored")
		}
		return m
	}

	complete("DRV-001")
	stop := start()
	if m := next(); m != `{"text":"Gearbox plate (DRV-001) completed by Ada"}` {
		t.Fatalf("message %s", m)
	}
	stop()
	complete("DRV-002") // while notify is not running
	stop = start()
	if m := next(); m != `{"text":"Gearbox plate (DRV-002) completed by Ada"}` {
		t.Fatalf("after the restart got %s, want only DRV-002", m)
	}
	complete("DRV-003")
	if m := next(); m != `{"text":"Gearbox plate (DRV-003) completed by Ada"}` {
		t.Fatalf("live message %s", m)
	}
	stop()
	select {
	case m := <-got:
		t.Fatalf("an extra message: %s", m)
	default:
	}
}
