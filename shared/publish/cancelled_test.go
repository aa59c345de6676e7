package publish_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/threads/threadstest"
)

// cancelOnPublish puts the engine's Threads calls through a proxy of the
// fake that, on the nth publish call, cancels the account's pending jobs
// as a disconnect does and then lets the call through (or has the fake
// answer fail): the post goes out while its job is cancelled under the
// attempt.
func (h *harness) cancelOnPublish(n int32, fail *threadstest.Failure) {
	h.t.Helper()
	h.cancelOn(isPublishCall, n, func() {
		if fail != nil {
			h.fake.FailNext(threadstest.EndpointPublish, 1, *fail)
		}
	})
}

// isPublishCall matches the publish calls of the Threads API.
func isPublishCall(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/threads_publish")
}

// cancelOn is cancelOnPublish for the nth Threads call that match
// matches, then runs then. (The client's timeout leaves the cancel's
// Firestore calls time on a busy machine.)
func (h *harness) cancelOn(match func(*http.Request) bool, n int32, then func()) {
	h.t.Helper()
	var calls atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match(r) && calls.Add(1) == n {
			if k, err := h.store.CancelPendingJobs(r.Context(), h.uid, h.user.ID, "account_disconnected", time.Now()); err != nil || k != 1 {
				h.t.Errorf("CancelPendingJobs = %d, %v; want 1 job cancelled", k, err)
			}
			then()
		}
		h.fake.Handler().ServeHTTP(w, r)
	}))
	h.t.Cleanup(proxy.Close)
	h.engine.Threads = &threads.Client{AppID: "app", AppSecret: "secret", GraphURL: proxy.URL, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// TestNoPublishCallAfterACancelOnResume: an attempt resuming a job
// recorded "publishing" (an earlier attempt's answer lost) makes no publish
// call once the job was cancelled after its claim, whether its container
// is ready or still processing.
func TestNoPublishCallAfterACancelOnResume(t *testing.T) {
	for _, processing := range []int{0, 2} {
		t.Run(fmt.Sprintf("%d status reads in progress", processing), func(t *testing.T) {
			h := newHarness(t)
			h.fake.SetProcessing(processing)
			req := publish.Request{ImageURL: "https://cdn.example.com/late.jpg"}
			id := h.newJob(req)
			// An earlier attempt made the container and recorded
			// "publishing", then died; its lease has run out.
			container, err := h.engine.Threads.CreateContainer(t.Context(), h.user.ID, h.token, threads.ContainerParams{MediaType: threads.MediaImage, ImageURL: req.ImageURL})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.store.ClaimJob(t.Context(), h.uid, h.user.ID, id, "dead", time.Now().Add(-time.Hour), time.Minute); err != nil {
				t.Fatal(err)
			}
			j := h.job(id)
			j.Status, j.ContainerID = store.JobPublishing, container
			if err := h.store.UpdateJob(t.Context(), j, "dead", time.Now(), false); err != nil {
				t.Fatal(err)
			}
			// The disconnect comes while the attempt reads the container's status.
			h.cancelOn(func(r *http.Request) bool {
				return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+container)
			}, 1, func() {})
			if _, err := h.engine.Run(t.Context(), h.uid, h.user.ID, id, 5*time.Second); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("attempt: %v, want ErrLeaseLost", err)
			}
			if n := h.fake.Calls(threadstest.EndpointPublish); n != 0 {
				t.Errorf("%d publish calls after the cancel, want none", n)
			}
			if job := h.job(id); job.Status != store.JobCancelled || job.LeaseOwner != "" {
				t.Errorf("job %s, lease %q; want cancelled, no lease", job.Status, job.LeaseOwner)
			}
		})
	}
}

