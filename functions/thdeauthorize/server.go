package thdeauthorize

import (
	"net/http"
	"time"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/signedrequest"
	"threadsfunctions.dev/shared/store"
)

// ReasonRevoked is recorded on the jobs a deauthorization cancels.
const ReasonRevoked = "account_revoked"

// Server handles thDeauthorize requests.
type Server struct {
	Secret []byte
	Store  *store.Store
	MaxAge time.Duration
	Now    func() time.Time // nil: time.Now
}

// Handle verifies the signed_request, then marks every account of that
// Threads user, under any Firebase user, revoked: its token deleted and its
// pending jobs cancelled. The owners still see the accounts, with their
// status, so the app can offer to reconnect. An account connected again
// after the request was issued (Meta delivers it late, or retries it after
// the user reconnected) is skipped: that newer connection and its jobs are
// left as they are, and the log counts it. Answers 200 {"ok": true}.
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	p, err := signedrequest.VerifyRequest(r, s.Secret, now, s.MaxAge)
	if err != nil {
		return err
	}
	accounts, err := s.Store.AccountsByThreadsUser(ctx, p.UserID)
	if err != nil {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "try again")
	}
	cancelled, revoked, skipped := 0, 0, 0
	for _, a := range accounts {
		// Skipped before its jobs are cancelled: a newer connection's
		// pending posts are its owner's, made after the removal.
		if store.ConnectedAfter(a.Account, p.IssuedAt) {
			skipped++
			continue
		}
		n, err := s.Store.CancelPendingJobs(ctx, a.UID, a.Account.AccountID, ReasonRevoked, now)
		if err != nil {
			return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "try again")
		}
		cancelled += n
		// Checked again with the write, in one transaction: a reconnection
		// since the query above keeps its token (the jobs just cancelled were
		// the removed connection's, but for any created in the milliseconds
		// between the query and this check).
		ok, err := s.Store.RevokeIfConnectedBefore(ctx, a.UID, a.Account.AccountID, p.IssuedAt, now)
		if err != nil {
			return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "try again")
		}
		if ok {
			revoked++
		} else {
			skipped++ // reconnected meanwhile, or gone
		}
	}
	logging.FromContext(ctx).Info("deauthorized", "threadsUserId", p.UserID, "accounts", len(accounts),
		"revoked", revoked, "skipped", skipped, "jobsCancelled", cancelled)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
	return nil
}
