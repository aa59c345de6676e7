package threfresh

import (
	"context"
	"net/http"
	"sync"
	"time"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/tasks"
	"threadsfunctions.dev/shared/tokens"
)

// CodeUnauthorized answers a call without a valid scheduler OIDC token.
const CodeUnauthorized = "scheduler_unauthorized"

const (
	pageSize = 100
	// workers bounds concurrent refreshes (Threads calls and Firestore writes).
	workers = 8
	// DefaultBudget is how long a sweep takes up new accounts, from the
	// handler's start: thRefresh's timeout (300 s, terraform/threfresh.tf)
	// less a margin for an instance's start (its Secret Manager read: 10 s
	// at most) and the refreshes under way, each bounded by its Firestore
	// operations and Threads call (a claim, the call and a save: 10 s each,
	// and up to 5 s for a transaction's rollback).
	DefaultBudget = 240 * time.Second
)

// Server handles thRefresh requests.
type Server struct {
	// Verifier authenticates Cloud Scheduler's calls.
	Verifier  tasks.DeliveryVerifier
	Store     *store.Store
	Refresher *tokens.Refresher
	Window    time.Duration
	// Budget bounds the time a sweep takes up new accounts (0:
	// DefaultBudget). A sweep that reaches it lets the refreshes under way
	// finish and answers with Complete false; the next one continues, the
	// soonest expiry first.
	Budget time.Duration
	Now    func() time.Time // nil: time.Now
}

// Counts is the sweep's answer.
type Counts struct {
	OK          bool `json:"ok"`
	Examined    int  `json:"examined"`
	Refreshed   int  `json:"refreshed"`
	NeedsReauth int  `json:"needs_reauth"`
	Failed      int  `json:"failed"`
	Skipped     int  `json:"skipped"`
	// Complete: every due account was examined (false: the sweep stopped
	// at its time budget).
	Complete bool `json:"complete"`
}

// Handle runs one sweep: every active account whose token expires within
// the window is examined, page by page, and refreshed when at least 24
// hours old, by a bounded pool of workers.
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) error {
	arrived := time.Now()
	ctx := r.Context()
	if err := s.Verifier.Verify(ctx, r); err != nil {
		return tasks.Refusal(ctx, err, CodeUnauthorized, "only the scheduler's service account may call this function")
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	counts, err := s.Sweep(ctx, now, arrived)
	if err != nil {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "the sweep stopped early; the next one continues")
	}
	log, msg := logging.FromContext(ctx), "refresh: sweep done"
	if !counts.Complete {
		msg = "refresh: sweep stopped at its time budget; the next sweep continues"
	}
	log.Info(msg, "examined", counts.Examined, "refreshed", counts.Refreshed,
		"needs_reauth", counts.NeedsReauth, "failed", counts.Failed, "skipped", counts.Skipped, "complete", counts.Complete)
	httpx.WriteJSON(w, http.StatusOK, counts)
	return nil
}

// Sweep examines every due account once (due by now), or as many as its
// budget allows, counted from began (Complete says which).
func (s *Server) Sweep(ctx context.Context, now, began time.Time) (Counts, error) {
	budget := s.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	// Once the budget is spent (over) no account is taken up, not even one
	// waiting for a worker, and no page is read. It only marks time: the
	// refreshes under way keep the request's context, and finish.
	budgetCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), began.Add(budget))
	defer cancel()
	over := budgetCtx.Done()
	c := Counts{OK: true}
	var mu sync.Mutex
	jobs := make(chan store.AccountRef)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ref := range jobs {
				o := s.refreshOne(ctx, ref)
				mu.Lock()
				switch o {
				case tokens.Refreshed:
					c.Refreshed++
				case tokens.NeedsReauth:
					c.NeedsReauth++
				case tokens.Failed:
					c.Failed++
				default:
					c.Skipped++
				}
				mu.Unlock()
			}
		})
	}
	var err error
	cursor := (*store.Cursor)(nil)
pages:
	for budgetCtx.Err() == nil {
		var page []store.AccountRef
		page, cursor, err = s.Store.DueAccounts(ctx, now.Add(s.Window), pageSize, cursor)
		if err != nil {
			break
		}
		for _, ref := range page {
			if budgetCtx.Err() != nil {
				break pages
			}
			select {
			case jobs <- ref:
				c.Examined++
			case <-over:
				break pages
			}
		}
		if cursor == nil {
			c.Complete = true
			break
		}
	}
	close(jobs)
	wg.Wait()
	return c, err
}

func (s *Server) refreshOne(ctx context.Context, ref store.AccountRef) tokens.Outcome {
	log := logging.FromContext(ctx).With("uid", ref.UID, "accountId", ref.Account.AccountID)
	tok, err := s.Store.OpenToken(ref.UID, ref.Account)
	if err != nil {
		log.Error("refresh: cannot open the stored token", "error", err.Error())
		return tokens.Failed
	}
	_, outcome, err := s.Refresher.Refresh(ctx, ref.UID, ref.Account, tok, s.Window)
	if err != nil {
		log.Warn("refresh: failed", "error", err.Error())
	}
	if outcome == tokens.NeedsReauth {
		log.Info("refresh: account needs re-authorization")
	}
	return outcome
}
