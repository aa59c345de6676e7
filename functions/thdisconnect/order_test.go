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

// TestDisconnectCancelsAroundTheAccountsDeletion: the jobs are cancelled,
// the account document deleted, and the jobs cancelled again (a publish
// that read the account just before the deletion can create no job after
// it: see thpublish.TestPublishRacingADisconnectPostsNothing; the second
// pass takes those created during the first). A failure of the first pass
// leaves the account connected (503); one of the second, the account gone
// (503); either way the repeated call answers 200 and the job is cancelled.
func TestDisconnectCancelsAroundTheAccountsDeletion(t *testing.T) {
	for _, tc := range []struct {
		name      string
		skip      int  // listings of the jobs that answer before the one that fails
		connected bool // the account after the failed call
	}{
		{"first pass fails", 0, true},
		{"second pass fails", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
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

			faults.FailNext(testenv.RPCRunQuery, tc.skip, 1, codes.ResourceExhausted) // a listing of the jobs
			if code, body := h.disconnect(owner.IDToken, acct); code != http.StatusServiceUnavailable {
				t.Fatalf("disconnect with a pass failing: %d %s, want 503", code, body)
			}
			_, err := h.store.GetAccount(t.Context(), owner.UID, acct)
			if connected := err == nil; connected != tc.connected || (err != nil && err != store.ErrNotFound) {
				t.Fatalf("after the failed call, the account read = %v; want connected %v", err, tc.connected)
			}

			if code, body := h.disconnect(owner.IDToken, acct); code != http.StatusOK {
				t.Fatalf("repeated disconnect: %d %s, want 200", code, body)
			}
			if j, err := h.store.GetJob(t.Context(), owner.UID, acct, jobID); err != nil || j.Status != store.JobCancelled {
				t.Errorf("job after the repeat: %+v, %v; want cancelled", j, err)
			}
			if _, err := h.store.GetAccount(t.Context(), owner.UID, acct); err != store.ErrNotFound {
				t.Errorf("account after the repeat: %v; want gone", err)
			}
		})
	}
}
