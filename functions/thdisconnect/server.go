package thdisconnect

import (
	"net/http"
	"time"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
)

// Error codes.
const (
	CodeAccountNotFound = "account_not_found"
	CodeInvalidID       = "invalid_id"
)

// ReasonDisconnected is recorded on the jobs a disconnect cancels.
const ReasonDisconnected = "account_disconnected"

const maxBody = 4 << 10

// Server handles thDisconnect requests.
type Server struct {
	Verifier auth.Verifier
	Store    *store.Store
	Now      func() time.Time // nil: time.Now
}

type request struct {
	AccountID string `json:"accountId"`
}

// Handle answers POST {"accountId"}: the account's pending jobs are
// cancelled, its document (and so its token) is deleted, and the jobs are
// cancelled again. No job can be created for the account once its document
// is gone (store.CreateJob), so the second pass sees every job there will
// be: those created while the first ran. A failure before the deletion
// leaves the account connected (503, try again); one after it leaves at
// most those few jobs pending until a repeated call, which answers 200 and
// cancels them. An account the user never connected is 404.
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	user, err := s.Verifier.Verify(ctx, r)
	if err != nil {
		return err
	}
	var req request
	if err := httpx.DecodeJSON(r, &req, maxBody, false); err != nil {
		return err
	}
	if !store.ValidAccountID(req.AccountID) {
		return httpx.Errorf(http.StatusBadRequest, CodeInvalidID, "accountId is required and must be a Threads id")
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	// The jobs: a task delivered after this finds its job cancelled, an
	// attempt already past its claim finds its lease lost at its next
	// write (one publishing keeps it, to record what it posted).
	cancelled, err := s.Store.CancelPendingJobs(ctx, user.UID, req.AccountID, ReasonDisconnected, now)
	if err != nil {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not disconnect the account; try again")
	}
	known, err := s.Store.Disconnect(ctx, user.UID, req.AccountID, now)
	if err != nil {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not disconnect the account; try again")
	}
	if !known {
		return httpx.Errorf(http.StatusNotFound, CodeAccountNotFound, "no connected Threads account has this accountId")
	}
	// Again, now that no job can be made: those created meanwhile.
	late, err := s.Store.CancelPendingJobs(ctx, user.UID, req.AccountID, ReasonDisconnected, now)
	if err != nil {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "the account is disconnected, but a post requested at that moment may not be cancelled yet; try again")
	}
	cancelled += late
	logging.FromContext(ctx).Info("account disconnected", "uid", user.UID, "accountId", req.AccountID, "jobsCancelled", cancelled)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
	return nil
}
