package publish_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/threads/threadstest"
	"threadsfunctions.dev/shared/tokencrypt"
)

type harness struct {
	t      *testing.T
	fake   *threadstest.Server
	store  *store.Store
	engine *publish.Engine
	uid    string
	user   threadstest.User
	token  string
	// keyring seals the harness's tokens (for another store of the same data).
	keyring *tokencrypt.Keyring
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := testenv.Require(t)
	fake := threadstest.Start(t, "app", "secret", "https://fn.example.com/cb")
	keyring, _ := testenv.Keyring(t, "k1")
	st := store.New(env.Firestore(t), keyring)
	h := &harness{
		t: t, fake: fake, store: st, uid: "uid-" + testenv.RandomID(t), keyring: keyring,
		user: threadstest.User{ID: fmt.Sprint(17841400000000000 + rand.IntN(1_000_000)), Username: "ada"},
	}
	h.token = fake.AddAccount(h.user)
	h.saveAccount(time.Now(), time.Now().Add(60*24*time.Hour))
	h.engine = &publish.Engine{
		Store:   st,
		Threads: &threads.Client{AppID: "app", AppSecret: "secret", GraphURL: fake.URL, HTTP: &http.Client{Timeout: 2 * time.Second}},
		Backoff: []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond},
		Lease:   5 * time.Second,
	}
	return h
}

func (h *harness) saveAccount(issued, expires time.Time) {
	h.t.Helper()
	err := h.store.SaveAccount(h.t.Context(), h.uid, store.Account{
		AccountID: h.user.ID, TokenType: "bearer", ExpiresIn: int64(expires.Sub(issued).Seconds()),
		ExpiresAt: expires, TokenIssuedAt: issued, UpdatedAt: issued, Status: store.StatusActive,
	}, h.token)
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) newJob(req publish.Request) string {
	h.t.Helper()
	return h.newJobAt(req, time.Time{})
}

// newJobAt stores a job as thPublish does: a reply chain with its parts,
// scheduled when publishAt is set.
func (h *harness) newJobAt(req publish.Request, publishAt time.Time) string {
	h.t.Helper()
	parts, err := req.Check()
	if err != nil {
		h.t.Fatalf("invalid test request: %v", err)
	}
	b, _ := json.Marshal(req)
	id := "job-" + testenv.RandomID(h.t)
	now := time.Now()
	j := &store.Job{
		JobID: id, UID: h.uid, AccountID: h.user.ID, Status: store.JobAccepted, Kind: string(req.Kind()),
		Request: string(b), RequestHash: req.Hash(), CreatedAt: now, UpdatedAt: now, PublishAt: publishAt,
	}
	if !publishAt.IsZero() {
		j.Status = store.JobScheduled
	}
	for _, p := range parts {
		j.Parts = append(j.Parts, store.JobPart{Text: p, Status: store.PartPending})
	}
	if _, _, err := h.store.CreateJob(h.t.Context(), j); err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) run(jobID string, budget time.Duration) *publish.Result {
	h.t.Helper()
	res, err := h.engine.Run(h.t.Context(), h.uid, h.user.ID, jobID, budget)
	if err != nil {
		h.t.Fatalf("Run: %v", err)
	}
	return res
}

// runUntilDone repeats attempts as Cloud Tasks would, up to a bound.
func (h *harness) runUntilDone(jobID string) *publish.Result {
	h.t.Helper()
	for range 50 {
		res, err := h.engine.Run(h.t.Context(), h.uid, h.user.ID, jobID, time.Second)
		if err == nil && res.State == publish.Done {
			return res
		}
	}
	h.t.Fatalf("job %s not done after 50 attempts", jobID)
	return nil
}

func (h *harness) postsWithText(text string) int {
	n := 0
	for _, p := range h.fake.Published(h.user.ID) {
		if p.Text == text {
			n++
		}
	}
	return n
}

