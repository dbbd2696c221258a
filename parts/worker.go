package parts

import (
	"context"
	"errors"
	"sync"
	"time"
)

// RunConversions works through queued conversion jobs with the given number
// of workers until ctx is cancelled. Each job is claimed with a lease that
// the worker renews while converting, so each job runs on one server; a job
// whose server died is taken up again once its lease ends, and a job a
// stopping worker was on goes back to the queue. Each job converts its
// part's CAD file (or takes the cached model) and records the model as ready
// or failed; a job whose part was deleted or got another CAD file meanwhile
// is dropped. It returns nil when ctx is cancelled.
func (s *Service) RunConversions(ctx context.Context, workers int) error {
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// lease is a claim from now for the configured lease length.
func (s *Service) lease() Lease {
	now := s.now().UTC()
	return Lease{Owner: s.pipe.opts.Owner, Now: now, Until: now.Add(s.pipe.opts.Lease)}
}

func (s *Service) worker(ctx context.Context) {
	ticker := time.NewTicker(s.pipe.opts.PollInterval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		job, err := s.store.NextJob(ctx, s.lease())
		if errors.Is(err, ErrNotFound) {
			select {
			case <-s.pipe.wake:
			case <-ticker.C:
			case <-ctx.Done():
			}
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("next conversion job", "err", err)
				select {
				case <-ticker.C:
				case <-ctx.Done():
				}
			}
			continue
		}
		s.workOn(ctx, job)
	}
}

// workOn runs one claimed job, renewing its lease meanwhile, and records
// the outcome; a job whose lease was lost is left to its new owner, and a
// job interrupted by shutdown goes back to the queue.
func (s *Service) workOn(ctx context.Context, job *Job) {
	owner := s.pipe.opts.Owner
	jctx, cancel := context.WithCancel(ctx)
	lost := make(chan struct{})
	stop := s.renewLease(jctx, cancel, job.ID, lost)
	state, msg := s.runJob(jctx, job)
	stop()
	select {
	case <-lost:
		s.log.Warn("conversion job lease lost to another server", "job", job.ID)
		return
	default:
	}
	bg := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		if err := s.store.ReleaseJob(bg, job.ID, owner); err != nil {
			s.log.Error("release conversion job", "job", job.ID, "err", err)
		}
		return
	}
	if err := s.store.FinishJob(bg, job.ID, owner, state, msg); err != nil {
		s.log.Error("finish conversion job", "job", job.ID, "err", err)
	}
}

// renewLease renews the job's lease every third of its length until the
// returned stop is called. When the lease is lost it closes lost and
// cancels the job.
func (s *Service) renewLease(ctx context.Context, cancel context.CancelFunc, id int64, lost chan struct{}) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.pipe.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := s.store.RenewJob(ctx, id, s.lease())
			if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
				close(lost)
				cancel()
				return
			}
			if err != nil && ctx.Err() == nil {
				s.log.Error("renew conversion job lease", "job", id, "err", err)
			}
		}
	}()
	return func() { close(done); wg.Wait(); cancel() }
}
