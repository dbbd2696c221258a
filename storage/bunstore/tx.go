package bunstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// txn is the parts.Tx of one Store.Update call. Its helpers take bun.IDB, so
// the same code serves reads inside and outside transactions.
type txn struct {
	db bun.IDB
	s  *Store
}

var _ parts.Tx = (*txn)(nil)

func (t *txn) FindPartByID(ctx context.Context, id int64) (*parts.Part, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t.s.findPart(ctx, t.db, id)
}

func (t *txn) CreatePart(ctx context.Context, p *parts.Part) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := toPartRow(p)
	if err != nil {
		return fmt.Errorf("create part: %w", err)
	}
	if r.ID != 0 {
		// An import keeps its id; SQLite's AUTOINCREMENT then continues above it.
		taken, err := t.db.NewSelect().Table("parts").Where("id = ?", r.ID).Exists(ctx)
		if err != nil {
			return fmt.Errorf("create part %d: %w", r.ID, mapErr(ctx, err))
		}
		if taken {
			return fmt.Errorf("create part %d: id is taken: %w", r.ID, parts.ErrConflict)
		}
	}
	q, args := qInsertPart, r.values()
	if r.ID != 0 {
		q, args = qInsertPartWithID, append([]any{r.ID}, args...)
	}
	row, err := t.s.queryRow(ctx, t.db, q, args...)
	if err == nil {
		err = row.Scan(&r.ID)
	}
	if err != nil {
		return fmt.Errorf("create part: %w", mapErr(ctx, err))
	}
	if q == qInsertPartWithID {
		if err := t.s.eng.AfterExplicitID(ctx, t.db, "parts", r.ID); err != nil {
			return fmt.Errorf("create part %d: %w", r.ID, mapErr(ctx, err))
		}
	}
	p.ID = r.ID
	return nil
}

func (t *txn) UpdatePart(ctx context.Context, p *parts.Part, prevVersion int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := toPartRow(p)
	if err != nil {
		return fmt.Errorf("update part %d: %w", p.ID, err)
	}
	res, err := t.s.exec(ctx, t.db, qUpdatePart, append(r.values(), r.ID, prevVersion)...)
	if err != nil {
		return fmt.Errorf("update part %d: %w", p.ID, mapErr(ctx, err))
	}
	if err := t.checkVersion(ctx, res, p.ID, prevVersion); err != nil {
		return fmt.Errorf("update part %d: %w", p.ID, err)
	}
	return nil
}

func (t *txn) DeletePart(ctx context.Context, id int64, prevVersion int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	res, err := t.s.exec(ctx, t.db, qDeletePart, id, prevVersion)
	if err != nil {
		return fmt.Errorf("delete part %d: %w", id, mapErr(ctx, err))
	}
	if err := t.checkVersion(ctx, res, id, prevVersion); err != nil {
		return fmt.Errorf("delete part %d: %w", id, err)
	}
	return nil
}

// checkVersion explains a write guarded by "version = prev" that touched no
// row: the part is gone (ErrNotFound) or has moved on (ErrConflict).
func (t *txn) checkVersion(ctx context.Context, res sql.Result, id, prev int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	var cur int64
	row, err := t.s.queryRow(ctx, t.db, qPartVersion, id)
	if err == nil {
		err = row.Scan(&cur)
	}
	if err != nil {
		return mapErr(ctx, err)
	}
	return fmt.Errorf("%w: stored version is %d, expected %d", parts.ErrConflict, cur, prev)
}

func (t *txn) AddEvent(ctx context.Context, e *parts.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := toEventRow(e)
	if err != nil {
		return fmt.Errorf("add event: %w", err)
	}
	row, err := t.s.queryRow(ctx, t.db, qInsertEvent, r.PartID, r.Action, r.Actor, r.At, r.Changes,
		r.PartRef, r.Name, r.Category, r.Version)
	if err == nil {
		err = row.Scan(&r.ID)
	}
	if err != nil {
		return fmt.Errorf("add event: %w", mapErr(ctx, err))
	}
	e.ID = r.ID
	return nil
}

func (t *txn) EnqueueJob(ctx context.Context, j *parts.Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := t.s.clock()
	if j.CreatedAt.IsZero() {
		j.CreatedAt = now
	}
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = j.CreatedAt
	}
	j.State = parts.JobQueued
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	r := &jobRow{PartID: j.PartID, Source: j.Source, State: string(j.State), Attempts: int64(j.Attempts),
		Error: j.Error, CreatedAt: micros(j.CreatedAt), UpdatedAt: micros(j.UpdatedAt)}
	if _, err := t.db.NewInsert().Model(r).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("enqueue job: %w", mapErr(ctx, err))
	}
	j.ID = r.ID
	return nil
}