func TestPublishesEveryKindOnce(t *testing.T) {
	cases := []struct {
		name       string
		req        publish.Request
		processing int
		wantType   string
		wantParams map[string]string
	}{
		{name: "text", req: publish.Request{Text: "hello"}, wantType: "TEXT"},
		{name: "image with processing", req: publish.Request{Text: "pic", ImageURL: "https://cdn.example.com/a.jpg", AltText: "a cat"},
			processing: 2, wantType: "IMAGE", wantParams: map[string]string{"image_url": "https://cdn.example.com/a.jpg", "alt_text": "a cat"}},
		{name: "video", req: publish.Request{VideoURL: "https://cdn.example.com/v.mp4"}, processing: 3, wantType: "VIDEO",
			wantParams: map[string]string{"video_url": "https://cdn.example.com/v.mp4"}},
		{name: "carousel", req: publish.Request{Text: "two", Media: []publish.MediaItem{
			{Type: "image", URL: "https://cdn.example.com/1.jpg"}, {Type: "video", URL: "https://cdn.example.com/2.mp4", AltText: "clip"}}},
			processing: 1, wantType: "CAROUSEL"},
		{name: "reply with control and topic", req: publish.Request{Text: "re", ReplyControl: "mentioned_only", TopicTag: "Go"},
			wantType: "TEXT", wantParams: map[string]string{"reply_control": "mentioned_only", "topic_tag": "Go"}},
		{name: "poll", req: publish.Request{Text: "which?", Poll: &publish.Poll{Options: []string{"a", "b", "c"}}}, wantType: "TEXT"},
		{name: "link attachment", req: publish.Request{Text: "see", LinkAttachment: "https://example.com/x"}, wantType: "TEXT",
			wantParams: map[string]string{"link_attachment": "https://example.com/x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.SetProcessing(tc.processing)
			id := h.newJob(tc.req)
			res := h.run(id, 10*time.Second)
			if res.State != publish.Done || res.Job.Status != store.JobPublished || res.Job.MediaID == "" {
				t.Fatalf("result %+v job %+v", res, res.Job)
			}
			posts := h.fake.Published(h.user.ID)
			if len(posts) != 1 {
				t.Fatalf("%d posts published, want 1", len(posts))
			}
			p := posts[0]
			if p.MediaID != res.Job.MediaID || p.MediaType != tc.wantType || p.Text != tc.req.Text {
				t.Errorf("post %+v, job media %s", p, res.Job.MediaID)
			}
			for k, v := range tc.wantParams {
				if got := p.Params.Get(k); got != v {
					t.Errorf("param %s = %q, want %q", k, got, v)
				}
			}
			if tc.req.Poll != nil && !strings.Contains(p.Params.Get("poll_attachment"), `"option_c":"c"`) {
				t.Errorf("poll_attachment = %q", p.Params.Get("poll_attachment"))
			}
			if tc.wantType == "CAROUSEL" && len(p.Children) != 2 {
				t.Errorf("carousel children = %v", p.Children)
			}
			// Running a published job again does nothing.
			if again := h.run(id, time.Second); again.State != publish.Done || len(h.fake.Published(h.user.ID)) != 1 {
				t.Errorf("re-run: %+v, %d posts", again, len(h.fake.Published(h.user.ID)))
			}
		})
	}
}

func TestSlowMediaWaitsThenResumes(t *testing.T) {
	h := newHarness(t)
	h.fake.SetProcessing(1000) // stays IN_PROGRESS far longer than the budget
	id := h.newJob(publish.Request{VideoURL: "https://cdn.example.com/long.mp4"})
	res := h.run(id, 20*time.Millisecond)
	if res.State != publish.Waiting || res.Job.Status != store.JobContainerCreated || res.RetryAfter <= 0 {
		t.Fatalf("result %+v", res)
	}
	creates := h.fake.Calls(threadstest.EndpointCreate)
	h.fake.SetProcessing(0)
	// The container already processing keeps counting down; make it finish.
	for i := 0; i < 1000 && h.run(id, 50*time.Millisecond).State == publish.Waiting; i += 1 {
	}
	job := h.job(id)
	if job.Status != store.JobPublished || h.fake.Calls(threadstest.EndpointCreate) != creates || len(h.fake.Published(h.user.ID)) != 1 {
		t.Fatalf("job %+v; creates %d→%d; posts %d", job, creates, h.fake.Calls(threadstest.EndpointCreate), len(h.fake.Published(h.user.ID)))
	}
}

