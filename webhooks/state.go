package webhooks

import (
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
