package publish_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/threads/threadstest"
)

// checkChain checks that the fake holds the job's chain exactly once, in
// order, each part replying to the one before, and that the job records
// every part's media id.
func (h *harness) checkChain(jobID string, texts []string) {
	h.t.Helper()
	job := h.job(jobID)
	if job.Status != store.JobPublished || len(job.Parts) != len(texts) {
		h.t.Fatalf("job %s: status %s, %d parts", jobID, job.Status, len(job.Parts))
	}
	byID := map[string]threadstest.Post{}
	for _, p := range h.fake.Published(h.user.ID) {
		byID[p.MediaID] = p
	}
	parent := ""
	for i, part := range job.Parts {
		if n := h.postsWithText(texts[i]); n != 1 {
			h.t.Errorf("part %d %q posted %d times", i, texts[i], n)
		}
		p, ok := byID[part.MediaID]
		if part.Status != string(store.JobPublished) || !ok {
			h.t.Errorf("part %d: %+v (post found: %v)", i, part, ok)
			continue
		}
		if p.Text != texts[i] || p.ReplyToID != parent {
			h.t.Errorf("part %d: post text %q replying to %q, want %q replying to %q", i, p.Text, p.ReplyToID, texts[i], parent)
		}
		parent = part.MediaID
	}
	if job.MediaID != job.Parts[0].MediaID {
		h.t.Errorf("job mediaId %s, want the first part's %s", job.MediaID, job.Parts[0].MediaID)
	}
}

func TestChainPublishesInOrder(t *testing.T) {
	h := newHarness(t)
	h.fake.SetProcessing(2)
	texts := []string{"chain one", "chain two", "chain three"}
	id := h.newJob(publish.Request{Thread: texts, ImageURL: "https://cdn.example.com/a.jpg", ReplyControl: "accounts_you_follow"})
	res := h.run(id, 10*time.Second)
	if res.State != publish.Done {
		t.Fatalf("result %+v", res)
	}
	h.checkChain(id, texts)
	posts := h.fake.Published(h.user.ID)
	if posts[0].MediaType != "IMAGE" || posts[1].MediaType != "TEXT" {
		t.Errorf("media types %s, %s: the first part carries the image", posts[0].MediaType, posts[1].MediaType)
	}
	for i, p := range posts {
		if p.Params.Get("reply_control") != "accounts_you_follow" {
			t.Errorf("part %d reply_control %q", i, p.Params.Get("reply_control"))
		}
	}
	if again := h.run(id, time.Second); again.State != publish.Done || len(h.fake.Published(h.user.ID)) != 3 {
		t.Errorf("re-run: %+v, %d posts", again, len(h.fake.Published(h.user.ID)))
	}
}

