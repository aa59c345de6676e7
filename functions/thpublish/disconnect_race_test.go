package thpublish_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/threads/threadstest"
)

// TestPublishRacingADisconnectPostsNothing: a publish that read its account
// just before the account was disconnected (thDisconnect's steps landing
// while the publish's container is being created) stores no job and posts
// nothing. Before, its job was created after the disconnect's cancel pass,
// which could not see it, and the post went out after the user was told the
// account was disconnected. The request is answered as for an account that
// is not connected; a repeat of it gets the same answer.
func TestPublishRacingADisconnectPostsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string // the request, its idempotency key "race"
	}{
		{"account named", `{"text":"posted after the disconnect?","accountId":"17841400000000031","idempotencyKey":"race"}`},
		{"the user's only account", `{"text":"posted after the disconnect?","idempotencyKey":"race"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var next threadsHook
			h := newHarnessWith(t, harnessOptions{wrapThreads: next.wrap})
			acct := "17841400000000031"
			h.connect(acct)
			next.set(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/threads") {
					// thDisconnect's steps, while the container is being created.
					now := time.Now()
					if _, err := h.store.Disconnect(r.Context(), h.user.UID, acct, now); err != nil {
						t.Error(err)
					}
					if _, err := h.store.CancelPendingJobs(r.Context(), h.user.UID, acct, "account_disconnected", now); err != nil {
						t.Error(err)
					}
				}
				return false
			})
			for i := range 2 { // the request, then its repeat
				resp, a := h.post(tc.body, nil)
				if resp.StatusCode != http.StatusNotFound || a.Error.Code != "no_account" {
					t.Fatalf("answer %d: %d %+v, want 404 no_account", i+1, resp.StatusCode, a)
				}
			}
			if n := h.threads.Calls(threadstest.EndpointPublish); n != 0 || len(h.threads.Published(acct)) != 0 {
				t.Errorf("%d publish calls, %d posts, after the disconnect", n, len(h.threads.Published(acct)))
			}
			jobs, err := h.store.FindJobs(t.Context(), h.user.UID, []string{acct}, publish.JobIDFor(h.user.UID, "race"))
			if err != nil || len(jobs) != 0 {
				t.Errorf("jobs under the disconnected account: %d, %v; want none", len(jobs), err)
			}
		})
	}
}