// TestPostRecordedWhenItsWriteFailsAfterACancel: the post went out, the job
// was cancelled meanwhile, and the write recording the post failed
// (Firestore, not the precondition): the attempt's release records the
// post rather than give up the lease the cancel kept for it.
func TestPostRecordedWhenItsWriteFailsAfterACancel(t *testing.T) {
	h := newHarness(t)
	faulty, faults := testenv.Require(t).FaultyFirestore(t)
	h.engine.Store = store.New(faulty, h.keyring)
	h.cancelOn(isPublishCall, 1, func() { faults.FailNext(testenv.RPCCommit, 0, 1, codes.Internal) })
	id := h.newJob(publish.Request{Text: "write fails"})
	if _, err := h.engine.Run(t.Context(), h.uid, h.user.ID, id, 5*time.Second); err == nil || !strings.Contains(err.Error(), "injected fault") {
		t.Fatalf("attempt: %v, want the injected write failure", err)
	}
	posts := h.fake.Published(h.user.ID)
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	job := h.job(id)
	if job.Status != store.JobPublished || job.MediaID != posts[0].MediaID || job.LeaseOwner != "" {
		t.Errorf("job %s, mediaId %q (post %q), lease %q; want published with the post's id, no lease", job.Status, job.MediaID, posts[0].MediaID, job.LeaseOwner)
	}
}

// TestPostOutWhileCancelledIsRecorded: a job cancelled while its publish
// call is in flight (the account disconnected at that moment) records the
// post that went out: published when it was the job's last part, and for a
// chain cut short, the part published and the job cancelled, its message
// saying what was posted. A call that did not post leaves the job
// cancelled, the lease the cancel kept for it given up. Nothing is posted
// twice.
func TestPostOutWhileCancelledIsRecorded(t *testing.T) {
	refused := &threadstest.Failure{HTTPStatus: 400, Code: 100, Message: "Invalid parameter"}
	failed := &threadstest.Failure{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"}
	cases := []struct {
		name      string
		req       publish.Request
		onPublish int32
		fail      *threadstest.Failure // the call's answer, instead of a post
		status    store.JobStatus
		published []bool // a chain's parts
		message   string // in a cancelled job's error
	}{
		{name: "single post", req: publish.Request{Text: "single"}, onPublish: 1, status: store.JobPublished},
		{name: "a chain's last part", req: publish.Request{Thread: []string{"last one", "last two"}}, onPublish: 2,
			status: store.JobPublished, published: []bool{true, true}},
		{name: "a chain's first part", req: publish.Request{Thread: []string{"first one", "first two"}}, onPublish: 1,
			status: store.JobCancelled, published: []bool{true, false}, message: "Part 1 of 2 had been published; the rest were not posted."},
		{name: "the call refused", req: publish.Request{Text: "refused"}, onPublish: 1, fail: refused,
			status: store.JobCancelled, message: "It was being published and may have gone out."},
		{name: "the call failed", req: publish.Request{Text: "failed"}, onPublish: 1, fail: failed,
			status: store.JobCancelled, message: "It was being published and may have gone out."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.cancelOnPublish(tc.onPublish, tc.fail)
			id := h.newJob(tc.req)
			wantPosts := int(tc.onPublish)
			if tc.fail != nil {
				// The attempt ends on its lost lease, with nothing to record.
				wantPosts--
				if _, err := h.engine.Run(t.Context(), h.uid, h.user.ID, id, 5*time.Second); !errors.Is(err, store.ErrLeaseLost) {
					t.Fatalf("attempt: %v, want ErrLeaseLost", err)
				}
			} else if res := h.run(id, 5*time.Second); res.State != publish.Done || res.Job.Status != tc.status {
				t.Fatalf("attempt ended %v with the job %s, want Done with it %s", res.State, res.Job.Status, tc.status)
			}
			job := h.job(id)
			if job.Status != tc.status || job.LeaseOwner != "" || !job.DueBy.IsZero() {
				t.Fatalf("stored job %s (lease %q, due %v), want %s, no lease, not due", job.Status, job.LeaseOwner, job.DueBy, tc.status)
			}
			posts := h.fake.Published(h.user.ID)
			if len(posts) != wantPosts {
				t.Fatalf("%d posts, want %d", len(posts), wantPosts)
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
			if n := len(h.fake.Published(h.user.ID)); n != wantPosts {
				t.Errorf("%d posts after a later attempt, want %d", n, wantPosts)
			}
		})
	}
}
