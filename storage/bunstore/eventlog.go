package bunstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// The change log is the part_events table (the event_log migrations): its
// id is the store-wide sequence. Ids are assigned inside Store.Update,
// whose transactions Engine.BeginWrite serialises (SQLite's single writer;
// PostgreSQL's lock on the change counter's row, held to commit, since its
// sequences alone are not commit-ordered), so ids are in commit order and
// a reader after a cursor never misses an event that commits later with a
// smaller id. (A rolled-back PostgreSQL transaction leaves a hole, which
// readers never wait for.)
//
// A read takes three statements in this order: the head, the rows up to
// the head, then the retention horizon. Every id up to the head has
// committed when the head is read, and pruning raises the horizon in the
// transaction that deletes rows, so a page missing pruned rows always sees
// the raised horizon and reports ErrCursorExpired.

const (
	qLogHead    = "SELECT coalesce(max(id), 0) FROM part_events"
	qLogHorizon = "SELECT horizon FROM event_log WHERE id = 1"
	// qLogFirstSince finds the oldest event at or after a time, walking ids
	// from the start: cheap when few events are older.
	qLogFirstSince = "SELECT id FROM part_events WHERE at >= ? ORDER BY id LIMIT 1"
	qLogPrune      = "DELETE FROM part_events WHERE id > ? AND id <= ?"
	qLogSetHorizon = "UPDATE event_log SET horizon = ? WHERE id = 1"
	// qLogRaiseHorizon moves the horizon below the oldest event, or to the
	// last id handed out when no event is left (after a copy).
	qLogRaiseHorizon = "UPDATE event_log SET horizon = (SELECT coalesce(min(id) - 1, ?) FROM part_events) " +
		"WHERE id = 1 AND horizon < (SELECT coalesce(min(id) - 1, ?) FROM part_events)"
)

// logQuery builds the SQL of a page read for q's filters.
func logQuery(q parts.EventQuery) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT " + eventColumns + " FROM part_events WHERE id > ? AND id <= ?")
	args := []any{q.After, int64(0)}
	if q.PartID != 0 {
		b.WriteString(" AND part_id = ?")
		args = append(args, q.PartID)
	}
	if q.Category != "" {
		b.WriteString(" AND category = ?")
		args = append(args, string(q.Category))
	}
	if len(q.Actions) > 0 {
		b.WriteString(" AND action IN (?" + strings.Repeat(", ?", len(q.Actions)-1) + ")")
		for _, a := range q.Actions {
			args = append(args, a)
		}
	}
	b.WriteString(" ORDER BY id LIMIT ?")
	args = append(args, q.Limit)
	return b.String(), args
}

// ReadLog returns up to q.Limit events after q.After matching q's filters.
// A cursor below the retention horizon gives ErrCursorExpired.
func (s *Store) ReadLog(ctx context.Context, q parts.EventQuery) (*parts.EventPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	page, err := s.readLog(ctx, s.r, q)
	if err != nil {
		return nil, fmt.Errorf("read log after %d: %w", q.After, err)
	}
	return page, nil
}

func (s *Store) readLog(ctx context.Context, db bun.IDB, q parts.EventQuery) (*parts.EventPage, error) {
	if q.Limit <= 0 {
		q.Limit = parts.DefaultEventLimit
	}
	var head int64
	if err := s.scalar(ctx, db, qLogHead, &head); err != nil {
		return nil, err
	}
	page := &parts.EventPage{Events: []*parts.Event{}, Head: head, Next: head}
	if q.After < 0 {
		return page, nil
	}
	query, args := logQuery(q)
	args[1] = head
	rs, err := s.query(ctx, db, query, args...)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rs.Close()
	for rs.Next() {
		var r eventRow
		if err := rs.Scan(r.fields()...); err != nil {
			return nil, mapErr(ctx, err)
		}
		e, err := r.toEvent()
		if err != nil {
			return nil, err
		}
		page.Events = append(page.Events, e)
	}
	if err := rs.Err(); err != nil {
		return nil, mapErr(ctx, err)
	}
	var horizon int64
	if err := s.scalar(ctx, db, qLogHorizon, &horizon); err != nil {
		return nil, err
	}
	if q.After < horizon {
		return nil, fmt.Errorf("%w: cursor %d is behind the oldest retained event (after %d)",
			parts.ErrCursorExpired, q.After, horizon)
	}
	if len(page.Events) == q.Limit {
		page.Next = page.Events[len(page.Events)-1].ID
	}
	page.Head = max(page.Head, horizon)
	page.Next = max(page.Next, q.After)
	return page, nil
}

