package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
)

// The registry is global, so each test registers schemes with its own prefix.

func TestOpenUsesTheRegisteredDriver(t *testing.T) {
	var gotURL string
	var gotOpts *storage.Options
	storage.Register("regtest-a", func(_ context.Context, url string, o *storage.Options) (parts.Store, error) {
		gotURL, gotOpts = url, o
		return nil, errors.New("sentinel from driver")
	})
	opts := &storage.Options{}
	_, err := storage.Open(t.Context(), "REGTEST-A://somewhere", opts)
	if err == nil || err.Error() != "sentinel from driver" {
		t.Errorf("Open returned %v, want the driver's error unchanged", err)
	}
	if gotURL != "REGTEST-A://somewhere" || gotOpts != opts {
		t.Errorf("driver got %q, %p; want the URL and options as passed", gotURL, gotOpts)
	}
}

func TestUnknownSchemeListsKnownSchemesSorted(t *testing.T) {
	storage.Register("regtest-z", func(context.Context, string, *storage.Options) (parts.Store, error) { return nil, nil })
	storage.Register("regtest-b", func(context.Context, string, *storage.Options) (parts.Store, error) { return nil, nil })
	for _, url := range []string{"nosuch://x", "no-scheme-at-all", "://x"} {
		_, err := storage.Open(t.Context(), url, nil)
		if !errors.Is(err, storage.ErrUnknownScheme) {
			t.Fatalf("Open(%q): %v, want ErrUnknownScheme", url, err)
		}
		msg := err.Error()
		b, z := strings.Index(msg, "regtest-b"), strings.Index(msg, "regtest-z")
		if b < 0 || z < 0 || b > z {
			t.Errorf("error %q does not list the known schemes in order", msg)
		}
	}
	if got := storage.Schemes(); !isSorted(got) {
		t.Errorf("Schemes() = %v, not sorted", got)
	}
}

func isSorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

func TestDuplicateRegistrationPanics(t *testing.T) {
	open := func(context.Context, string, *storage.Options) (parts.Store, error) { return nil, nil }
	storage.Register("regtest-dup", open)
	defer func() {
		if recover() == nil {
			t.Error("registering a scheme twice did not panic")
		}
	}()
	storage.Register("regtest-dup", open)
}

func TestBadRegistrationsPanic(t *testing.T) {
	cases := map[string]func(){
		"empty scheme": func() {
			storage.Register("", func(context.Context, string, *storage.Options) (parts.Store, error) { return nil, nil })
		},
		"scheme with ://": func() {
			storage.RegisterFiles("x://", func(context.Context, string) (parts.FileStore, error) { return nil, nil })
		},
		"nil open": func() { storage.Register("regtest-nil", nil) },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			fn()
		})
	}
}

func TestFileRegistryIsSeparate(t *testing.T) {
	var got string
	storage.RegisterFiles("regtest-files", func(_ context.Context, url string) (parts.FileStore, error) {
		got = url
		return nil, errors.New("files driver called")
	})
	if _, err := storage.OpenFiles(t.Context(), "regtest-files://bucket"); err == nil || got != "regtest-files://bucket" {
		t.Errorf("OpenFiles: %v, driver got %q", err, got)
	}
	if _, err := storage.Open(t.Context(), "regtest-files://bucket", nil); !errors.Is(err, storage.ErrUnknownScheme) {
		t.Errorf("a file scheme opened as a part store: %v", err)
	}
	_, err := storage.OpenFiles(t.Context(), "nosuch://x")
	if !errors.Is(err, storage.ErrUnknownScheme) || !strings.Contains(err.Error(), "regtest-files") {
		t.Errorf("OpenFiles(unknown) = %v, want ErrUnknownScheme listing regtest-files", err)
	}
	for _, s := range storage.FileSchemes() {
		if strings.HasPrefix(s, "regtest-") && s != "regtest-files" {
			t.Errorf("FileSchemes lists part store scheme %q", s)
		}
	}
}
