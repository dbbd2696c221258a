package bunstore_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// TestKeyStore checks the KeyStore methods on both engines: create (a live
// name once), find by id and digest, rotate, touch, revoke (first time
// kept), and the name of a revoked key free again.
func TestKeyStore(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "parts.db") },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			s, err := bunstore.Open(t.Context(), url(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			testKeyStore(t, s)
		})
	}
}

func testKeyStore(t *testing.T, s *bunstore.Store) {
	ctx := t.Context()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	exp := at.Add(time.Hour)
	k := &parts.APIKey{Name: "ada", Role: "editor", Roles: []string{"qa"}, Digest: bytes.Repeat([]byte{1}, 32),
		Prefix: "pfk_aaaaaaaa", CreatedAt: at, ExpiresAt: &exp}
	if err := s.CreateKey(ctx, k); err != nil || k.ID == 0 {
		t.Fatalf("CreateKey: %v (id %d)", err, k.ID)
	}
	dup := &parts.APIKey{Name: "ada", Role: "admin", Digest: bytes.Repeat([]byte{2}, 32), CreatedAt: at}
	if err := s.CreateKey(ctx, dup); !errors.Is(err, parts.ErrConflict) {
		t.Errorf("duplicate name: %v", err)
	}
	got, err := s.FindKeyByDigest(ctx, k.Digest)
	if err != nil || got.ID != k.ID || got.Roles[0] != "qa" || !got.ExpiresAt.Equal(exp) || !got.CreatedAt.Equal(at) {
		t.Fatalf("FindKeyByDigest = %+v, %v", got, err)
	}
	if err := s.SetKeySecret(ctx, k.ID, bytes.Repeat([]byte{3}, 32), "pfk_bbbbbbbb"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindKeyByDigest(ctx, k.Digest); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("old digest after rotation: %v", err)
	}
	if err := s.TouchKey(ctx, k.ID, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, k.ID, at.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, k.ID, at.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err = s.FindKey(ctx, k.ID)
	if err != nil || got.Prefix != "pfk_bbbbbbbb" || !got.LastUsedAt.Equal(at.Add(time.Minute)) || !got.RevokedAt.Equal(at.Add(2*time.Minute)) {
		t.Fatalf("FindKey = %+v, %v", got, err)
	}
	if err := s.CreateKey(ctx, dup); err != nil {
		t.Errorf("a revoked key's name is free again: %v", err)
	}
	if ks, err := s.ListKeys(ctx); err != nil || len(ks) != 2 || ks[0].ID != k.ID {
		t.Errorf("ListKeys = %v, %v", ks, err)
	}
	if err := s.RevokeKey(ctx, 999, at); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
}
