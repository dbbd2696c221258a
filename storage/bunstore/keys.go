package bunstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/partflow/partflow/parts"
)

var _ parts.KeyStore = (*Store)(nil)

// keyColumns are the api_keys columns in keyRow's scan order.
const keyColumns = "id, name, role, roles, digest, prefix, created_at, expires_at, revoked_at, last_used_at"

// keyRow is one api_keys row.
type keyRow struct {
	ID         int64         `bun:"id"`
	Name       string        `bun:"name"`
	Role       string        `bun:"role"`
	Roles      string        `bun:"roles"`
	Digest     string        `bun:"digest"`
	Prefix     string        `bun:"prefix"`
	CreatedAt  int64         `bun:"created_at"`
	ExpiresAt  sql.NullInt64 `bun:"expires_at"`
	RevokedAt  sql.NullInt64 `bun:"revoked_at"`
	LastUsedAt sql.NullInt64 `bun:"last_used_at"`
}

func optMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func optTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

func (r *keyRow) toKey() (*parts.APIKey, error) {
	k := &parts.APIKey{ID: r.ID, Name: r.Name, Role: r.Role, Prefix: r.Prefix, CreatedAt: fromMicros(r.CreatedAt),
		ExpiresAt: optTime(r.ExpiresAt), RevokedAt: optTime(r.RevokedAt), LastUsedAt: optTime(r.LastUsedAt)}
	if err := json.Unmarshal([]byte(r.Roles), &k.Roles); err != nil {
		return nil, fmt.Errorf("key %d roles: %w", r.ID, err)
	}
	d, err := hex.DecodeString(r.Digest)
	if err != nil {
		return nil, fmt.Errorf("key %d digest: %w", r.ID, err)
	}
	k.Digest = d
	return k, nil
}

// CreateKey stores k and sets its ID; a live key with its name is ErrConflict.
func (s *Store) CreateKey(ctx context.Context, k *parts.APIKey) error {
	roles, err := json.Marshal(append([]string{}, k.Roles...))
	if err != nil {
		return err
	}
	var n int
	if err := s.w.NewRaw("SELECT count(*) FROM api_keys WHERE name = ? AND revoked_at IS NULL", k.Name).Scan(ctx, &n); err != nil {
		return mapErr(ctx, err)
	}
	if n > 0 {
		return fmt.Errorf("a key named %q exists: %w", k.Name, parts.ErrConflict)
	}
	err = s.w.NewRaw(`INSERT INTO api_keys (name, role, roles, digest, prefix, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, k.Name, k.Role, string(roles), hex.EncodeToString(k.Digest), k.Prefix,
		micros(k.CreatedAt), optMicros(k.ExpiresAt)).Scan(ctx, &k.ID)
	if err != nil && (strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "duplicate key")) {
		return fmt.Errorf("a key named %q exists: %w", k.Name, parts.ErrConflict)
	}
	return mapErr(ctx, err)
}

func (s *Store) scanKeys(ctx context.Context, where string, args ...any) ([]*parts.APIKey, error) {
	var rows []keyRow
	if err := s.w.NewRaw("SELECT "+keyColumns+" FROM api_keys "+where+" ORDER BY id", args...).Scan(ctx, &rows); err != nil {
		return nil, mapErr(ctx, err)
	}
	out := make([]*parts.APIKey, 0, len(rows))
	for i := range rows {
		k, err := rows[i].toKey()
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// ListKeys returns every key by id.
func (s *Store) ListKeys(ctx context.Context) ([]*parts.APIKey, error) { return s.scanKeys(ctx, "") }

func (s *Store) oneKey(ctx context.Context, where string, args ...any) (*parts.APIKey, error) {
	ks, err := s.scanKeys(ctx, where, args...)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, parts.ErrNotFound
	}
	return ks[0], nil
}

// FindKey returns the key with id, or ErrNotFound.
func (s *Store) FindKey(ctx context.Context, id int64) (*parts.APIKey, error) {
	return s.oneKey(ctx, "WHERE id = ?", id)
}

// FindKeyByDigest returns the key whose secret has digest, or ErrNotFound.
func (s *Store) FindKeyByDigest(ctx context.Context, digest []byte) (*parts.APIKey, error) {
	return s.oneKey(ctx, "WHERE digest = ?", hex.EncodeToString(digest))
}

func (s *Store) updateKey(ctx context.Context, query string, args ...any) error {
	res, err := s.w.NewRaw(query, args...).Exec(ctx)
	if err != nil {
		return mapErr(ctx, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return parts.ErrNotFound
	}
	return nil
}

// SetKeySecret replaces the key's digest and prefix.
func (s *Store) SetKeySecret(ctx context.Context, id int64, digest []byte, prefix string) error {
	return s.updateKey(ctx, "UPDATE api_keys SET digest = ?, prefix = ? WHERE id = ?", hex.EncodeToString(digest), prefix, id)
}

// RevokeKey marks the key revoked (keeping the first revocation time).
func (s *Store) RevokeKey(ctx context.Context, id int64, at time.Time) error {
	return s.updateKey(ctx, "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", micros(at), id)
}

// TouchKey records the key's last use.
func (s *Store) TouchKey(ctx context.Context, id int64, at time.Time) error {
	return s.updateKey(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", micros(at), id)
}
