package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// StateStore keeps the endpoints with their cursors and delivery logs
// across restarts.
type StateStore interface {
	// Load returns the saved endpoints; none saved yet gives an empty list.
	Load() ([]Status, error)
	// Save replaces the saved endpoints, atomically.
	Save(eps []Status) error
}

// FileState is a StateStore in one JSON file (mode 0600: it holds the
// secrets), replaced atomically on every save.
type FileState struct {
	Path string
}

// Load implements StateStore.
func (f *FileState) Load() ([]Status, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhooks: load state: %w", err)
	}
	var out []Status
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("webhooks: load state %s: %w", f.Path, err)
	}
	return out, nil
}

// Save implements StateStore: it writes a temporary file, syncs it and
// renames it over the old one.
func (f *FileState) Save(eps []Status) error {
	b, err := json.MarshalIndent(eps, "", "  ")
	if err != nil {
		return fmt.Errorf("webhooks: save state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".webhooks-*.tmp")
	if err != nil {
		return fmt.Errorf("webhooks: save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		if _, err = tmp.Write(b); err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.Path)
	}
	if err != nil {
		return fmt.Errorf("webhooks: save state: %w", err)
	}
	return nil
}

// MemoryState is a StateStore in memory (tests, throwaway servers).
type MemoryState struct {
	mu  sync.Mutex
	eps []Status
}

// Load implements StateStore.
func (m *MemoryState) Load() ([]Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, len(m.eps))
	for i, s := range m.eps {
		out[i] = s
		out[i].Deliveries = append([]Attempt(nil), s.Deliveries...)
	}
	return out, nil
}

// Save implements StateStore.
func (m *MemoryState) Save(eps []Status) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eps = make([]Status, len(eps))
	for i, s := range eps {
		m.eps[i] = s
		m.eps[i].Deliveries = append([]Attempt(nil), s.Deliveries...)
	}
	return nil
}

// SharedState is a StateStore that several servers share (a database).
// A Manager over one writes every change through Update, so a cursor
// advanced by the delivering server and an endpoint changed by an admin on
// another never overwrite each other, and it reloads the endpoints to see
// the other servers' changes.
type SharedState interface {
	StateStore
	// Update applies fn to the saved endpoints and saves what it returns,
	// atomically: if another writer saved in between, fn runs again on the
	// new endpoints. An error from fn is returned as is, nothing saved.
	Update(fn func(eps []Status) ([]Status, error)) error
}

// Settings is the store capability SettingsState keeps the endpoints in
// (storage/bunstore has it).
type Settings interface {
	// Setting returns the named value, or nil when none is stored.
	Setting(ctx context.Context, name string) ([]byte, error)
	// SwapSetting replaces the named value with value if it still is old
	// (old nil: none stored yet) and says whether it did.
	SwapSetting(ctx context.Context, name string, old, value []byte) (bool, error)
}

// SettingsState is a SharedState in one named setting of a database that
// several servers share: JSON of every endpoint, updated by compare and
// swap.
type SettingsState struct {
	Store Settings
	// Name is the setting's name; default "webhooks".
	Name string
}

// maxSwaps bounds the retries of one Update against concurrent writers.
const maxSwaps = 100

func (s *SettingsState) name() string {
	if s.Name == "" {
		return "webhooks"
	}
	return s.Name
}

func (s *SettingsState) load() ([]byte, []Status, error) {
	b, err := s.Store.Setting(context.Background(), s.name())
	if err != nil || b == nil {
		return nil, nil, err
	}
	var out []Status
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, nil, fmt.Errorf("webhooks: load state: %w", err)
	}
	return b, out, nil
}

// Load implements StateStore.
func (s *SettingsState) Load() ([]Status, error) {
	_, eps, err := s.load()
	return eps, err
}

// Save implements StateStore: it replaces every endpoint.
func (s *SettingsState) Save(eps []Status) error {
	return s.Update(func([]Status) ([]Status, error) { return eps, nil })
}

// Update implements SharedState.
func (s *SettingsState) Update(fn func(eps []Status) ([]Status, error)) error {
	for range maxSwaps {
		old, eps, err := s.load()
		if err != nil {
			return err
		}
		eps, err = fn(eps)
		if err != nil {
			return err
		}
		b, err := json.Marshal(eps)
		if err != nil {
			return fmt.Errorf("webhooks: save state: %w", err)
		}
		ok, err := s.Store.SwapSetting(context.Background(), s.name(), old, b)
		if err != nil {
			return fmt.Errorf("webhooks: save state: %w", err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("webhooks: save state: %d concurrent updates in a row", maxSwaps)
}