func (s *Store) scalar(ctx context.Context, db bun.IDB, query string, dst any, args ...any) error {
	row, err := s.queryRow(ctx, db, query, args...)
	if err == nil {
		err = row.Scan(dst)
	}
	return mapErr(ctx, err)
}

// PruneLog deletes the events before olderThan (if not zero) and all but
// the newest keep (if keep > 0), and raises the horizon past them, in one
// write transaction.
func (s *Store) PruneLog(ctx context.Context, olderThan time.Time, keep int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var head, horizon int64
		if err := s.scalar(ctx, tx, qLogHead, &head); err != nil {
			return err
		}
		if err := s.scalar(ctx, tx, qLogHorizon, &horizon); err != nil {
			return err
		}
		to := horizon
		if keep > 0 {
			to = max(to, head-int64(keep))
		}
		if !olderThan.IsZero() {
			var first int64
			err := s.scalar(ctx, tx, qLogFirstSince, &first, micros(olderThan.UTC()))
			switch {
			case err == nil:
				to = max(to, first-1)
			case isNotFound(err):
				to = max(to, head)
			default:
				return err
			}
		}
		if to <= horizon {
			return nil
		}
		res, err := s.exec(ctx, tx, qLogPrune, horizon, to)
		if err != nil {
			return mapErr(ctx, err)
		}
		n, _ = res.RowsAffected()
		_, err = s.exec(ctx, tx, qLogSetHorizon, to)
		return mapErr(ctx, err)
	})
	if err != nil {
		return 0, fmt.Errorf("prune log: %w", err)
	}
	return int(n), nil
}

func isNotFound(err error) bool { return errors.Is(err, parts.ErrNotFound) }

// StoredEvent implements parts.StoredEventer: e as ReadLog returns it once
// committed (its time in microseconds, its changes decoded from JSON). An
// event already in that form (the Service records times in UTC
// microseconds and values as JSON decodes them) is returned as a copy
// without the round trip through JSON, which would cost about 9 µs for a
// create.
func (s *Store) StoredEvent(e *parts.Event) (*parts.Event, error) {
	if storedForm(e) {
		c := *e
		c.Changes = nil // as decoded: nil when there are none
		if len(e.Changes) > 0 {
			c.Changes = slices.Clone(e.Changes)
		}
		return &c, nil
	}
	r, err := toEventRow(e)
	if err != nil {
		return nil, fmt.Errorf("stored event %d: %w", e.ID, err)
	}
	r.ID = e.ID
	return r.toEvent()
}

// storedForm reports whether e is already as toEvent decodes it: its time
// in UTC at microsecond precision without a monotonic reading, and each
// change's values of the types encoding/json decodes into an any, with
// valid UTF-8 strings (anything else takes the round trip through JSON).
func storedForm(e *parts.Event) bool {
	if e.At.Location() != time.UTC || e.At != fromMicros(micros(e.At)) {
		return false
	}
	for _, c := range e.Changes {
		if !jsonDecoded(c.Before) || !jsonDecoded(c.After) {
			return false
		}
	}
	return true
}

// jsonDecoded reports whether v holds only what encoding/json decodes into
// an any: nil, bool, float64, string, []any and map[string]any.
func jsonDecoded(v any) bool {
	switch v := v.(type) {
	case nil, bool:
		return true
	case string:
		return utf8.ValidString(v) // JSON would replace invalid bytes
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case []any:
		for _, x := range v {
			if !jsonDecoded(x) {
				return false
			}
		}
		return v != nil
	case map[string]any:
		for k, x := range v {
			if !utf8.ValidString(k) || !jsonDecoded(x) {
				return false
			}
		}
		return v != nil
	}
	return false
}
