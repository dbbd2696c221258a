package parts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ImportPart stores p as another system had it, keeping its ID, CreatedAt,
// UpdatedAt and ClaimedDate: for migrating an existing deployment. p.ID must
// be positive. If a part with that ID exists already it is left as it is and
// created is false, so an import can run twice without duplicating anything.
// Zero timestamps become now; zero Amount, Status and Category get the usual
// defaults. The part must pass Validate.
func (s *Service) ImportPart(ctx context.Context, p *Part, actor string) (created bool, err error) {
	if p.ID <= 0 {
		return false, invalid("id", "an imported part needs a positive id")
	}
	now := s.clock()
	next := p.Clone()
	next.Version = 1
	next.Files = nil
	next.Model = Model{State: ModelNone}
	if next.Amount == 0 {
		next.Amount = 1
	}
	if next.Status == "" {
		next.Status = StatusPending
	}
	if next.Category == "" {
		next.Category = s.flow.Initial()
	}
	if next.CreatedAt.IsZero() {
		next.CreatedAt = now
	}
	if next.UpdatedAt.IsZero() || next.UpdatedAt.Before(next.CreatedAt) {
		next.UpdatedAt = next.CreatedAt
	}
	next.CreatedAt = next.CreatedAt.UTC().Truncate(time.Microsecond)
	next.UpdatedAt = next.UpdatedAt.UTC().Truncate(time.Microsecond)
	if next.ClaimedDate != nil {
		t := next.ClaimedDate.UTC().Truncate(time.Microsecond)
		next.ClaimedDate = &t
	}
	next.normalize()
	if err := s.flow.Validate(next); err != nil {
		return false, fmt.Errorf("import part %d: %w", p.ID, err)
	}
	err = s.update(ctx, func(ctx context.Context, tx Tx) error {
		_, err := tx.FindPartByID(ctx, next.ID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := tx.CreatePart(ctx, next); err != nil {
			return err
		}
		created = true
		return tx.AddEvent(ctx, newEvent(next, "import", actor, now, diffParts(nil, next)))
	})
	if err != nil {
		return false, fmt.Errorf("import part %d: %w", p.ID, err)
	}
	return created, nil
}
