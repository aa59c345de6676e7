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
)

// Server handles thRefresh requests.
type Server struct {
	// Verifier authenticates Cloud Scheduler's calls.
	Verifier  tasks.DeliveryVerifier
	Store     *store.Store
	Refresher *tokens.Refresher
	Window    time.Duration
	Now       func() time.Time // nil: time.Now
}

// Counts is the sweep's answer.
type Counts struct {
	OK          bool `json:"ok"`
	Examined    int  `json:"examined"`
	Refreshed   int  `json:"refreshed"`
	NeedsReauth int  `json:"needs_reauth"`
	Failed      int  `json:"failed"`
	Skipped     int  `json:"skipped"`
}

// Handle runs one sweep: every active account whose token expires within
// the window is examined, page by page, and refreshed when at least 24
// hours old, by a bounded pool of workers.
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.Verifier.Verify(ctx, r); err != nil {
		return tasks.Refusal(ctx, err, CodeUnauthorized, "only the scheduler's service account may call this function")
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	counts, err := s.Sweep(ctx, now)
	if err != nil {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "the sweep stopped early; the next one continues")
	}
	logging.FromContext(ctx).Info("refresh: sweep done", "examined", counts.Examined, "refreshed", counts.Refreshed,
		"needs_reauth", counts.NeedsReauth, "failed", counts.Failed, "skipped", counts.Skipped)
	httpx.WriteJSON(w, http.StatusOK, counts)
	return nil
}

// Sweep examines every due account once.
func (s *Server) Sweep(ctx context.Context, now time.Time) (Counts, error) {
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
	for {
		var page []store.AccountRef
		page, cursor, err = s.Store.DueAccounts(ctx, now.Add(s.Window), pageSize, cursor)
		if err != nil {
			break
		}
		for _, ref := range page {
			c.Examined++
			jobs <- ref
		}
		if cursor == nil {
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