func TestChainResumesAtTheFailedPart(t *testing.T) {
	tests := []struct {
		name  string
		fault func(f *threadstest.Server)
	}{
		{"transient failure creating a part", func(f *threadstest.Server) {
			f.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"})
		}},
		{"transient failure publishing a part", func(f *threadstest.Server) {
			f.FailNext(threadstest.EndpointPublish, 1, threadstest.Failure{HTTPStatus: 503, Code: 1, Message: "An unknown error occurred"})
		}},
		{"rate limited", func(f *threadstest.Server) {
			f.FailNext(threadstest.EndpointPublish, 1, threadstest.Failure{HTTPStatus: 400, Code: 17, Message: "User request limit reached"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			texts := []string{"resume one", "resume two", "resume three", "resume four"}
			id := h.newJob(publish.Request{Thread: texts})
			// Let two parts through, then fail the third.
			h.runParts(id, 2)
			tt.fault(h.fake)
			res := h.run(id, 10*time.Second)
			if res.State != publish.Retry || res.Job.Part != 2 || res.Job.Parts[1].Status != string(store.JobPublished) {
				t.Fatalf("after the fault: %+v, job part %d, parts %+v", res.State, res.Job.Part, res.Job.Parts)
			}
			h.runUntilDone(id)
			h.checkChain(id, texts)
		})
	}
}

// runParts publishes n parts of a chain (through attempts that stop at the
// budget).
func (h *harness) runParts(id string, n int) {
	h.t.Helper()
	// A budget of zero stops after the first part of each attempt.
	for range n {
		h.run(id, -time.Second)
	}
	if job := h.job(id); job.Part != n {
		h.t.Fatalf("after %d attempts the job is at part %d", n, job.Part)
	}
}

func TestChainLostAnswerStopsAtARecordedPart(t *testing.T) {
	h := newHarness(t)
	texts := []string{"lost one", "lost two", "lost three"}
	id := h.newJob(publish.Request{Thread: texts})
	h.runParts(id, 1)
	h.fake.DropAnswerNext(threadstest.EndpointPublish, 1)
	res := h.runUntilDone(id)
	j := res.Job
	if j.Status != store.JobFailed || j.Error == nil || j.Error.Reason != publish.ReasonChainBroken || j.Part != 2 {
		t.Fatalf("job %+v error %+v", j, j.Error)
	}
	if j.Parts[0].Status != "published" || j.Parts[1].Status != "published" || j.Parts[2].Status != "failed" {
		t.Errorf("parts %+v", j.Parts)
	}
	if j.Parts[2].ContainerID != "" || j.ContainerID != "" {
		t.Errorf("the part that never started has container %q (job %q), want none", j.Parts[2].ContainerID, j.ContainerID)
	}
	for i, text := range texts {
		if want, n := map[bool]int{true: 1, false: 0}[i < 2], h.postsWithText(text); n != want {
			t.Errorf("part %d posted %d times, want %d", i, n, want)
		}
	}
}

func TestLastPartLostAnswerStillPublished(t *testing.T) {
	h := newHarness(t)
	texts := []string{"end one", "end two"}
	id := h.newJob(publish.Request{Thread: texts})
	h.runParts(id, 1)
	h.fake.DropAnswerNext(threadstest.EndpointPublish, 1)
	res := h.runUntilDone(id)
	if res.Job.Status != store.JobPublished || h.postsWithText("end two") != 1 {
		t.Fatalf("job %+v", res.Job)
	}
}

func TestChainQuota(t *testing.T) {
	tests := []struct {
		name        string
		req         publish.Request
		posts       int // quota_usage before
		replies     int // reply_quota_usage before
		wantAllowed bool
	}{
		{"room for the post and the replies", publish.Request{Thread: []string{"q1", "q2", "q3"}}, threadstest.QuotaTotal - 1, threadstest.ReplyQuotaTotal - 2, true},
		{"no room for the post", publish.Request{Thread: []string{"q1", "q2"}}, threadstest.QuotaTotal, 0, false},
		{"no room for the replies", publish.Request{Thread: []string{"q1", "q2", "q3"}}, 0, threadstest.ReplyQuotaTotal - 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.SetQuotaUsage(h.user.ID, tt.posts)
			h.fake.SetReplyQuotaUsage(h.user.ID, tt.replies)
			res := h.run(h.newJob(tt.req), 5*time.Second)
			if allowed := res.State != publish.QuotaExceeded; allowed != tt.wantAllowed {
				t.Fatalf("allowed %v, want %v (result %+v)", allowed, tt.wantAllowed, res)
			}
			if !tt.wantAllowed && h.fake.Calls(threadstest.EndpointCreate) != 0 {
				t.Error("containers created although the quota is spent")
			}
		})
	}
}

// A chain with a part out is never ended for the quota, even where a job
// that cannot have posted is (a user's request answered 429, a scheduled
// post): the reply refused for the spent reply quota waits for it, and the
// chain goes on once it frees up.
func TestChainWithAPartOutWaitsForTheQuota(t *testing.T) {
	tests := []struct {
		name      string
		publishAt time.Time // zero: accepted now
		attempt   func(*harness, string) (*publish.Result, error)
	}{
		{"a user's repeated request", time.Time{}, func(h *harness, id string) (*publish.Result, error) {
			return h.engine.RunRequest(h.t.Context(), h.uid, h.user.ID, id, 5*time.Second)
		}},
		{"a scheduled chain's task", time.Now().Add(-time.Second), func(h *harness, id string) (*publish.Result, error) {
			return h.engine.Run(h.t.Context(), h.uid, h.user.ID, id, 5*time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			texts := []string{"out one", "out two"}
			id := h.newJobAt(publish.Request{Thread: texts}, tt.publishAt)
			h.runParts(id, 1)
			h.fake.SetReplyQuotaUsage(h.user.ID, threadstest.ReplyQuotaTotal)
			res, err := tt.attempt(h, id)
			if err != nil {
				t.Fatal(err)
			}
			if res.State != publish.QuotaExceeded || res.Job.Status.Terminal() || res.RetryAfter <= 0 {
				t.Fatalf("result %+v, job %s %+v: want QuotaExceeded with the job going on", res, res.Job.Status, res.Job.Error)
			}
			h.fake.SetReplyQuotaUsage(h.user.ID, 0)
			if res := h.runUntilDone(id); res.Job.Status != store.JobPublished {
				t.Fatalf("job %s %+v, want published", res.Job.Status, res.Job.Error)
			}
			h.checkChain(id, texts)
		})
	}
}

func TestScheduledJobs(t *testing.T) {
	t.Run("not due yet", func(t *testing.T) {
		h := newHarness(t)
		id := h.newJobAt(publish.Request{Text: "later"}, time.Now().Add(time.Hour))
		res := h.run(id, time.Second)
		if res.State != publish.Scheduled || res.RetryAfter < 59*time.Minute || res.Job.Status != store.JobScheduled {
			t.Fatalf("result %+v", res)
		}
		if c := h.fake.Calls(threadstest.EndpointCreate) + h.fake.Calls(threadstest.EndpointLimit); c != 0 {
			t.Errorf("%d Threads calls before the job is due", c)
		}
		if j := h.job(id); j.LeaseOwner != "" {
			t.Error("the lease was kept")
		}
	})
	t.Run("due", func(t *testing.T) {
		h := newHarness(t)
		id := h.newJobAt(publish.Request{Thread: []string{"due one", "due two"}}, time.Now().Add(-time.Second))
		if res := h.run(id, 5*time.Second); res.State != publish.Done {
			t.Fatalf("result %+v", res)
		}
		h.checkChain(id, []string{"due one", "due two"})
	})
	t.Run("cancelled, then delivered", func(t *testing.T) {
		h := newHarness(t)
		id := h.newJobAt(publish.Request{Text: "never"}, time.Now().Add(50*time.Millisecond))
		for range 2 { // cancelling twice is fine
			if j, err := h.store.CancelJob(t.Context(), h.uid, h.user.ID, id, "cancelled_by_owner", time.Now()); err != nil || j.Status != store.JobCancelled {
				t.Fatalf("CancelJob: %+v, %v", j, err)
			}
		}
		time.Sleep(60 * time.Millisecond)
		res := h.run(id, time.Second)
		if res.State != publish.Done || res.Job.Status != store.JobCancelled || h.postsWithText("never") != 0 {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("cannot cancel once started", func(t *testing.T) {
		h := newHarness(t)
		id := h.newJob(publish.Request{Text: "started"})
		if _, err := h.store.CancelJob(t.Context(), h.uid, h.user.ID, id, "x", time.Now()); err != store.ErrJobStarted {
			t.Fatalf("CancelJob on an accepted job: %v", err)
		}
	})
	t.Run("account gone when due", func(t *testing.T) {
		h := newHarness(t)
		id := h.newJobAt(publish.Request{Text: "orphan"}, time.Now().Add(-time.Second))
		if _, err := h.store.Disconnect(t.Context(), h.uid, h.user.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		res := h.run(id, time.Second)
		if res.Job.Status != store.JobFailed || res.Job.Error.Reason != publish.ReasonReauthRequired {
			t.Fatalf("job %+v", res.Job)
		}
	})
	t.Run("quota spent when due", func(t *testing.T) {
		h := newHarness(t)
		h.fake.SetQuotaUsage(h.user.ID, threadstest.QuotaTotal)
		id := h.newJobAt(publish.Request{Text: "over"}, time.Now().Add(-time.Second))
		res := h.run(id, time.Second)
		if res.State != publish.Done || res.Job.Status != store.JobFailed || res.Job.Error.Reason != publish.ReasonQuotaExceeded {
			t.Fatalf("result %+v job %+v", res, res.Job)
		}
	})
}

func TestNewerFeaturesReachThreads(t *testing.T) {
	h := newHarness(t)
	req := publish.Request{Text: "the butler did it", Spoilers: []publish.TextRange{{Offset: 4, Length: 6}},
		LongText: "A much longer story.", LongTextLink: "https://example.com/story",
		LongTextStyles:          []publish.TextStyle{{Offset: 2, Length: 4, Styles: []string{"bold", "underline"}}},
		AllowlistedCountryCodes: []string{"US", "CA"}}
	res := h.run(h.newJob(req), 5*time.Second)
	if res.Job.Status != store.JobPublished {
		t.Fatalf("job %+v error %+v", res.Job, res.Job.Error)
	}
	p := h.fake.Published(h.user.ID)[0]
	got, _ := json.Marshal(struct {
		A any
		E any
		C []string
	}{p.TextAttachment, p.TextEntities, p.AllowlistedCountryCodes})
	want := `{"A":{"Plaintext":"A much longer story.","LinkAttachmentURL":"https://example.com/story","Styling":[{"Offset":2,"Length":4,"Styles":["bold","underline"]}]},` +
		`"E":[{"EntityType":"SPOILER","Offset":4,"Length":6}],"C":["US","CA"]}`
	if string(got) != want {
		t.Errorf("Threads got\n%s\nwant\n%s", got, want)
	}

	for i, r := range []publish.Request{
		{Text: "boo", Ghost: true},
		{ImageURL: "https://cdn.example.com/s.jpg", SpoilerMedia: true},
		{Text: "gif", GIF: &publish.GIF{ID: "xyz", Provider: "GIPHY"}},
	} {
		res := h.run(h.newJob(r), 5*time.Second)
		if res.Job.Status != store.JobPublished {
			t.Fatalf("request %d: job %+v error %+v", i, res.Job, res.Job.Error)
		}
	}
	posts := h.fake.Published(h.user.ID)
	if !posts[1].GhostPost || !posts[2].SpoilerMedia || posts[3].GIF == nil || posts[3].GIF.GIFID != "xyz" {
		t.Errorf("posts: %s", fmt.Sprint(posts[1:]))
	}
}

func TestExpiredContainerIsCreatedAgain(t *testing.T) {
	h := newHarness(t)
	// The container ends EXPIRED (never published), and the publish call's
	// answer is a transient failure: the job waits in "publishing".
	h.fake.SetContainerOutcome("EXPIRED", "")
	h.fake.FailNext(threadstest.EndpointPublish, 1, threadstest.Failure{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"})
	id := h.newJob(publish.Request{Text: "expired once"})
	if res := h.run(id, time.Second); res.State != publish.Retry || res.Job.Status != store.JobPublishing {
		t.Fatalf("first attempt: %+v", res)
	}
	first := h.job(id).ContainerID
	res := h.runUntilDone(id)
	if res.Job.Status != store.JobPublished || res.Job.ContainerID == first || h.postsWithText("expired once") != 1 {
		t.Fatalf("job %+v (first container %s)", res.Job, first)
	}
}

func (h *harness) job(id string) *store.Job {
	h.t.Helper()
	j, err := h.store.GetJob(h.t.Context(), h.uid, h.user.ID, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

// The poll that is checked is the poll that is sent: its options trimmed
// (they are checked trimmed, 1 to 25 characters), with the post (or a
// chain's first part) only.
func TestPollIsSentAsChecked(t *testing.T) {
	cases := []struct {
		name string
		req  publish.Request
		want []map[string]string // each post's poll options, in order; nil for none
	}{
		{"options trimmed", publish.Request{Text: "Tea or coffee?", Poll: &publish.Poll{Options: []string{" Tea\ufeff", "\tCoffee\n", " " + strings.Repeat("x", publish.MaxPollOption) + " "}}},
			[]map[string]string{{"option_a": "Tea", "option_b": "Coffee", "option_c": strings.Repeat("x", publish.MaxPollOption)}}},
		{"with the first part of a thread only", publish.Request{Thread: []string{"Tea or coffee?", "Vote below.", "Results tomorrow."}, Poll: &publish.Poll{Options: []string{"Tea", "Coffee"}}},
			[]map[string]string{{"option_a": "Tea", "option_b": "Coffee"}, nil, nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			res := h.run(h.newJob(tc.req), 5*time.Second)
			if res.Job.Status != store.JobPublished {
				t.Fatalf("job %s, error %+v", res.Job.Status, res.Job.Error)
			}
			posts := h.fake.Published(h.user.ID)
			if len(posts) != len(tc.want) {
				t.Fatalf("%d posts, want %d", len(posts), len(tc.want))
			}
			for i, p := range posts {
				var got map[string]string
				if js := p.Params.Get("poll_attachment"); js != "" {
					if err := json.Unmarshal([]byte(js), &got); err != nil {
						t.Fatalf("post %d: poll_attachment %q: %v", i, js, err)
					}
				}
				if !maps.Equal(got, tc.want[i]) || (got == nil) != (tc.want[i] == nil) {
					t.Errorf("post %d: poll %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

// expiringThreads answers EXPIRED, as Threads does for a container not
// published within 24 hours, for the containers expired, or for every
// container when all is set; anything else goes to Threads.
type expiringThreads struct {
	publish.Threads
	mu      sync.Mutex
	expired map[string]bool
	all     bool
}

func expiring(h *harness) *expiringThreads {
	x := &expiringThreads{Threads: h.engine.Threads, expired: map[string]bool{}}
	h.engine.Threads = x
	return x
}

func (x *expiringThreads) expire(ids ...string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		x.expired[id] = true
	}
}

func (x *expiringThreads) ContainerStatus(ctx context.Context, token, id string) (*threads.ContainerStatus, error) {
	x.mu.Lock()
	expired := x.all || x.expired[id]
	x.mu.Unlock()
	if expired {
		return &threads.ContainerStatus{ID: id, Status: publish.ContainerExpired}, nil
	}
	return x.Threads.ContainerStatus(ctx, token, id)
}

// A container (or carousel item) that expired while its job waited, out
// the publishing quota or for media processing, is created again, as in
// "publishing" (TestExpiredContainerIsCreatedAgain): never a failure.
func TestContainerExpiredWhileWaitingIsCreatedAgain(t *testing.T) {
	carousel := publish.Request{Text: "two", Media: []publish.MediaItem{
		{Type: "image", URL: "https://cdn.example.com/1.jpg"}, {Type: "video", URL: "https://cdn.example.com/2.mp4"}}}
	rateLimited := threadstest.Failure{HTTPStatus: 400, Code: 4, Message: "Application request limit reached"}
	// waitOutTheQuota: a status read refused for a limit finds the quota
	// spent; the job is released until it frees up.
	waitOutTheQuota := func(h *harness) {
		h.fake.SetProcessing(1)
		h.fake.SetQuotaUsage(h.user.ID, threadstest.QuotaTotal)
		h.fake.FailNext(threadstest.EndpointStatus, 1, rateLimited)
	}
	quotaFreed := func(h *harness) { h.fake.SetQuotaUsage(h.user.ID, 0) }
	waitForProcessing := func(h *harness) { h.fake.SetProcessing(1000) }
	processed := func(h *harness) { h.fake.SetProcessing(0) }
	cases := []struct {
		name        string
		req         publish.Request
		wait, after func(h *harness)
		wantState   publish.State   // of the first attempt
		wantStatus  store.JobStatus // the job waits in
		wantCreates int             // containers in all, items included
	}{
		{"image waiting out the quota", publish.Request{ImageURL: "https://cdn.example.com/a.jpg"}, waitOutTheQuota, quotaFreed,
			publish.QuotaExceeded, store.JobContainerCreated, 2},
		{"video waiting for processing", publish.Request{VideoURL: "https://cdn.example.com/v.mp4"}, waitForProcessing, processed,
			publish.Waiting, store.JobContainerCreated, 2},
		{"carousel items waiting out the quota", carousel, waitOutTheQuota, quotaFreed, publish.QuotaExceeded, store.JobAccepted, 5},
		{"carousel items waiting for processing", carousel, waitForProcessing, processed, publish.Waiting, store.JobAccepted, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			x := expiring(h)
			tc.wait(h)
			id := h.newJob(tc.req)
			if res := h.run(id, 20*time.Millisecond); res.State != tc.wantState || res.Job.Status != tc.wantStatus {
				t.Fatalf("first attempt: state %v, job %s (error %+v); want state %v, job %s", res.State, res.Job.Status, res.Job.Error, tc.wantState, tc.wantStatus)
			}
			// A day later: what the job waited with has expired.
			waited := h.job(id)
			old := append([]string{waited.ContainerID}, waited.Children...)
			x.expire(old...)
			tc.after(h)

			res := h.run(id, 5*time.Second)
			if res.State != publish.Done || res.Job.Status != store.JobPublished {
				t.Fatalf("after the expiry: state %v, job %s (error %+v); want published", res.State, res.Job.Status, res.Job.Error)
			}
			posts := h.fake.Published(h.user.ID)
			if len(posts) != 1 {
				t.Fatalf("%d posts, want 1", len(posts))
			}
			for _, c := range append([]string{posts[0].ContainerID}, posts[0].Children...) {
				if slices.Contains(old, c) {
					t.Errorf("published with the expired container %s", c)
				}
			}
			if n := h.fake.Calls(threadstest.EndpointCreate); n != tc.wantCreates {
				t.Errorf("%d containers created, want %d", n, tc.wantCreates)
			}
		})
	}
}

// Containers are created again once per attempt: one that expires again
// (it cannot have waited 24 hours) fails the job, and an attempt never
// loops on it.
func TestContainerExpiredAgainFails(t *testing.T) {
	cases := []struct {
		name        string
		req         publish.Request
		wantCreates int // items included
	}{
		{"image", publish.Request{ImageURL: "https://cdn.example.com/a.jpg"}, 2},
		{"video", publish.Request{VideoURL: "https://cdn.example.com/v.mp4"}, 2},
		{"carousel", publish.Request{Media: []publish.MediaItem{
			{Type: "image", URL: "https://cdn.example.com/1.jpg"}, {Type: "image", URL: "https://cdn.example.com/2.jpg"}}}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			expiring(h).all = true
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			res, err := h.engine.Run(ctx, h.uid, h.user.ID, h.newJob(tc.req), 5*time.Second)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.State != publish.Done || res.Job.Status != store.JobFailed || res.Job.Error == nil || res.Job.Error.Reason != publish.ReasonMediaFailed {
				t.Fatalf("state %v, job %s (error %+v); want failed, %s", res.State, res.Job.Status, res.Job.Error, publish.ReasonMediaFailed)
			}
			if n := h.fake.Calls(threadstest.EndpointCreate); n != tc.wantCreates {
				t.Errorf("%d containers created, want %d (created again once)", n, tc.wantCreates)
			}
			if n := len(h.fake.Published(h.user.ID)); n != 0 {
				t.Errorf("%d posts, want none", n)
			}
		})
	}
}
