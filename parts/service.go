package parts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Options configure a Service. A nil *Options gives the defaults.
type Options struct {
	// Now is the clock; default time.Now. Times are stored in UTC at
	// microsecond precision.
	Now func() time.Time
	// Logger receives the service's logs; default discards them.
	Logger *slog.Logger
	// Files holds the bytes of part files. Without it the file methods
	// (UploadFile, OpenFile, GC, ...) return an error.
	Files FileStore
	// Uploads configures file uploads and GC; zero fields get defaults.
	Uploads UploadOptions
	// Convert configures the CAD -> GLB conversion pipeline; without
	// Convert.Converters there is no conversion.
	Convert ConvertOptions
	// Workflow is the transition table the workflow actions follow; nil is
	// OriginalWorkflow().
	Workflow *Workflow
	// Events configures the change log: subscribers' polling for other
	// processes' commits, their in-memory buffer, and retention.
	Events EventOptions
	// Drawings fetches hand parts' drawings for Service.Drawing; nil
	// serves only drawings already stored.
	Drawings DrawingSource
}

// Service is the one type callers use. It validates input, applies the
// workflow table, owns the clock, versions and history, and runs each
// operation in one store transaction.
type Service struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
	files FileStore
	// drawings is Options.Drawings.
	drawings DrawingSource
	uploads  UploadOptions
	pipe     *pipeline
	flow     *Workflow
	feed     *feed
}

// NewService returns a Service over store.
func NewService(store Store, opts *Options) *Service {
	if opts == nil {
		opts = &Options{}
	}
	s := &Service{store: store, now: opts.Now, log: opts.Logger, files: opts.Files, flow: opts.Workflow, drawings: opts.Drawings}
	if s.flow == nil {
		s.flow = OriginalWorkflow()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.uploads = s.normalizeUploads(opts.Uploads, opts.Convert.Converters)
	s.pipe = newPipeline(opts.Convert)
	s.feed = newFeed(store, opts.Events, s.log)
	if opts.Convert.Converters != nil && s.uploads.OnCADStored == nil {
		s.uploads.OnCADStored = s.queueConversion
	}
	return s
}

// Workflow returns the workflow the service's actions follow.
func (s *Service) Workflow() *Workflow { return s.flow }

// CheckWorkflow reports parts the service's workflow would strand: parts in
// a category that is not one of its stages (a stage removed from the
// configuration). It returns a *ValidationError on field "workflow" naming
// each such category and its count of parts, or nil. Servers call it at
// start, before serving.
func (s *Service) CheckWorkflow(ctx context.Context) error {
	st, err := s.store.Stats(ctx)
	if err != nil {
		return fmt.Errorf("check workflow: %w", err)
	}
	var stranded []string
	for c, n := range st.ByCategory {
		if n > 0 && !s.flow.HasStage(c) {
			stranded = append(stranded, fmt.Sprintf("%d in %q", n, c))
		}
	}
	if len(stranded) == 0 {
		return nil
	}
	slices.Sort(stranded)
	return invalid("workflow", "workflow %q would strand parts in stages it does not have: %s (keep those stages, or move the parts first)",
		s.flow.Name(), strings.Join(stranded, ", "))
}

// Store returns the store the service runs on.
func (s *Service) Store() Store { return s.store }

// StaleError reports a write whose expected version (If-Match) is no longer
// the part's version. It matches ErrConflict.
type StaleError struct {
	Expected, Actual int64
}

// Error implements error.
func (e *StaleError) Error() string {
	return fmt.Sprintf("part has changed: expected version %d, it is at version %d", e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *StaleError) Is(target error) bool { return target == ErrConflict }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// FindPartByID returns the part with the given id, or an error wrapping ErrNotFound.
func (s *Service) FindPartByID(ctx context.Context, id int64) (*Part, error) {
	p, err := s.store.FindPartByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("find part %d: %w", id, err)
	}
	return p, nil
}

// MaxSearchLen is the longest search string FindParts accepts, in characters.
const MaxSearchLen = 200

// FindParts returns one page of the parts matching f and the number of all
// matches. Invalid filters (unknown category or sort field, negative or
// absurd paging) give a *ValidationError.
func (s *Service) FindParts(ctx context.Context, f Filter) ([]*Part, int, error) {
	f, err := s.checkFilter(f)
	if err != nil {
		return nil, 0, err
	}
	ps, n, err := s.store.FindParts(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("find parts: %w", err)
	}
	return ps, n, nil
}

// CreatePart validates p and stores it as a new part. Zero values get the
// defaults: category review, status Pending, amount 1. ID, Version,
// timestamps, Files and Model are set by the service. A hand part created
// with an assignee records it in miscInfo.handWorkers and gets claimedDate
// now, unless p.ClaimedDate gives it.
func (s *Service) CreatePart(ctx context.Context, p *Part, actor string) (*Part, error) {
	now := s.clock()
	in := p.Clone()
	next := &Part{MiscInfo: in.MiscInfo, CreatedAt: now, UpdatedAt: now, Version: 1, Model: Model{State: ModelNone}}
	copyFields(next, in)
	next.Assigned = "" // set below, with its claim
	next.Status, next.Category = cmp.Or(in.Status, StatusPending), cmp.Or(in.Category, s.flow.Initial())
	next.Amount = cmp.Or(in.Amount, 1)
	next.normalize()
	setAssignee(next, trimmed(in.Assigned), now)
	if in.ClaimedDate != nil {
		t := in.ClaimedDate.UTC().Truncate(time.Microsecond)
		next.ClaimedDate = &t
	}
	if err := s.flow.Validate(next); err != nil {
		return nil, err
	}
	err := s.update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.CreatePart(ctx, next); err != nil {
			return err
		}
		return tx.AddEvent(ctx, newEvent(next, "create", actor, now, diffParts(nil, next)))
	})
	if err != nil {
		return nil, fmt.Errorf("create part: %w", err)
	}
	return next.Clone(), nil
}