// A container (or carousel item) in ERROR fails the job; one that EXPIRED
// is created again (TestContainerExpiredWhileWaitingIsCreatedAgain).
func TestContainerErrorFailsWithThreadsMessage(t *testing.T) {
	cases := []struct {
		name string
		req  publish.Request
	}{
		{"video", publish.Request{VideoURL: "https://cdn.example.com/v.mp4"}},
		{"carousel item", publish.Request{Media: []publish.MediaItem{
			{Type: "video", URL: "https://cdn.example.com/1.mp4"}, {Type: "video", URL: "https://cdn.example.com/2.mp4"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.SetContainerOutcome(publish.ContainerError, "FAILED_DOWNLOADING_VIDEO")
			res := h.run(h.newJob(tc.req), 5*time.Second)
			if res.State != publish.Done || res.Job.Status != store.JobFailed || res.Job.Error == nil ||
				res.Job.Error.Reason != publish.ReasonMediaFailed || !strings.Contains(res.Job.Error.Message, "FAILED_DOWNLOADING_VIDEO") {
				t.Fatalf("job %+v error %+v", res.Job, res.Job.Error)
			}
			if n := len(h.fake.Published(h.user.ID)); n != 0 {
				t.Errorf("%d posts published", n)
			}
		})
	}
}

// Refusals Threads documents as final fail the job at once, though code 1
// alone means a temporary failure: retrying would only repeat them.
func TestFinalRefusalsAreNotRetried(t *testing.T) {
	cases := []struct {
		name       string
		subcode    int
		wantReason string
	}{
		{"media could not be fetched", 2207052, publish.ReasonMediaFailed},
		{"activity restricted", 2207051, publish.ReasonRejected},
		{"user restricted", 4279013, publish.ReasonRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 400, Code: 1, Subcode: tc.subcode, Message: "refused"})
			res := h.run(h.newJob(publish.Request{ImageURL: "https://cdn.example.com/a.jpg"}), 5*time.Second)
			if res.State != publish.Done || res.Job.Status != store.JobFailed || res.Job.Error == nil || res.Job.Error.Reason != tc.wantReason {
				t.Fatalf("result %+v, job error %+v; want failed for good with %s", res, res.Job.Error, tc.wantReason)
			}
			if !res.Job.DueBy.IsZero() {
				t.Errorf("failed job still due at %v: the sweep would take it up", res.Job.DueBy)
			}
			if n := h.fake.Calls(threadstest.EndpointCreate); n != 1 {
				t.Errorf("%d container calls, want 1", n)
			}
		})
	}
}

// A refused publish call is acted on only once the container's status is
// known: when that read fails too, the job waits (still publishing) for an
// attempt that can read it, rather than failing a post that may be live.
func TestRefusedPublishWithoutAStatusWaits(t *testing.T) {
	h := newHarness(t)
	h.fake.FailNext(threadstest.EndpointPublish, 1, threadstest.Failure{HTTPStatus: 400, Code: 100, Message: "refused"})
	h.fake.FailNext(threadstest.EndpointStatus, 1, threadstest.Failure{HTTPStatus: 500, Code: 2, Message: "unavailable"})
	id := h.newJob(publish.Request{Text: "status unknown"})
	res := h.run(id, 5*time.Second)
	if res.State != publish.Retry || res.Job.Status != store.JobPublishing {
		t.Fatalf("result %+v (job %s %+v), want a retry, still publishing", res, res.Job.Status, res.Job.Error)
	}
}

