package thdisconnect_test

import (
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
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
			h := newFaultyHarness(t)
			owner := h.env.SignUp(t)
			const acct = "17841400000000105"
			h.connect(owner.UID, acct)
			jobID := h.job(owner.UID, acct, store.JobAccepted)

			h.faults.FailNext(testenv.RPCRunQuery, tc.skip, 1, codes.ResourceExhausted) // a listing of the jobs
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
