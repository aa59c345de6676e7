package thdisconnect_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc/codes"

	"threadsfunctions.dev/functions/thdisconnect"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
)

// TestDisconnectDeletesTheAccountBeforeCancelling: the account document
// goes first, then the jobs are cancelled (a publish that read the account
// just before can then create no job the cancel would miss: see
// thpublish.TestPublishRacingADisconnectPostsNothing). When the cancel
// fails, the answer is 503 with the account already gone; the repeated
// call answers 200 and cancels what was left.
func TestDisconnectDeletesTheAccountBeforeCancelling(t *testing.T) {
	h := newHarness(t)
	faulty, faults := h.env.FaultyFirestore(t)
	opts := thdisconnect.Options
	opts.Lookup = h.env.Lookup(map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com"})
	opts.Logger = logging.New(io.Discard, slog.LevelInfo)
	srv := httptest.NewServer(apicheck.Handler(t, thdisconnect.Name, app.Lazy(thdisconnect.Name, opts, func(d *app.Deps) (http.Handler, error) {
		d.Store = store.New(faulty, d.Keyring)
		return thdisconnect.NewHandler(d)
	})))
	t.Cleanup(srv.Close)
	h.srv = srv

	owner := h.env.SignUp(t)
	const acct = "17841400000000105"
	h.connect(owner.UID, acct)
	jobID := h.job(owner.UID, acct, store.JobAccepted)

	faults.FailNext(testenv.RPCRunQuery, 0, 1, codes.ResourceExhausted) // the cancel's listing of the jobs
	if code, body := h.disconnect(owner.IDToken, acct); code != http.StatusServiceUnavailable {
		t.Fatalf("disconnect with the cancel failing: %d %s, want 503", code, body)
	}
	if _, err := h.store.GetAccount(t.Context(), owner.UID, acct); err != store.ErrNotFound {
		t.Fatalf("after the failed cancel, the account read = %v; want it gone (deleted first)", err)
	}
	if j, err := h.store.GetJob(t.Context(), owner.UID, acct, jobID); err != nil || j.Status != store.JobAccepted {
		t.Fatalf("job after the failed cancel: %+v, %v", j, err)
	}

	if code, body := h.disconnect(owner.IDToken, acct); code != http.StatusOK {
		t.Fatalf("repeated disconnect: %d %s, want 200", code, body)
	}
	if j, err := h.store.GetJob(t.Context(), owner.UID, acct, jobID); err != nil || j.Status != store.JobCancelled {
		t.Errorf("job after the repeat: %+v, %v; want cancelled", j, err)
	}
}
