package bunstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// NextJob claims the oldest job that is queued or running under an expired
// lease: it marks it running for l.Owner until l.Until and increments
// Attempts in one statement (FOR UPDATE SKIP LOCKED on PostgreSQL, the one
// writer on SQLite), so two callers never get the same job.
func (s *Store) NextJob(ctx context.Context, l parts.Lease) (*parts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.Check(); err != nil {
		return nil, fmt.Errorf("next job: %w", err)
	}
	var r jobRow
	err := s.w.NewRaw(`UPDATE jobs SET state = ?, attempts = attempts + 1, updated_at = ?, lease_owner = ?, lease_until = ?
WHERE id = (SELECT id FROM jobs WHERE state = ? OR (state = ? AND lease_until < ?)
ORDER BY created_at, id LIMIT 1`+s.syn.LockSkipLocked+`)
RETURNING id, part_id, source, state, attempts, error, created_at, updated_at, lease_owner, lease_until`,
		string(parts.JobRunning), micros(s.clock()), l.Owner, micros(l.Until),
		string(parts.JobQueued), string(parts.JobRunning), micros(l.Now)).Scan(ctx, &r)
	if err != nil {
		return nil, fmt.Errorf("next job: %w", mapErr(ctx, err))
	}
	return r.toJob(), nil
}

// RenewJob extends l.Owner's lease on a running job to l.Until.
func (s *Store) RenewJob(ctx context.Context, id int64, l parts.Lease) error {
	return s.heldJob(ctx, "renew", id, l.Owner, func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("lease_until = ?", micros(l.Until))
	})
}

// FinishJob records the outcome of a running job that owner holds. It
// returns ErrNotFound for an unknown job, ErrConflict for a job that owner
// does not hold (finished already, released, or claimed by another owner
// after its lease expired), and ErrInvalid for a state other than JobDone
// or JobFailed.
func (s *Store) FinishJob(ctx context.Context, id int64, owner string, state parts.JobState, message string) error {
	if state != parts.JobDone && state != parts.JobFailed {
		return fmt.Errorf("finish job %d: %w", id, &parts.ValidationError{Field: "state",
			Reason: fmt.Sprintf("a job finishes as %s or %s, not %q", parts.JobDone, parts.JobFailed, state)})
	}
	return s.heldJob(ctx, "finish", id, owner, func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("state = ?", string(state)).Set("error = ?", message).
			Set("lease_owner = ''").Set("lease_until = 0")
	})
}

// ReleaseJob puts a running job that owner holds back in the queue.
func (s *Store) ReleaseJob(ctx context.Context, id int64, owner string) error {
	return s.heldJob(ctx, "release", id, owner, func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("state = ?", string(parts.JobQueued)).Set("lease_owner = ''").Set("lease_until = 0")
	})
}

// heldJob updates a running job that owner holds with set, and explains
// why when no row matched.
func (s *Store) heldJob(ctx context.Context, verb string, id int64, owner string,
	set func(*bun.UpdateQuery) *bun.UpdateQuery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q := s.w.NewUpdate().Model((*jobRow)(nil)).Set("updated_at = ?", micros(s.clock())).
		Where("id = ?", id).Where("state = ?", string(parts.JobRunning)).Where("lease_owner = ?", owner)
	res, err := set(q).Exec(ctx)
	if err != nil {
		return fmt.Errorf("%s job %d: %w", verb, id, mapErr(ctx, err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var cur jobRow
	err = s.w.NewSelect().Model(&cur).Column("state", "lease_owner").Where("id = ?", id).Scan(ctx)
	if err != nil {
		return fmt.Errorf("%s job %d: %w", verb, id, mapErr(ctx, err))
	}
	if cur.State != string(parts.JobRunning) {
		return fmt.Errorf("%s job %d: job is %s, not running: %w", verb, id, cur.State, parts.ErrConflict)
	}
	return fmt.Errorf("%s job %d: %q holds the job, not %q: %w", verb, id, cur.LeaseOwner, owner, parts.ErrConflict)
}

// JobCounts counts the conversion jobs by state.
func (s *Store) JobCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		State string `bun:"state"`
		N     int    `bun:"n"`
	}
	if err := s.r.NewRaw("SELECT state, count(*) AS n FROM jobs GROUP BY state").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count jobs: %w", mapErr(ctx, err))
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}
