package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Work that must run on one server at a time (file GC, log retention,
// webhook deliveries) takes a named lock. On PostgreSQL it is a session
// advisory lock held on a connection of its own, so it is shared by every
// server on the database and released by PostgreSQL when the holder dies.
// On SQLite, which one process serves, it is a lock in this process.

// localLocks are the SQLite locks, per store.
type localLocks struct {
	mu   sync.Mutex
	held map[string]bool
}

// TryLock takes the named lock if no one holds it, without waiting. It
// returns ok false when another holder has it. lost is closed if the lock
// is lost while held (the database connection holding it failed); release
// gives it back and must be called once when ok is true.
func (s *Store) TryLock(ctx context.Context, name string) (release func(), lost <-chan struct{}, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, false, err
	}
	if s.eng.Name() != "postgres" {
		return s.tryLocal(name)
	}
	conn, err := s.w.DB.Conn(ctx)
	if err != nil {
		return nil, nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(hashtext($1))", "partflow:"+name).Scan(&got); err != nil {
		conn.Close()
		return nil, nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if !got {
		conn.Close()
		return nil, nil, false, nil
	}
	gone := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { watchConn(conn, stop, gone) })
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(hashtext($1))", "partflow:"+name)
			conn.Close()
		})
	}, gone, true, nil
}

// lockCheck is how often a held PostgreSQL lock's connection is checked.
const lockCheck = 5 * time.Second

// watchConn pings the connection holding a lock until stop is closed, and
// closes gone when the connection (and with it the lock) is lost.
func watchConn(conn *sql.Conn, stop <-chan struct{}, gone chan<- struct{}) {
	t := time.NewTicker(lockCheck)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), lockCheck)
		err := conn.PingContext(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			close(gone)
			return
		}
	}
}

func (s *Store) tryLocal(name string) (func(), <-chan struct{}, bool, error) {
	s.locks.mu.Lock()
	defer s.locks.mu.Unlock()
	if s.locks.held[name] {
		return nil, nil, false, nil
	}
	if s.locks.held == nil {
		s.locks.held = map[string]bool{}
	}
	s.locks.held[name] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			s.locks.mu.Lock()
			delete(s.locks.held, name)
			s.locks.mu.Unlock()
		})
	}, make(chan struct{}), true, nil
}

// Setting returns the named shared value, or nil when none is stored.
func (s *Store) Setting(ctx context.Context, name string) ([]byte, error) {
	var v string
	err := s.w.NewRaw("SELECT value FROM settings WHERE name = ?", name).Scan(ctx, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("setting %s: %w", name, mapErr(ctx, err))
	}
	return []byte(v), nil
}

// SetSetting stores the named shared value, replacing any before.
func (s *Store) SetSetting(ctx context.Context, name string, value []byte) error {
	_, err := s.w.NewRaw(`INSERT INTO settings (name, value) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, string(value)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set setting %s: %w", name, mapErr(ctx, err))
	}
	return nil
}

// SwapSetting replaces the named value with value only if it still is old
// (old nil: only if none is stored), and says whether it did. Servers
// sharing the database update a value this way without losing each
// other's writes: on false, read it again and retry.
func (s *Store) SwapSetting(ctx context.Context, name string, old, value []byte) (bool, error) {
	var res sql.Result
	var err error
	if old == nil {
		res, err = s.w.NewRaw(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
			name, string(value)).Exec(ctx)
	} else {
		res, err = s.w.NewRaw(`UPDATE settings SET value = ? WHERE name = ? AND value = ?`,
			string(value), name, string(old)).Exec(ctx)
	}
	if err != nil {
		return false, fmt.Errorf("swap setting %s: %w", name, mapErr(ctx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("swap setting %s: %w", name, err)
	}
	return n == 1, nil
}