// A publish call answered 5xx is an unknown outcome whatever its subcode:
// the job is not failed on it, and the next attempt reads the container's
// status before publishing (once).
func TestFinalSubcodeOn5xxPublishIsRetried(t *testing.T) {
	h := newHarness(t)
	h.fake.FailNext(threadstest.EndpointPublish, 1, threadstest.Failure{HTTPStatus: 500, Code: 1, Subcode: 2207052, Message: "boom"})
	id := h.newJob(publish.Request{ImageURL: "https://cdn.example.com/a.jpg"})
	if res := h.run(id, 5*time.Second); res.State != publish.Retry || res.Job.Status != store.JobPublishing {
		t.Fatalf("first attempt: %+v (job %s), want a retry, still publishing", res, res.Job.Status)
	}
	if res := h.run(id, 5*time.Second); res.Job.Status != store.JobPublished {
		t.Fatalf("second attempt: job %s %+v", res.Job.Status, res.Job.Error)
	}
	if n := len(h.fake.Published(h.user.ID)); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

// Threads could not fetch the link's preview at publish: the post goes out
// without link_attachment, once, from a new container (as Threads advises);
// a post without a link_attachment just fails. Each refused container's
// status is read once, to know it was not published after all.
func TestLinkPreviewFailureDropsTheLinkAttachment(t *testing.T) {
	previewFailed := threadstest.Failure{HTTPStatus: 400, Code: -1, Subcode: 4279047, Message: "link preview failed"}
	linked := publish.Request{Text: "read this", LinkAttachment: "https://example.com/a"}
	cases := []struct {
		name       string
		req        publish.Request
		failure    threadstest.Failure
		failures   int
		wantStatus store.JobStatus
		wantCreate int
		wantReads  int
	}{
		{"link attachment dropped", linked, previewFailed, 1, store.JobPublished, 2, 1},
		{"dropped once only", linked, previewFailed, 2, store.JobFailed, 2, 2},
		{"dropped, the failure flagged transient", linked, threadstest.Failure{HTTPStatus: 400, Code: 2, Subcode: 4279047, Message: "link preview failed"},
			1, store.JobPublished, 2, 1},
		{"no link attachment to drop", publish.Request{Text: "https://example.com/a in the text"}, previewFailed, 1, store.JobFailed, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.FailNext(threadstest.EndpointPublish, tc.failures, tc.failure)
			res := h.run(h.newJob(tc.req), 5*time.Second)
			if res.Job.Status != tc.wantStatus {
				t.Fatalf("job %s (error %+v), want %s", res.Job.Status, res.Job.Error, tc.wantStatus)
			}
			if n := h.fake.Calls(threadstest.EndpointCreate); n != tc.wantCreate {
				t.Errorf("%d containers, want %d", n, tc.wantCreate)
			}
			if n := h.fake.Calls(threadstest.EndpointStatus); n != tc.wantReads {
				t.Errorf("%d container status reads, want %d", n, tc.wantReads)
			}
			posts := h.fake.Published(h.user.ID)
			if tc.wantStatus != store.JobPublished {
				if len(posts) != 0 {
					t.Errorf("%d posts, want none", len(posts))
				}
				return
			}
			if len(posts) != 1 || posts[0].Params.Has("link_attachment") || posts[0].Text != tc.req.Text || !res.Job.LinkDropped {
				t.Errorf("posts %+v, job linkDropped %v: want one post, without link_attachment", posts, res.Job.LinkDropped)
			}
		})
	}
}