// UpdatePart applies u to the part with the given id. An update that changes
// nothing returns the part as it is, without a new version.
func (s *Service) UpdatePart(ctx context.Context, id int64, u Update) (*Part, error) {
	p, err := s.mutate(ctx, id, u.IfVersion, u.Actor, "update", func(cur *Part, now time.Time) (*Part, bool, error) {
		next := cur.Clone()
		for _, f := range fieldTable {
			if f.Edit != nil && *f.Edit(&u) != nil {
				*f.Text(next) = **f.Edit(&u)
			}
		}
		if u.Type != nil {
			next.Type = *u.Type
		}
		if u.Status != nil && *u.Status != "" {
			next.Status = *u.Status
		}
		if u.Category != nil {
			next.Category = *u.Category
		}
		if u.Amount != nil {
			next.Amount = *u.Amount
			if next.Amount < 1 {
				return nil, false, invalid("amount", "Amount must be a whole number from 1 to %d", MaxAmount)
			}
		}
		if u.ClearMiscInfo {
			next.MiscInfo = nil
		} else if u.MiscInfo != nil {
			next.MiscInfo = cloneMisc(u.MiscInfo)
		}
		next.normalize()
		if u.Assigned != nil {
			setAssignee(next, trimmed(*u.Assigned), now)
		}
		switch {
		case u.ClearClaimedDate:
			next.ClaimedDate = nil
		case u.ClaimedDate != nil:
			t := u.ClaimedDate.UTC().Truncate(time.Microsecond)
			next.ClaimedDate = &t
		}
		return next, !samePart(cur, next), nil
	})
	if err != nil {
		return nil, fmt.Errorf("update part %d: %w", id, err)
	}
	return p, nil
}

// DeletePart removes a part. ifVersion, when non-zero, must match the part's
// version (else *StaleError). The part's history is kept.
func (s *Service) DeletePart(ctx context.Context, id int64, ifVersion int64, actor string) error {
	now := s.clock()
	var deleted *Part
	err := s.update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.FindPartByID(ctx, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && cur.Version != ifVersion {
			return &StaleError{Expected: ifVersion, Actual: cur.Version}
		}
		if err := tx.DeletePart(ctx, id, cur.Version); err != nil {
			return err
		}
		deleted = cur
		return tx.AddEvent(ctx, newEvent(cur, "delete", actor, now, diffParts(cur, nil)))
	})
	if err != nil {
		return fmt.Errorf("delete part %d: %w", id, err)
	}
	s.afterDelete(ctx, deleted)
	return nil
}

