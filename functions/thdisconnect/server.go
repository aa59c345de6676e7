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
// cancelled, then its document (and so its token) is deleted. A repeated
// call answers 200 too; an account the user never connected is 404.
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
	// Jobs first: a task delivered after this finds them cancelled, and an
	// attempt already running finds no account.
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
	logging.FromContext(ctx).Info("account disconnected", "uid", user.UID, "accountId", req.AccountID, "jobsCancelled", cancelled)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
	return nil
}
