package parts_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// TestKeyLifecycle walks a per-person key through create, use, rotate,
// revoke and expiry on a real store, two services sharing one database
// standing for two servers.
func TestKeyLifecycle(t *testing.T) {
	path := "sqlite://" + t.TempDir() + "/keys.db"
	now := t0
	clock := func() time.Time { return now }
	open := func() *parts.Service {
		s, err := bunstore.Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return parts.NewService(s, &parts.Options{Now: clock})
	}
	a, b := open(), open()
	expiry := t0.Add(time.Hour)
	secret, k, err := a.CreateKey(t.Context(), parts.NewKey{Name: "ada", Role: "editor", Roles: []string{"qa"}, ExpiresAt: &expiry})
	if err != nil {
		t.Fatal(err)
	}
	auth := func(svc *parts.Service, secret string) error {
		_, err := svc.AuthenticateKey(t.Context(), secret)
		return err
	}
	var rotated string
	for _, step := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"shown once: only the digest is stored", func(t *testing.T) {
			d := sha256.Sum256([]byte(secret))
			ks, err := b.Keys(t.Context())
			if err != nil || len(ks) != 1 || !bytes.Equal(ks[0].Digest, d[:]) || !strings.HasPrefix(secret, ks[0].Prefix) {
				t.Fatalf("keys = %+v, %v", ks, err)
			}
			if len(secret) < 40 || ks[0].Prefix == secret {
				t.Errorf("secret %q too short or stored whole", secret)
			}
		}},
		{"duplicate live name is a conflict", func(t *testing.T) {
			if _, _, err := b.CreateKey(t.Context(), parts.NewKey{Name: "ada", Role: "admin"}); !errors.Is(err, parts.ErrConflict) {
				t.Errorf("err = %v", err)
			}
		}},
		{"bad role and past expiry are invalid", func(t *testing.T) {
			past := t0.Add(-time.Second)
			for _, in := range []parts.NewKey{{Name: "x", Role: "root"}, {Name: "", Role: "editor"}, {Name: "y", Role: "editor", ExpiresAt: &past}} {
				if _, _, err := a.CreateKey(t.Context(), in); !errors.Is(err, parts.ErrInvalid) {
					t.Errorf("%+v: err = %v", in, err)
				}
			}
		}},
		{"use on the other server records last use", func(t *testing.T) {
			got, err := b.AuthenticateKey(t.Context(), secret)
			if err != nil || got.Name != "ada" || got.Roles[0] != "qa" {
				t.Fatalf("AuthenticateKey = %+v, %v", got, err)
			}
			ks, _ := a.Keys(t.Context())
			if ks[0].LastUsedAt == nil || !ks[0].LastUsedAt.Equal(t0) {
				t.Errorf("last used = %v, want %v", ks[0].LastUsedAt, t0)
			}
			if err := auth(a, secret+"x"); !errors.Is(err, parts.ErrUnauthorized) {
				t.Errorf("wrong secret: %v", err)
			}
		}},
		{"rotate: the new secret works, the old one at once no longer", func(t *testing.T) {
			var err error
			rotated, _, err = a.RotateKey(t.Context(), k.ID)
			if err != nil || rotated == secret {
				t.Fatalf("RotateKey: %v", err)
			}
			if err := auth(b, secret); !errors.Is(err, parts.ErrUnauthorized) {
				t.Errorf("old secret on the other server: %v", err)
			}
			if err := auth(b, rotated); err != nil {
				t.Errorf("new secret: %v", err)
			}
		}},
		{"expired keys stop working", func(t *testing.T) {
			now = expiry
			if err := auth(b, rotated); !errors.Is(err, parts.ErrUnauthorized) {
				t.Errorf("expired: %v", err)
			}
			now = t0
		}},
		{"revoke on one server refuses on the other at once", func(t *testing.T) {
			if err := a.RevokeKey(t.Context(), k.ID); err != nil {
				t.Fatal(err)
			}
			if err := auth(b, rotated); !errors.Is(err, parts.ErrUnauthorized) {
				t.Errorf("revoked: %v", err)
			}
			if _, _, err := a.RotateKey(t.Context(), k.ID); !errors.Is(err, parts.ErrConflict) {
				t.Errorf("rotate revoked: %v", err)
			}
			if _, _, err := a.CreateKey(t.Context(), parts.NewKey{Name: "ada", Role: "editor"}); err != nil {
				t.Errorf("a revoked key's name is free again: %v", err)
			}
		}},
		{"unknown key ids are not found", func(t *testing.T) {
			if err := a.RevokeKey(t.Context(), 999); !errors.Is(err, parts.ErrNotFound) {
				t.Errorf("revoke 999: %v", err)
			}
		}},
	} {
		t.Run(step.name, step.check)
	}
}