// afterDelete runs once a delete has committed: it removes the part's files.
// A failure is logged and GC removes what is left; since downloads serve only
// files a part lists, a leftover is never served to anyone.
func (s *Service) afterDelete(ctx context.Context, p *Part) {
	if p == nil || s.files == nil || len(p.Files) == 0 {
		return
	}
	s.deleteObjects(ctx, "delete part files", p.Files)
}

// Files returns the file store the service keeps part files in, or nil.
func (s *Service) Files() FileStore { return s.files }

// Act runs a workflow action on a part under the service's workflow. See
// Workflow.Apply for the rules and errors;
// a no-op action returns the part unchanged without a new version.
func (s *Service) Act(ctx context.Context, id int64, a Action, in ActionInput) (*Part, error) {
	p, err := s.mutate(ctx, id, in.IfVersion, in.Actor, string(a), func(cur *Part, now time.Time) (*Part, bool, error) {
		if in.Authorize != nil {
			if err := in.Authorize(cur.Clone()); err != nil {
				return cur, false, err
			}
		}
		return s.flow.Apply(cur, a, in, now)
	})
	if err != nil {
		return nil, fmt.Errorf("%s part %d: %w", a, id, err)
	}
	return p, nil
}

// Approve marks a part Reviewed and moves it to the cnc or hand column by its
// type (the strict workflow allows it only from review), recording in.Reviewer and merging in.MiscInfo.
func (s *Service) Approve(ctx context.Context, id int64, in ActionInput) (*Part, error) {
	return s.Act(ctx, id, ActionApprove, in)
}

// Assign (claim) gives the part to in.Assignee and sets it In Progress. A part
// held by someone else gives *ClaimConflictError; the same person again is a no-op.
func (s *Service) Assign(ctx context.Context, id int64, in ActionInput) (*Part, error) {
	return s.Act(ctx, id, ActionAssign, in)
}

// Unclaim clears the assignee; an In Progress part becomes Already Started.
func (s *Service) Unclaim(ctx context.Context, id int64, in ActionInput) (*Part, error) {
	return s.Act(ctx, id, ActionUnclaim, in)
}

// Start sets a part In Progress (the strict workflow: only in cnc or hand).
func (s *Service) Start(ctx context.Context, id int64, in ActionInput) (*Part, error) {
	return s.Act(ctx, id, ActionStart, in)
}

// Complete moves a part to completed, merging in.MiscInfo (the strict
// workflow: only from cnc or hand).
func (s *Service) Complete(ctx context.Context, id int64, in ActionInput) (*Part, error) {
	return s.Act(ctx, id, ActionComplete, in)
}

// Revert moves a completed part back to its cnc or hand column, In Progress.
func (s *Service) Revert(ctx context.Context, id int64, in ActionInput) (*Part, error) {
	return s.Act(ctx, id, ActionRevert, in)
}

// SetStatus sets in.Status through the workflow table (Reviewed approves,
// Completed completes).
func (s *Service) SetStatus(ctx context.Context, id int64, in ActionInput) (*Part, error) {
	return s.Act(ctx, id, ActionSetStatus, in)
}

// maxRetries bounds how often an operation without an expected version is
// retried after losing a race to a concurrent write.
const maxRetries = 5

// mutate runs fn on the current part inside one transaction, validates the
// result, bumps the version and records the event.
func (s *Service) mutate(ctx context.Context, id, ifVersion int64, actor, action string,
	fn func(cur *Part, now time.Time) (*Part, bool, error)) (*Part, error) {
	return s.mutateTx(ctx, id, ifVersion, actor, action, func(_ context.Context, _ Tx, cur *Part, now time.Time) (*Part, bool, error) {
		return fn(cur, now)
	})
}