func TestUnknownOutcomesNeverPublishTwice(t *testing.T) {
	cases := []struct {
		name   string
		inject func(h *harness)
	}{
		{"publish answer lost", func(h *harness) { h.fake.DropAnswerNext(threadstest.EndpointPublish, 1) }},
		{"publish 5xx", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointPublish, 2, threadstest.Failure{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"})
		}},
		{"media not found", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointPublish, 1, threadstest.Failure{HTTPStatus: 400, Code: 24, Subcode: 4279009, Message: "Media Not Found"})
		}},
		{"create answer lost", func(h *harness) { h.fake.DropAnswerNext(threadstest.EndpointCreate, 1) }},
		{"status 5xx", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointStatus, 1, threadstest.Failure{HTTPStatus: 503, Code: 1, Message: "unknown"})
		}},
		{"rate limited", func(h *harness) {
			h.fake.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 400, Code: 4, Message: "Application request limit reached"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.SetProcessing(1)
			tc.inject(h)
			id := h.newJob(publish.Request{Text: "once", ImageURL: "https://cdn.example.com/a.jpg"})
			first := h.run(id, 5*time.Second)
			if first.State != publish.Retry || first.Job.LastError == nil {
				t.Fatalf("first attempt %+v, want Retry with the error recorded", first)
			}
			res := h.runUntilDone(id)
			if res.Job.Status != store.JobPublished {
				t.Fatalf("job %+v", res.Job)
			}
			if n := h.postsWithText("once"); n != 1 {
				t.Fatalf("%d posts, want exactly 1", n)
			}
		})
	}
}

func TestRevokedTokenNeedsReauth(t *testing.T) {
	h := newHarness(t)
	h.fake.RevokeToken(h.token)
	res := h.run(h.newJob(publish.Request{Text: "x"}), time.Second)
	if res.Job.Status != store.JobFailed || res.Job.Error.Reason != publish.ReasonReauthRequired {
		t.Fatalf("job %+v", res.Job)
	}
	acct, err := h.store.GetAccount(t.Context(), h.uid, h.user.ID)
	if err != nil || acct.Status != store.StatusNeedsReauth {
		t.Fatalf("account %+v, %v", acct, err)
	}
}

func TestQuotaReadOnlyWhenThreadsRefuses(t *testing.T) {
	h := newHarness(t)
	// Happy path: two Threads calls, the quota not read.
	h.run(h.newJob(publish.Request{Text: "fine"}), time.Second)
	if c, l := h.fake.Calls(threadstest.EndpointCreate)+h.fake.Calls(threadstest.EndpointPublish), h.fake.Calls(threadstest.EndpointLimit); c != 2 || l != 0 {
		t.Fatalf("happy path: %d create/publish calls and %d limit reads, want 2 and 0", c, l)
	}

	// Quota spent: Threads refuses the publish; the limit, read then, says so.
	h.fake.SetQuotaUsage(h.user.ID, threadstest.QuotaTotal)
	id := h.newJob(publish.Request{Text: "over"})
	res := h.run(id, time.Second)
	if res.State != publish.QuotaExceeded || res.RetryAfter != threadstest.QuotaDuration*time.Second {
		t.Fatalf("result %+v", res)
	}
	if l := h.fake.Calls(threadstest.EndpointLimit); l != 1 {
		t.Errorf("%d limit reads, want 1", l)
	}
	job := h.job(id)
	if job.LeaseOwner != "" || job.Status.Terminal() || h.postsWithText("over") != 0 {
		t.Fatalf("job after the refusal: %+v", job)
	}
	// Once the quota frees up, the job publishes, once.
	h.fake.SetQuotaUsage(h.user.ID, 0)
	if res := h.runUntilDone(id); res.Job.Status != store.JobPublished || h.postsWithText("over") != 1 {
		t.Fatalf("after the quota freed: %+v", res.Job)
	}
}

func TestOldTokenRefreshedOnceUnderConcurrency(t *testing.T) {
	h := newHarness(t)
	h.saveAccount(time.Now().Add(-55*24*time.Hour), time.Now().Add(5*24*time.Hour))
	var ids []string
	for i := range 4 {
		ids = append(ids, h.newJob(publish.Request{Text: fmt.Sprint("post ", i)}))
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { h.run(id, 5*time.Second) })
	}
	wg.Wait()
	if c := h.fake.Calls(threadstest.EndpointRefresh); c != 1 {
		t.Errorf("token refreshed %d times, want 1", c)
	}
	acct, _ := h.store.GetAccount(t.Context(), h.uid, h.user.ID)
	tok, _ := h.store.OpenToken(h.uid, acct)
	if tok == h.token || time.Until(acct.ExpiresAt) < 50*24*time.Hour || time.Since(acct.TokenIssuedAt) > time.Minute {
		t.Errorf("account after refresh: expires %v issued %v (token changed: %v)", acct.ExpiresAt, acct.TokenIssuedAt, tok != h.token)
	}
	if n := len(h.fake.Published(h.user.ID)); n != 4 {
		t.Errorf("%d posts, want 4", n)
	}
}

