package publish_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads"
)

// cancelOnPublish puts the engine's Threads calls through a proxy of the
// fake that, on the nth publish call, cancels the account's pending jobs
// as a disconnect does and then lets the call through: the post goes out
// while its job is cancelled under the attempt. (The client's timeout
// leaves the cancel's Firestore calls time on a busy machine.)
func (h *harness) cancelOnPublish(n int32) {
	h.t.Helper()
	var calls atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/threads_publish") && calls.Add(1) == n {
			if k, err := h.store.CancelPendingJobs(r.Context(), h.uid, h.user.ID, "account_disconnected", time.Now()); err != nil || k != 1 {
				h.t.Errorf("CancelPendingJobs = %d, %v; want 1 job cancelled", k, err)
			}
		}
		h.fake.Handler().ServeHTTP(w, r)
	}))
	h.t.Cleanup(proxy.Close)
	h.engine.Threads = &threads.Client{AppID: "app", AppSecret: "secret", GraphURL: proxy.URL, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// TestPostOutWhileCancelledIsRecorded: a job cancelled while its publish
// call is in flight (the account disconnected at that moment) records the
// post that went out: published when it was the job's last part, and for a
// chain cut short, the part published and the job cancelled, its message
// saying what was posted. Nothing is posted twice.
func TestPostOutWhileCancelledIsRecorded(t *testing.T) {
	cases := []struct {
		name      string
		req       publish.Request
		onPublish int32
		status    store.JobStatus
		published []bool // a chain's parts
		message   string // in a cancelled job's error
	}{
		{name: "single post", req: publish.Request{Text: "single"}, onPublish: 1, status: store.JobPublished},
		{name: "a chain's last part", req: publish.Request{Thread: []string{"last one", "last two"}}, onPublish: 2,
			status: store.JobPublished, published: []bool{true, true}},
		{name: "a chain's first part", req: publish.Request{Thread: []string{"first one", "first two"}}, onPublish: 1,
			status: store.JobCancelled, published: []bool{true, false}, message: "Part 1 of 2 had been published; the rest were not posted."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.cancelOnPublish(tc.onPublish)
			id := h.newJob(tc.req)
			res := h.run(id, 5*time.Second)
			if res.State != publish.Done || res.Job.Status != tc.status {
				t.Fatalf("attempt ended %v with the job %s, want Done with it %s", res.State, res.Job.Status, tc.status)
			}
			job := h.job(id)
			if job.Status != tc.status || job.LeaseOwner != "" || !job.DueBy.IsZero() {
				t.Fatalf("stored job %s (lease %q, due %v), want %s, no lease, not due", job.Status, job.LeaseOwner, job.DueBy, tc.status)
			}
			posts := h.fake.Published(h.user.ID)
			if len(posts) != int(tc.onPublish) {
				t.Fatalf("%d posts, want %d", len(posts), tc.onPublish)
			}
			if tc.status == store.JobPublished {
				if job.Error != nil || job.PublishedAt.IsZero() || job.MediaID != posts[0].MediaID {
					t.Errorf("published job: error %+v, publishedAt %v, mediaId %q (first post %q)", job.Error, job.PublishedAt, job.MediaID, posts[0].MediaID)
				}
			} else if job.Error == nil || job.Error.Reason != "account_disconnected" || !strings.HasSuffix(job.Error.Message, tc.message) {
				t.Errorf("cancelled job's error %+v, want account_disconnected ending %q", job.Error, tc.message)
			}
			for i, want := range tc.published {
				p := job.Parts[i]
				if got := p.Status == string(store.JobPublished); got != want || (want && p.MediaID != posts[i].MediaID) {
					t.Errorf("part %d %+v, want published %v (post %d's id)", i, p, want, i)
				}
			}
			// A task delivered later posts nothing more.
			if again := h.run(id, time.Second); again.State != publish.Done || again.Job.Status != tc.status {
				t.Errorf("a later attempt: %v, job %s", again.State, again.Job.Status)
			}
			if n := len(h.fake.Published(h.user.ID)); n != int(tc.onPublish) {
				t.Errorf("%d posts after a later attempt, want %d", n, tc.onPublish)
			}
		})
	}
}