// mutateTx is mutate for changes that also write other rows (jobs) in the
// same transaction: fn gets the transaction.
func (s *Service) mutateTx(ctx context.Context, id, ifVersion int64, actor, action string,
	fn func(ctx context.Context, tx Tx, cur *Part, now time.Time) (*Part, bool, error)) (*Part, error) {
	return s.change(ctx, id, ifVersion, actor, func(ctx context.Context, tx Tx, cur *Part, now time.Time) (partEdit, error) {
		next, changed, err := fn(ctx, tx, cur, now)
		if err != nil || !changed {
			return partEdit{}, err
		}
		return partEdit{next: next, action: action}, nil
	})
}

// partEdit is what a change made of a part: the part after it (nil: nothing
// changed), the event's action and changes beyond the part's fields.
type partEdit struct {
	next   *Part
	action string
	extra  []Change
}

// change is the Service's one read-check-write-commit path for an existing
// part: in one transaction (retried on a lost race) it reads the part,
// checks ifVersion, lets fn make the next version, normalises and
// validates it, and stores it with its event.
func (s *Service) change(ctx context.Context, id, ifVersion int64, actor string,
	fn func(ctx context.Context, tx Tx, cur *Part, now time.Time) (partEdit, error)) (*Part, error) {
	var out *Part
	err := s.retryTx(ctx, ifVersion, func(ctx context.Context, tx Tx) error {
		cur, err := tx.FindPartByID(ctx, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && cur.Version != ifVersion {
			return &StaleError{Expected: ifVersion, Actual: cur.Version}
		}
		now := s.clock()
		e, err := fn(ctx, tx, cur, now)
		if err != nil {
			return err
		}
		if e.next == nil {
			out = cur
			return nil
		}
		e.next.normalize()
		if err := s.flow.Validate(e.next); err != nil {
			return err
		}
		out = e.next
		return writeNext(ctx, tx, cur, e.next, now, e.action, actor, e.extra...)
	})
	if err != nil {
		return nil, err
	}
	return out.Clone(), nil
}

// writeNext stores next as the version after cur: Version+1 and an
// UpdatedAt that advances past cur's even on a coarse clock. It records the
// event with the changed fields and any extra changes.
func writeNext(ctx context.Context, tx Tx, cur, next *Part, now time.Time, action, actor string, extra ...Change) error {
	if !now.After(cur.UpdatedAt) {
		now = cur.UpdatedAt.Add(time.Microsecond)
	}
	next.ID, next.CreatedAt = cur.ID, cur.CreatedAt
	next.Version, next.UpdatedAt = cur.Version+1, now
	if err := tx.UpdatePart(ctx, next, cur.Version); err != nil {
		return err
	}
	return tx.AddEvent(ctx, newEvent(next, action, actor, now, append(diffParts(cur, next), extra...)))
}

// retryTx runs fn in one store transaction, and again (a bounded number of
// times) when it lost a race to a concurrent write: a plain ErrConflict from
// the store, when the caller gave no expected version. A stale If-Match and
// a claim held by someone else are answers, not races, and are returned.
func (s *Service) retryTx(ctx context.Context, ifVersion int64, fn func(ctx context.Context, tx Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.update(ctx, fn)
		if err == nil {
			return nil
		}
		var stale *StaleError
		var claim *ClaimConflictError
		retry := errors.Is(err, ErrConflict) && !errors.As(err, &stale) && !errors.As(err, &claim) &&
			ifVersion == 0 && attempt < maxRetries && ctx.Err() == nil
		if !retry {
			return err
		}
	}
}

// History returns a part's events, oldest first. A part that never existed
// gives ErrNotFound; a deleted part's history is still returned.
func (s *Service) History(ctx context.Context, id int64) ([]*Event, error) {
	evs, err := s.store.FindEvents(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("history of part %d: %w", id, err)
	}
	if len(evs) == 0 {
		if _, err := s.store.FindPartByID(ctx, id); err != nil {
			return nil, fmt.Errorf("history of part %d: %w", id, err)
		}
	}
	return evs, nil
}

// Stats returns counts by category, status and assignment. ByCategory has
// every stage of the workflow (zero when empty), and any other category
// that still holds parts.
func (s *Service) Stats(ctx context.Context) (*Stats, error) {
	st, err := s.store.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if st.ByCategory == nil {
		st.ByCategory = map[Category]int{}
	}
	for c, n := range st.ByCategory {
		if n == 0 && !s.flow.HasStage(c) {
			delete(st.ByCategory, c)
		}
	}
	for _, c := range s.flow.spec.Stages {
		st.ByCategory[c] += 0
	}
	return st, nil
}

// Score is one leaderboard entry.
type Score struct {
	Name  string
	Score float64
}

// Leaderboard scores the parts in the workflow's done stage (completed): 1 point to the current assignee and 0.5
// to every other person who worked on the part by hand earlier (each person
// counted once per part). Highest score first, then by name.
func (s *Service) Leaderboard(ctx context.Context) ([]Score, error) {
	ps, _, err := s.store.FindParts(ctx, Filter{Category: s.flow.Done(), SortBy: SortID, Asc: true})
	if err != nil {
		return nil, fmt.Errorf("leaderboard: %w", err)
	}
	scores := map[string]float64{}
	for _, p := range ps {
		if p.Assigned != "" {
			scores[p.Assigned]++
		}
		seen := map[string]bool{p.Assigned: true}
		workers, _ := p.MiscInfo["handWorkers"].([]any)
		for _, w := range workers {
			m, _ := w.(map[string]any)
			name, _ := m["name"].(string)
			name = trimmed(name)
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			scores[name] += 0.5
		}
	}
	out := make([]Score, 0, len(scores))
	for n, v := range scores {
		out = append(out, Score{Name: n, Score: v})
	}
	slices.SortFunc(out, func(a, b Score) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out, nil
}

// ChangeSeq returns the store's change sequence (see ChangeCounter) and
// true, or false when the store does not number its writes. Read it before
// reading what it stands for: the answer is then at least as new as the
// number.
func (s *Service) ChangeSeq(ctx context.Context) (int64, bool, error) {
	c, ok := s.store.(ChangeCounter)
	if !ok {
		return 0, false, nil
	}
	n, err := c.ChangeSeq(ctx)
	if err != nil {
		return 0, true, fmt.Errorf("change sequence: %w", err)
	}
	return n, true, nil
}

// FindVersions returns the ids and versions of the parts FindParts(ctx, f)
// returns, in order, and the total, with true; or false when the store
// cannot list versions (see VersionLister), or not for f. Filters are
// checked as FindParts checks them.
func (s *Service) FindVersions(ctx context.Context, f Filter) ([]PartVersion, int, bool, error) {
	f, err := s.checkFilter(f)
	if err != nil {
		return nil, 0, true, err
	}
	vl, ok := s.store.(VersionLister)
	if !ok {
		return nil, 0, false, nil
	}
	vs, n, err := vl.FindVersions(ctx, f)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, true, fmt.Errorf("find versions: %w", err)
	}
	return vs, n, true, nil
}

// checkFilter validates f and returns it normalised (default sort, trimmed
// search).
func (s *Service) checkFilter(f Filter) (Filter, error) {
	if f.Category != "" && !s.flow.HasStage(f.Category) {
		return f, invalid("category", "unknown category %q", f.Category)
	}
	if f.SortBy == "" {
		f.SortBy = SortCreatedAt
	}
	if !slices.Contains(SortFields, f.SortBy) {
		return f, invalid("sort_by", "unknown sort field %q", f.SortBy)
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		return f, invalid("limit", "limit must be between 0 and %d", MaxLimit)
	}
	if f.Offset < 0 || f.Offset > math.MaxInt32 {
		return f, invalid("offset", "offset must be between 0 and %d", math.MaxInt32)
	}
	if !utf8.ValidString(f.Search) || utf8.RuneCountInString(f.Search) > MaxSearchLen {
		return f, invalid("search", "search must be valid text of at most %d characters", MaxSearchLen)
	}
	f.Search = trimmed(f.Search)
	return f, nil
}