func TestConcurrentAttemptsPublishOnce(t *testing.T) {
	h := newHarness(t)
	h.fake.SetLatency(30 * time.Millisecond)
	id := h.newJob(publish.Request{Text: "raced"})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := h.engine.Run(t.Context(), h.uid, h.user.ID, id, 5*time.Second); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	wg.Wait()
	h.fake.SetLatency(0)
	h.runUntilDone(id)
	if n := h.postsWithText("raced"); n != 1 {
		t.Fatalf("%d posts, want 1", n)
	}
}

// TestFaultInjection runs many jobs (single posts of each kind, reply
// chains, scheduled posts, some of them cancelled) through random Threads
// failures, lost answers, slow answers, attempts that die holding a chain's
// lease, and duplicate concurrent deliveries, some of them early, and checks at the fake that every post was published
// exactly once and every chain completely, in order, or failed at a
// recorded part with nothing after it; cancelled posts never appear.
func TestFaultInjection(t *testing.T) {
	h := newHarness(t)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))
	h.engine.Threads = &threads.Client{AppID: "app", AppSecret: "secret", GraphURL: h.fake.URL, HTTP: &http.Client{Timeout: 150 * time.Millisecond}}
	h.fake.SetProcessing(1)

	type jobSpec struct {
		texts     []string // one per part
		scheduled bool
		cancel    bool
	}
	const jobs = 30
	specs := map[string]*jobSpec{}
	for i := range jobs {
		text := fmt.Sprintf("fault %d", i)
		spec := &jobSpec{texts: []string{text}}
		req := publish.Request{Text: text}
		switch i % 5 {
		case 1:
			req.ImageURL = "https://cdn.example.com/i.jpg"
		case 2:
			req.Media = []publish.MediaItem{{Type: "image", URL: "https://cdn.example.com/1.jpg"}, {Type: "image", URL: "https://cdn.example.com/2.jpg"}}
		case 3, 4:
			spec.texts = []string{text + " part 1", text + " part 2", text + " part 3"}
			req = publish.Request{Thread: spec.texts}
		}
		var at time.Time
		if i%3 == 0 {
			// Due within the first rounds: some deliveries come early.
			spec.scheduled, spec.cancel = true, i%2 == 0
			at = time.Now().Add(time.Duration(rng.IntN(150)) * time.Millisecond)
		}
		specs[h.newJobAt(req, at)] = spec
	}
	endpoints := []string{threadstest.EndpointCreate, threadstest.EndpointPublish, threadstest.EndpointStatus}
	failures := []threadstest.Failure{
		{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"},
		{HTTPStatus: 400, Code: 24, Subcode: 4279009, Message: "Media Not Found"},
		{HTTPStatus: 400, Code: 17, Message: "User request limit reached"},
	}
	pending := map[string]bool{}
	for id := range specs {
		pending[id] = true
	}
	cancelled := map[string]error{} // the owner's cancels: nil, or ErrJobStarted when too late
	rounds := 0
	for round := 0; len(pending) > 0; round++ {
		if round > 150 {
			t.Fatalf("%d jobs still pending after 150 rounds", len(pending))
		}
		// Inject faults for this round.
		for range 3 {
			ep := endpoints[rng.IntN(len(endpoints))]
			switch rng.IntN(3) {
			case 0:
				h.fake.DropAnswerNext(ep, 1)
			case 1:
				h.fake.FailNext(ep, 1, failures[rng.IntN(len(failures))])
			}
		}
		if rng.IntN(4) == 0 {
			h.fake.SetLatency(200 * time.Millisecond) // answers arrive after the client gave up
		} else {
			h.fake.SetLatency(0)
		}
		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		ids := make([]string, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		for _, id := range ids {
			if spec := specs[id]; len(spec.texts) > 1 && round == 1 {
				// An attempt claims the chain and dies between parts: its
				// lease blocks the job until it runs out.
				wg.Go(func() {
					_, err := h.store.ClaimJob(t.Context(), h.uid, h.user.ID, id, "crashed-attempt", time.Now(), 300*time.Millisecond)
					if err != nil && !errors.Is(err, store.ErrJobBusy) {
						t.Errorf("ClaimJob: %v", err)
					}
				})
			}
			if spec := specs[id]; spec.cancel && round == 0 {
				// The owner cancels while deliveries may be running.
				wg.Go(func() {
					_, err := h.store.CancelJob(t.Context(), h.uid, h.user.ID, id, "cancelled_by_owner", time.Now())
					if err != nil && !errors.Is(err, store.ErrJobStarted) {
						t.Errorf("CancelJob: %v", err)
					}
					mu.Lock()
					cancelled[id] = err
					mu.Unlock()
				})
			}
			deliveries := 1 + rng.IntN(3) // duplicate, concurrent deliveries
			for range deliveries {
				wg.Go(func() {
					res, err := h.engine.Run(t.Context(), h.uid, h.user.ID, id, 300*time.Millisecond)
					if err == nil && res.State == publish.Done {
						mu.Lock()
						delete(pending, id)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		time.Sleep(5 * time.Millisecond)
		rounds = round + 1
	}
	t.Logf("%d rounds", rounds)
	h.fake.SetLatency(0)
	parentOf := map[string]string{}
	idOfText := map[string]string{}
	for _, p := range h.fake.Published(h.user.ID) {
		parentOf[p.MediaID], idOfText[p.Text] = p.ReplyToID, p.MediaID
	}
	for id, spec := range specs {
		job := h.job(id)
		posted := 0 // parts posted, in order, each once
		for _, text := range spec.texts {
			if n := h.postsWithText(text); n > 1 {
				t.Errorf("job %s: %q posted %d times", id, text, n)
			} else if n == 1 {
				posted++
			}
		}
		for i := 1; i < posted; i++ {
			if parentOf[idOfText[spec.texts[i]]] != idOfText[spec.texts[i-1]] {
				t.Errorf("job %s: part %d does not reply to part %d", id, i, i-1)
			}
		}
		if posted > 0 && h.postsWithText(spec.texts[posted-1]) == 0 {
			t.Errorf("job %s: parts posted out of order", id)
		}
		switch job.Status {
		case store.JobPublished:
			if posted != len(spec.texts) {
				t.Errorf("job %s published with %d of %d parts posted", id, posted, len(spec.texts))
			}
		case store.JobFailed:
			if job.Error == nil || job.Error.Reason == "" {
				t.Errorf("failed job %s without a reason", id)
			}
			// Failed at part k: the parts before it are posted; from k on
			// nothing. (A chain broken by a lost answer records the part
			// after the one published, so the same count holds.)
			if posted != job.Part {
				t.Errorf("job %s failed at part %d (%s) with %d parts posted", id, job.Part, job.Error.Reason, posted)
			}
		case store.JobCancelled:
			if err, asked := cancelled[id]; !asked || err != nil || posted != 0 {
				t.Errorf("job %s cancelled (asked: %v) with %d parts posted", id, spec.cancel, posted)
			}
		default:
			t.Errorf("job %s ended in %s", id, job.Status)
		}
		if err, asked := cancelled[id]; asked && err == nil && job.Status != store.JobCancelled {
			t.Errorf("job %s: cancel accepted, but the job ended %s", id, job.Status)
		}
	}
}
