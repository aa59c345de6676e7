package publish_test

import (
	"encoding/json"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/threads/threadstest"
)

// newClaimedJob builds a job as thPublish does for a post due now: claimed
// by its request, not stored yet (Start stores it).
func (h *harness) newClaimedJob(req publish.Request) *store.Job {
	h.t.Helper()
	parts, err := req.Check()
	if err != nil {
		h.t.Fatalf("invalid test request: %v", err)
	}
	b, _ := json.Marshal(req)
	now := time.Now()
	j := &store.Job{
		JobID: "job-" + testenv.RandomID(h.t), UID: h.uid, AccountID: h.user.ID, Status: store.JobAccepted, Kind: string(req.Kind()),
		Text: req.Text, Request: string(b), RequestHash: req.Hash(), CreatedAt: now, UpdatedAt: now, Attempts: 1,
	}
	j.LeaseOwner, j.LeaseUntil = h.engine.NewClaim(now)
	for _, p := range parts {
		j.Parts = append(j.Parts, store.JobPart{Text: p, Status: store.PartPending})
	}
	return j
}

func (h *harness) account() *store.Account {
	h.t.Helper()
	a, err := h.store.GetAccount(h.t.Context(), h.uid, h.user.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// TestStartCreatesATextContainerFirst: a new text post's first attempt
// creates the container before the job is stored, which is stored already
// "publishing" (one write fewer). Whatever fails on the way, the post is
// published once or the job records why not.
func TestStartCreatesATextContainerFirst(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(h *harness)
		// first is the first attempt's state and the job's status after it.
		first  publish.State
		status store.JobStatus
		posts  int // posts in the end
	}{
		{"happy path", func(h *harness) {}, publish.Done, store.JobPublished, 1},
		{"publish answer lost", func(h *harness) { h.fake.DropAnswerNext(threadstest.EndpointPublish, 1) }, publish.Retry, store.JobPublishing, 1},
		{"publish 5xx", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointPublish, 2, threadstest.Failure{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"})
		}, publish.Retry, store.JobPublishing, 1},
		{"create answer lost", func(h *harness) { h.fake.DropAnswerNext(threadstest.EndpointCreate, 1) }, publish.Retry, store.JobAccepted, 1},
		{"create 5xx", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 503, Code: 2, Message: "Service temporarily unavailable"})
		}, publish.Retry, store.JobAccepted, 1},
		{"create rate limited", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 400, Code: 4, Message: "Application request limit reached"})
		}, publish.Retry, store.JobAccepted, 1},
		{"create refused", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 400, Code: 100, Message: "Invalid parameter"})
		}, publish.Done, store.JobFailed, 0},
		{"token refused", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 400, Code: 190, Message: "Invalid OAuth access token."})
		}, publish.Done, store.JobFailed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.inject(h)
			job := h.newClaimedJob(publish.Request{Text: "first"})
			res, stored, created, err := h.engine.Start(t.Context(), job, h.account(), 5*time.Second)
			if err != nil || !created || stored == nil {
				t.Fatalf("Start: created %v, %v", created, err)
			}
			if res.State != tc.first || h.job(job.JobID).Status != tc.status {
				t.Fatalf("first attempt %v, job %s; want %v, %s", res.State, h.job(job.JobID).Status, tc.first, tc.status)
			}
			if tc.first == publish.Done && tc.status == store.JobPublished {
				// Two Threads calls and the job written twice (created, published).
				if c, s := h.fake.Calls(threadstest.EndpointCreate)+h.fake.Calls(threadstest.EndpointPublish), h.fake.Calls(threadstest.EndpointStatus); c != 2 || s != 0 {
					t.Errorf("%d create/publish calls and %d status reads, want 2 and 0", c, s)
				}
			}
			if tc.first != publish.Done {
				if res := h.runUntilDone(job.JobID); res.Job.Status != store.JobPublished {
					t.Fatalf("job %+v", res.Job)
				}
			}
			if n := h.postsWithText("first"); n != tc.posts {
				t.Errorf("%d posts, want %d", n, tc.posts)
			}
			if tc.name == "token refused" && h.account().Status != store.StatusNeedsReauth {
				t.Errorf("account %s, want needs_reauth", h.account().Status)
			}
			if j := h.job(job.JobID); j.Status == store.JobFailed && j.Error == nil {
				t.Error("failed job without its error")
			}
		})
	}
}

// TestStartRepeatedKeyAttemptsNothing: a repeat of a stored job (the same
// id) is not stored again and not attempted; the container made for it is
// never published.
func TestStartRepeatedKeyAttemptsNothing(t *testing.T) {
	h := newHarness(t)
	job := h.newClaimedJob(publish.Request{Text: "once"})
	repeat := *job
	if res, _, created, err := h.engine.Start(t.Context(), job, h.account(), 5*time.Second); err != nil || !created || res.State != publish.Done {
		t.Fatalf("first Start: %+v, created %v, %v", res, created, err)
	}
	res, stored, created, err := h.engine.Start(t.Context(), &repeat, h.account(), 5*time.Second)
	if err != nil || created || res != nil || stored.Status != store.JobPublished {
		t.Fatalf("repeat: %+v, %+v, created %v, %v; want the stored job, not created", res, stored, created, err)
	}
	if n := h.postsWithText("once"); n != 1 || h.fake.Calls(threadstest.EndpointPublish) != 1 {
		t.Errorf("%d posts, %d publish calls; want 1 and 1", n, h.fake.Calls(threadstest.EndpointPublish))
	}
}

// TestStartStoresTheJobFirstWhenTheTokenIsDue: a token due for refresh is
// refreshed before anything else, so the job is stored first as usual.
func TestStartStoresTheJobFirstWhenTheTokenIsDue(t *testing.T) {
	h := newHarness(t)
	h.saveAccount(time.Now().Add(-55*24*time.Hour), time.Now().Add(5*24*time.Hour))
	job := h.newClaimedJob(publish.Request{Text: "after a refresh"})
	res, _, created, err := h.engine.Start(t.Context(), job, h.account(), 5*time.Second)
	if err != nil || !created || res.State != publish.Done || res.Job.Status != store.JobPublished {
		t.Fatalf("Start: %+v, created %v, %v", res, created, err)
	}
	if r := h.fake.Calls(threadstest.EndpointRefresh); r != 1 {
		t.Errorf("%d refreshes, want 1", r)
	}
	if n := h.postsWithText("after a refresh"); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}
