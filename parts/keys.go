package parts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// APIKey is a per-person API key kept in the database. Only the SHA-256 of
// the secret is stored; the secret itself is shown once, when the key is
// created or rotated.
type APIKey struct {
	ID int64
	// Name identifies the holder ("ada"); it is the actor in the history.
	Name string
	// Role is "read-only", "editor" or "admin".
	Role string
	// Roles are extra role names for authorization policies ("qa").
	Roles []string
	// Digest is the SHA-256 of the secret.
	Digest []byte
	// Prefix is the secret's first characters, to recognise a key in lists.
	Prefix    string
	CreatedAt time.Time
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt *time.Time
	// RevokedAt, when set, is when the key was revoked; it no longer works.
	RevokedAt *time.Time
	// LastUsedAt is when the key last authenticated a request (recorded at
	// most once per KeyTouchInterval).
	LastUsedAt *time.Time
}

// Clone returns a deep copy of k.
func (k *APIKey) Clone() *APIKey {
	c := *k
	c.Roles = slices.Clone(k.Roles)
	c.Digest = slices.Clone(k.Digest)
	for _, t := range []**time.Time{&c.ExpiresAt, &c.RevokedAt, &c.LastUsedAt} {
		if *t != nil {
			v := **t
			*t = &v
		}
	}
	return &c
}

// KeyStore is the optional capability of a Store that keeps API keys. Every
// method reads and writes the database directly (no cache), so a revocation
// is seen by every server sharing it at once.
type KeyStore interface {
	// CreateKey stores k and sets its ID. It returns ErrConflict when a key
	// that is not revoked already has k's name.
	CreateKey(ctx context.Context, k *APIKey) error
	// ListKeys returns every key, revoked ones included, by ID.
	ListKeys(ctx context.Context) ([]*APIKey, error)
	// FindKey returns the key with id, or ErrNotFound.
	FindKey(ctx context.Context, id int64) (*APIKey, error)
	// FindKeyByDigest returns the key whose secret has digest, or
	// ErrNotFound.
	FindKeyByDigest(ctx context.Context, digest []byte) (*APIKey, error)
	// SetKeySecret replaces the key's digest and prefix (rotation), or
	// returns ErrNotFound.
	SetKeySecret(ctx context.Context, id int64, digest []byte, prefix string) error
	// RevokeKey marks the key revoked at at (ErrNotFound if unknown; a
	// revoked key stays revoked at its first time).
	RevokeKey(ctx context.Context, id int64, at time.Time) error
	// TouchKey records at as the key's last use.
	TouchKey(ctx context.Context, id int64, at time.Time) error
}

// KeyTouchInterval is how often a key's last-used time is written at most.
const KeyTouchInterval = time.Minute

// ErrNoKeyStore: the Service's store keeps no API keys.
var ErrNoKeyStore = errors.New("this store keeps no API keys")

// keyRoles are the roles a stored key can have.
var keyRoles = []string{"read-only", "editor", "admin"}

// NewKey is what CreateKey needs.
type NewKey struct {
	Name      string
	Role      string
	Roles     []string
	ExpiresAt *time.Time
}

func (s *Service) keyStore() (KeyStore, error) {
	ks, ok := s.store.(KeyStore)
	if !ok {
		return nil, ErrNoKeyStore
	}
	return ks, nil
}

// newSecret returns a fresh secret ("pfk_" and 52 base32 characters, 256
// random bits), its digest and its prefix.
func newSecret() (secret string, digest []byte, prefix string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	secret = "pfk_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	d := sha256.Sum256([]byte(secret))
	return secret, d[:], secret[:12]
}

// CreateKey creates a per-person key and returns its secret, which is
// shown only now. Errors: *ValidationError for a bad name, role or expiry,
// ErrConflict for a name in use, ErrNoKeyStore.
func (s *Service) CreateKey(ctx context.Context, in NewKey) (string, *APIKey, error) {
	ks, err := s.keyStore()
	if err != nil {
		return "", nil, err
	}
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name):
		return "", nil, invalid("name", "a key needs a name of 1 to 64 characters")
	case !slices.Contains(keyRoles, in.Role):
		return "", nil, invalid("role", "unknown role %q (want read-only, editor or admin)", in.Role)
	case in.ExpiresAt != nil && !in.ExpiresAt.After(s.clock()):
		return "", nil, invalid("expiresAt", "the expiry must be in the future")
	}
	secret, digest, prefix := newSecret()
	k := &APIKey{Name: name, Role: in.Role, Roles: slices.Clone(in.Roles), Digest: digest, Prefix: prefix,
		CreatedAt: s.clock().UTC(), ExpiresAt: in.ExpiresAt}
	if err := ks.CreateKey(ctx, k); err != nil {
		return "", nil, fmt.Errorf("create key %q: %w", name, err)
	}
	return secret, k, nil
}

// Keys lists the stored keys (digests included; callers show neither).
func (s *Service) Keys(ctx context.Context) ([]*APIKey, error) {
	ks, err := s.keyStore()
	if err != nil {
		return nil, err
	}
	return ks.ListKeys(ctx)
}

// RotateKey gives key id a new secret, returned once; the old one stops
// working at once. An unknown id gives ErrKeyNotFound; a revoked key cannot
// be rotated (ErrConflict).
func (s *Service) RotateKey(ctx context.Context, id int64) (string, *APIKey, error) {
	ks, err := s.keyStore()
	if err != nil {
		return "", nil, err
	}
	k, err := ks.FindKey(ctx, id)
	if err != nil {
		return "", nil, fmt.Errorf("rotate key %d: %w", id, keyNotFound(err))
	}
	if k.RevokedAt != nil {
		return "", nil, fmt.Errorf("rotate key %d: revoked: %w", id, ErrConflict)
	}
	secret, digest, prefix := newSecret()
	if err := ks.SetKeySecret(ctx, id, digest, prefix); err != nil {
		return "", nil, fmt.Errorf("rotate key %d: %w", id, err)
	}
	k.Digest, k.Prefix = digest, prefix
	return secret, k, nil
}

// RevokeKey revokes key id; it stops working on every server at once. An
// unknown id gives ErrKeyNotFound.
func (s *Service) RevokeKey(ctx context.Context, id int64) error {
	ks, err := s.keyStore()
	if err != nil {
		return err
	}
	if err := ks.RevokeKey(ctx, id, s.clock().UTC()); err != nil {
		return fmt.Errorf("revoke key %d: %w", id, keyNotFound(err))
	}
	return nil
}

// AuthenticateKey returns the stored key whose secret this is, if it is
// neither revoked nor expired, and records its use (at most once per
// KeyTouchInterval). Otherwise it returns ErrUnauthorized (or
// ErrNoKeyStore).
func (s *Service) AuthenticateKey(ctx context.Context, secret string) (*APIKey, error) {
	ks, err := s.keyStore()
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256([]byte(secret))
	k, err := ks.FindKeyByDigest(ctx, d[:])
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate key: %w", err)
	}
	now := s.clock().UTC()
	if k.RevokedAt != nil || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
		return nil, ErrUnauthorized
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= KeyTouchInterval {
		if err := ks.TouchKey(ctx, k.ID, now); err != nil {
			s.log.Warn("record key use", "key", k.Name, "err", err)
		}
		k.LastUsedAt = &now
	}
	return k, nil
}
