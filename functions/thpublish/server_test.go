package thpublish_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"

	"threadsfunctions.dev/functions/thpublish"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/fakes/cloudtasksfake"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
	"threadsfunctions.dev/shared/threads/threadstest"
)

const invoker = "tasks-invoker@demo-threadsfn.iam.gserviceaccount.com"

type harness struct {
	t       *testing.T
	env     testenv.Env
	url     string
	threads *threadstest.Server
	tasks   *cloudtasksfake.Server
	store   *store.Store
	user    testenv.User
	// faults fails the function's Firestore RPCs (harnessOptions.firestoreFaults).
	faults *testenv.FirestoreFaults
}

// newHarness runs thPublish as deployed (app.Lazy, real clients) against the
// emulators, a fake Threads and the Cloud Tasks stand-in, which really
// delivers tasks back to the function with signed OIDC tokens.
func newHarness(t *testing.T) *harness { return newHarnessWith(t, harnessOptions{}) }

// newHarnessBudget sets how long a user's request may wait on media.
func newHarnessBudget(t *testing.T, userBudget time.Duration) *harness {
	return newHarnessWith(t, harnessOptions{userBudget: userBudget})
}

// harnessOptions change the harness's defaults.
type harnessOptions struct {
	userBudget time.Duration // how long a user's request may wait on media
	gifs       bool          // the gif switch
	// ownProject runs the function on a Firestore project of its own (the
	// sweep reads every user's jobs); its users are then unusable.
	ownProject bool
	// holdTasks keeps tasks in the stand-in: the test delivers them.
	holdTasks bool
	// wrapThreads, if set, wraps the fake Threads' handler (then served
	// from a server of its own).
	wrapThreads func(http.Handler) http.Handler
	// firestoreFaults gives the function a Firestore client whose RPCs the
	// test can make fail (harness.faults).
	firestoreFaults bool
}

func newHarnessWith(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	e := testenv.Require(t)
	if o.ownProject {
		e.ProjectID = "demo-sweep-" + testenv.RandomID(t)
	}
	fake := threadstest.Start(t, "app", "secret", "https://fn.example.com/cb")
	graphURL := fake.URL
	if o.wrapThreads != nil {
		wrapped := httptest.NewServer(o.wrapThreads(fake.Handler()))
		t.Cleanup(wrapped.Close)
		graphURL = wrapped.URL
	}
	var ctOpts []cloudtasksfake.Option
	if !o.holdTasks {
		ctOpts = append(ctOpts, cloudtasksfake.WithDelivery(cloudtasksfake.DeliveryConfig{
			MaxAttempts: 20, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		}))
	}
	ct := cloudtasksfake.Start(t, ctOpts...)
	keyring, keyText := testenv.Keyring(t, "k1")

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + lis.Addr().String() + "/"
	opts := thpublish.Options
	opts.Lookup = e.Lookup(map[string]string{
		"THREADS_GRAPH_URL":     graphURL,
		"TOKEN_ENCRYPTION_KEY":  keyText,
		"CORS_ALLOWED_ORIGINS":  "https://app.example.com",
		"TASKS_QUEUE":           "projects/" + e.ProjectID + "/locations/local/queues/publish",
		"TASKS_TARGET_URL":      url,
		"TASKS_SERVICE_ACCOUNT": invoker,
		"TASKS_EMULATOR_HOST":   ct.Addr(),
	})
	opts.Logger = logging.New(io.Discard, slog.LevelInfo)
	var (
		faulty *firestore.Client
		faults *testenv.FirestoreFaults
	)
	if o.firestoreFaults {
		faulty, faults = e.FaultyFirestore(t)
	}
	handler := app.Lazy(thpublish.Name, opts, func(d *app.Deps) (http.Handler, error) {
		if faulty != nil {
			// A bound short enough for an outage test, long enough for
			// the emulator on a busy machine.
			d.Store = store.New(faulty, d.Keyring, store.WithOpTimeout(3*time.Second))
		}
		s := thpublish.NewServer(d)
		// Short waits, so tests need not sit through production delays.
		s.Engine.WaitDelay, s.Engine.RetryDelay = 50*time.Millisecond, 50*time.Millisecond
		s.Engine.Backoff = []time.Duration{5 * time.Millisecond}
		s.UserBudget = o.userBudget
		s.GIFs = o.gifs
		return d.Route(thpublish.Methods...).Handler(s.Handle), nil
	})
	srv := httptest.NewUnstartedServer(apicheck.Handler(t, thpublish.Name, handler))
	srv.Listener.Close()
	srv.Listener = lis
	srv.Start()
	t.Cleanup(srv.Close)
	return &harness{t: t, env: e, url: url, threads: fake, tasks: ct, store: store.New(e.Firestore(t), keyring), user: e.SignUp(t), faults: faults}
}

func (h *harness) connect(id string) string {
	h.t.Helper()
	tok, err := h.tryConnect(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// tryConnect is connect for a goroutine other than the test's (a hook).
func (h *harness) tryConnect(id string) (string, error) {
	u := threadstest.User{ID: id, Username: "u" + id}
	tok := h.threads.AddAccount(u)
	now := time.Now()
	return tok, h.store.SaveAccount(h.t.Context(), h.user.UID, store.Account{
		AccountID: id, TokenType: "bearer", ExpiresIn: 5184000, ExpiresAt: now.Add(60 * 24 * time.Hour),
		TokenIssuedAt: now, UpdatedAt: now, Status: store.StatusActive,
	}, tok)
}

// newKey is an Idempotency-Key header unique to the test run.
func newKey(t *testing.T, prefix string) map[string]string {
	return map[string]string{"Idempotency-Key": prefix + "-" + testenv.RandomID(t)}
}

// newFaultyHarness is a harness whose function's Firestore RPCs the test
// can make fail (h.faults), with the account acct connected.
func newFaultyHarness(t *testing.T, acct string) *harness {
	h := newHarnessWith(t, harnessOptions{firestoreFaults: true})
	h.connect(acct)
	return h
}

// callerClient is the tests' caller. It gives up on an answer after 45 s: a
// function holding a request (until its timeout, or until the Firestore
// client gives up a write after its own minute) fails the test rather than
// hang it or pass late.
var callerClient = &http.Client{Timeout: 45 * time.Second}

type answer struct {
	OK        bool     `json:"ok"`
	ID        string   `json:"id"`
	IDs       []string `json:"ids"`
	JobID     string   `json:"jobId"`
	AccountID string   `json:"accountId"`
	Status    string   `json:"status"`
	PublishAt string   `json:"publishAt"`
	Error     struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (h *harness) post(body string, header map[string]string) (*http.Response, answer) {
	h.t.Helper()
	return h.do(http.MethodPost, h.url, body, header)
}

func (h *harness) do(method, url, body string, header map[string]string) (*http.Response, answer) {
	h.t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.user.IDToken)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := callerClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &a); err != nil {
		h.t.Fatalf("answer not JSON: %q", b)
	}
	return resp, a
}

// deliver sends a task held in the stand-in to thPublish as Cloud Tasks
// would (its OIDC token included) and returns the answer's status.
func (h *harness) deliver(task *cloudtaskspb.Task) int {
	h.t.Helper()
	req, err := h.tasks.DeliveryRequest(h.t.Context(), task, h.url)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// threadsHook runs a function once, on the next request the fake Threads
// gets (harnessOptions{wrapThreads: hook.wrap}), before serving it; the
// function reports whether it answered the request itself.
type threadsHook struct {
	mu sync.Mutex
	fn func(http.ResponseWriter, *http.Request) bool
}

func (k *threadsHook) set(fn func(http.ResponseWriter, *http.Request) bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fn = fn
}

func (k *threadsHook) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		fn := k.fn
		k.fn = nil
		k.mu.Unlock()
		if fn == nil || !fn(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// deliverAll delivers every task the stand-in holds (holdTasks), each
// required to be acknowledged (200).
func (h *harness) deliverAll() {
	h.t.Helper()
	for _, task := range h.tasks.Tasks() {
		if code := h.deliver(task); code != http.StatusOK {
			h.t.Errorf("delivery of %s: %d", task.GetName(), code)
		}
	}
}

// markNeedsReauth marks the account as Threads' refusal of its token would.
func (h *harness) markNeedsReauth(accountID string) error {
	a, err := h.store.GetAccount(h.t.Context(), h.user.UID, accountID)
	if err != nil {
		return err
	}
	if ok, err := h.store.MarkNeedsReauth(h.t.Context(), h.user.UID, accountID, a.TokenIssuedAt, time.Now()); err != nil || !ok {
		return fmt.Errorf("mark needs reauth: %v, %w", ok, err)
	}
	return nil
}

func (h *harness) job(accountID, jobID string) *store.Job {
	h.t.Helper()
	j, err := h.store.GetJob(h.t.Context(), h.user.UID, accountID, jobID)
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

// waitJob lets the stand-in deliver tasks (delayed ones included) until
// the job ends, within a bound.
func (h *harness) waitJob(accountID, jobID string) *store.Job {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), 60*time.Second)
	defer cancel()
	for {
		if err := h.tasks.WaitIdle(ctx); err != nil {
			h.t.Fatalf("tasks not idle: %v (deliveries %+v)", err, h.tasks.Deliveries())
		}
		if j := h.job(accountID, jobID); j.Status.Terminal() {
			return j
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("job %s not done; deliveries %+v", jobID, h.tasks.Deliveries())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tasksDue returns when the tasks whose names end with suffix are due.
func (h *harness) tasksDue(suffix string) []time.Time {
	var due []time.Time
	for _, task := range h.tasks.Tasks() {
		if strings.HasSuffix(task.GetName(), suffix) {
			due = append(due, task.GetScheduleTime().AsTime())
		}
	}
	return due
}

// taskBody is what Cloud Tasks delivers for the user's job.
func (h *harness) taskBody(accountID, jobID string) string {
	return `{"uid":"` + h.user.UID + `","accountId":"` + accountID + `","jobId":"` + jobID + `"}`
}

func TestPublishTextAndImage(t *testing.T) {
	h := newHarness(t)
	acct := "17841400000000001"
	h.connect(acct)
	h.threads.SetProcessing(1)
	for _, body := range []string{`{"text":"hello"}`, `{"text":"pic","imageUrl":"https://cdn.example.com/a.jpg"}`} {
		resp, a := h.post(body, nil)
		if resp.StatusCode != 200 || !a.OK || a.ID == "" || a.Status != "published" || a.JobID == "" {
			t.Fatalf("%s: %d %+v", body, resp.StatusCode, a)
		}
		if j := h.job(acct, a.JobID); j.Status != store.JobPublished || j.MediaID != a.ID {
			t.Errorf("job %+v", j)
		}
	}
	if n := len(h.threads.Published(acct)); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
	// Done in the request: no task at all (the sweep covers an instance
	// that dies mid-attempt).
	if n := h.tasks.CreateCount(); n != 0 {
		t.Errorf("%d tasks created, want none", n)
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	acct := "17841400000000002"
	h.connect(acct)
	_, first := h.post(`{"text":"once"}`, map[string]string{"Idempotency-Key": "key-1"})
	_, again := h.post(`{"text":"once","idempotencyKey":"key-1"}`, nil)
	if !first.OK || again.ID != first.ID || again.JobID != first.JobID {
		t.Fatalf("first %+v, repeat %+v", first, again)
	}
	resp, other := h.post(`{"text":"different"}`, map[string]string{"Idempotency-Key": "key-1"})
	if resp.StatusCode != 422 || other.Error.Code != "idempotency_key_reused" {
		t.Errorf("reused key with another body: %d %+v", resp.StatusCode, other)
	}
	resp, conflict := h.post(`{"text":"once","idempotencyKey":"key-2"}`, map[string]string{"Idempotency-Key": "key-1"})
	if resp.StatusCode != 400 || conflict.Error.Code != "conflicting_fields" {
		t.Errorf("header and field differ: %d %+v", resp.StatusCode, conflict)
	}
	if n := len(h.threads.Published(acct)); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

// The account is picked when the user has one, named by accountId when
// several; one that must be connected again gets no job at all.
func TestAccountChoice(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{`{"text":"x"}`, `{"text":"x","accountId":"17841400000000003"}`} {
		if resp, a := h.post(body, nil); resp.StatusCode != 404 || a.Error.Code != "no_account" {
			t.Errorf("no account, %s: %d %+v", body, resp.StatusCode, a)
		}
	}
	for _, id := range []string{"17841400000000003", "17841400000000004", "17841400000000006"} {
		h.connect(id)
	}
	if err := h.markNeedsReauth("17841400000000003"); err != nil {
		t.Fatal(err)
	}
	if ok, err := h.store.RevokeIfConnectedBefore(t.Context(), h.user.UID, "17841400000000006", time.Now().Add(time.Second), time.Now()); err != nil || !ok {
		t.Fatalf("revoke: %v, %v", ok, err)
	}
	cases := []struct {
		name       string
		accountID  string
		wantStatus int
		wantCode   string
	}{
		{"several, none named", "", 400, "missing_account"},
		{"not connected", "999", 404, "account_not_found"},
		{"named", "17841400000000004", 200, ""},
		{"needs reauth", "17841400000000003", 409, "reauth_required"},
		{"revoked", "17841400000000006", 409, "reauth_required"},
	}
	for _, tc := range cases {
		body := `{"text":"x"}`
		if tc.accountID != "" {
			body = `{"text":"x","accountId":"` + tc.accountID + `"}`
		}
		key := "choice-" + strings.ReplaceAll(tc.name, " ", "-")
		resp, a := h.post(body, map[string]string{"Idempotency-Key": key})
		if resp.StatusCode != tc.wantStatus || a.Error.Code != tc.wantCode {
			t.Errorf("%s: %d %+v, want %d %q", tc.name, resp.StatusCode, a, tc.wantStatus, tc.wantCode)
		}
		if tc.accountID == "" {
			continue // refused before any account was chosen
		}
		_, err := h.store.GetJob(t.Context(), h.user.UID, tc.accountID, publish.JobIDFor(h.user.UID, key))
		if refused := tc.wantStatus != 200; refused && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: refused, yet its job reads %v (want none)", tc.name, err)
		} else if !refused && err != nil {
			t.Errorf("%s: its job: %v", tc.name, err)
		}
	}
	if n := len(h.threads.Published("17841400000000004")); n != 1 {
		t.Errorf("%d posts on the chosen account", n)
	}
}

func TestValidationBeforeThreads(t *testing.T) {
	h := newHarness(t)
	h.connect("17841400000000005")
	long := strings.Repeat("é", 251) // 502 bytes
	cases := []struct{ body, code string }{
		{`{}`, publish.CodeEmptyPost},
		{`{"text":"` + long + `"}`, publish.CodeTextTooLong},
		{`{"text":"a http://1.example b http://2.example c http://3.example d http://4.example e http://5.example f http://6.example"}`, publish.CodeTooManyLinks},
		{`{"imageUrl":"http://cdn.example.com/a.jpg"}`, publish.CodeInvalidMediaURL},
		{`{"imageUrl":"https://cdn.example.com/a.jpg","videoUrl":"https://cdn.example.com/v.mp4"}`, publish.CodeConflictingFields},
		{`{"media":[{"type":"image","url":"https://cdn.example.com/1.jpg"}]}`, publish.CodeInvalidCarousel},
		{`{"media":[{"type":"gif","url":"https://a.example/1"},{"type":"image","url":"https://a.example/2"}]}`, publish.CodeInvalidCarousel},
		{`{"text":"q","poll":{"options":["only"]}}`, publish.CodeInvalidPoll},
		{`{"text":"q","poll":{"options":["a","b"]},"linkAttachment":"https://x.example"}`, publish.CodeConflictingFields},
		{`{"text":"q","replyControl":"nobody"}`, publish.CodeInvalidReplyCtrl},
		{`{"text":"q","topicTag":"a.b"}`, publish.CodeInvalidTopicTag},
		{`{"text":"q","replyToId":"1","quotePostId":"2"}`, publish.CodeConflictingFields},
		{`{"text":"q","colour":"red"}`, "unknown_field"},
		{`{"text":5}`, "invalid_json"},
	}
	for _, tc := range cases {
		resp, a := h.post(tc.body, nil)
		if resp.StatusCode != 400 || a.Error.Code != tc.code {
			t.Errorf("%s: %d %+v, want 400 %s", tc.body, resp.StatusCode, a, tc.code)
		}
	}
	if c := h.threads.Calls(threadstest.EndpointCreate) + h.threads.Calls(threadstest.EndpointLimit); c != 0 {
		t.Errorf("Threads called %d times for invalid requests", c)
	}
}

func TestTransientFailureRetriedThroughCloudTasks(t *testing.T) {
	h := newHarness(t)
	acct := "17841400000000006"
	h.connect(acct)
	h.threads.FailNext(threadstest.EndpointPublish, 2, threadstest.Failure{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"})
	resp, a := h.post(`{"text":"retried"}`, nil)
	if resp.StatusCode != 202 || a.Status != "pending" || a.JobID == "" {
		t.Fatalf("first answer %d %+v", resp.StatusCode, a)
	}
	if j := h.waitJob(acct, a.JobID); j.Status != store.JobPublished || j.MediaID == "" {
		t.Fatalf("job after tasks: %+v", j)
	}
	if n := len(h.threads.Published(acct)); n != 1 {
		t.Fatalf("%d posts, want 1", n)
	}
	tasks := h.tasks.Tasks()
	if len(tasks) == 0 || tasks[0].GetHttpRequest().GetOidcToken().GetServiceAccountEmail() != invoker {
		t.Errorf("task not created with the invoker's OIDC token: %+v", tasks)
	}
}

func TestTaskDeliveryNeedsOIDC(t *testing.T) {
	h := newHarness(t)
	acct := "17841400000000007"
	h.connect(acct)
	h.threads.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 503, Code: 1, Message: "x"})
	_, a := h.post(`{"text":"guarded"}`, nil)
	body := h.taskBody(acct, a.JobID)
	forged, _ := h.tasks.IDToken("https://wrong.example/", invoker)
	for name, auth := range map[string]string{
		"headers only":   "",
		"user id token":  "Bearer " + h.user.IDToken,
		"wrong audience": "Bearer " + forged,
	} {
		resp, out := h.post(body, map[string]string{"X-CloudTasks-QueueName": "publish", "X-CloudTasks-TaskName": "x", "Authorization": auth})
		if resp.StatusCode != 401 || out.Error.Code != "task_unauthorized" {
			t.Errorf("%s: %d %+v", name, resp.StatusCode, out)
		}
	}
	h.waitJob(acct, a.JobID) // the genuine task still publishes it
	if n := len(h.threads.Published(acct)); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

func TestRevokedTokenAndQuota(t *testing.T) {
	h := newHarness(t)
	tok := h.connect("17841400000000008")
	h.threads.SetQuotaUsage("17841400000000008", threadstest.QuotaTotal)
	resp, a := h.post(`{"text":"too many"}`, nil)
	if resp.StatusCode != 429 || a.Error.Code != "quota_exceeded" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("quota: %d %+v %v", resp.StatusCode, a, resp.Header)
	}
	h.threads.SetQuotaUsage("17841400000000008", 0)
	h.threads.RevokeToken(tok)
	resp, a = h.post(`{"text":"revoked"}`, nil)
	if resp.StatusCode != 409 || a.Error.Code != "reauth_required" {
		t.Errorf("revoked: %d %+v", resp.StatusCode, a)
	}
	if acct, _ := h.store.GetAccount(t.Context(), h.user.UID, "17841400000000008"); acct.Status != store.StatusNeedsReauth {
		t.Errorf("account status %q", acct.Status)
	}
}

// A repeat gets the first request's result although the account has since
// come to need reauth; a new request is refused for it.
func TestRepeatAnsweredAfterTheAccountNeedsReauth(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("accountId named %v", named), func(t *testing.T) {
			h := newHarness(t)
			acct := "17841400000000012"
			h.connect(acct)
			body := `{"text":"before reauth"}`
			if named {
				body = `{"text":"before reauth","accountId":"` + acct + `"}`
			}
			key := newKey(t, "reauth")
			resp, first := h.post(body, key)
			if resp.StatusCode != 200 || first.Status != "published" {
				t.Fatalf("first: %d %+v", resp.StatusCode, first)
			}
			if err := h.markNeedsReauth(acct); err != nil {
				t.Fatal(err)
			}
			resp, again := h.post(body, key)
			if resp.StatusCode != 200 || again.Status != "published" || again.ID != first.ID || again.JobID != first.JobID {
				t.Errorf("repeat: %d %+v, want the first answer %+v", resp.StatusCode, again, first)
			}
			resp, other := h.post(body, newKey(t, "reauth-new"))
			if resp.StatusCode != 409 || other.Error.Code != "reauth_required" {
				t.Errorf("new key: %d %+v, want 409 reauth_required", resp.StatusCode, other)
			}
			if n := len(h.threads.Published(acct)); n != 1 {
				t.Errorf("%d posts, want 1", n)
			}
		})
	}
}

// A repeat naming no account, like its first request, is answered from its
// job after the user connected a second account (which makes a new request
// naming none 400 missing_account), and posts nothing.
func TestRepeatAnsweredAfterASecondAccountIsConnected(t *testing.T) {
	h := newHarness(t)
	acct, second := "17841400000000013", "17841400000000014"
	h.connect(acct)
	body, key := `{"text":"before the second account"}`, newKey(t, "second")
	resp, first := h.post(body, key)
	if resp.StatusCode != 200 || first.Status != "published" {
		t.Fatalf("first: %d %+v", resp.StatusCode, first)
	}
	h.connect(second)
	resp, again := h.post(body, key)
	if resp.StatusCode != 200 || again.Status != "published" || again.ID != first.ID || again.JobID != first.JobID || again.AccountID != acct {
		t.Errorf("repeat: %d %+v, want the first answer %+v", resp.StatusCode, again, first)
	}
	resp, other := h.post(body, newKey(t, "second-new"))
	if resp.StatusCode != 400 || other.Error.Code != "missing_account" {
		t.Errorf("new key: %d %+v, want 400 missing_account", resp.StatusCode, other)
	}
	if n, m := len(h.threads.Published(acct)), len(h.threads.Published(second)); n != 1 || m != 0 {
		t.Errorf("%d and %d posts, want 1 and 0", n, m)
	}
}

// A repeat refused by a check of the present is answered from its job; when
// Firestore fails that lookup, the answer is 503 (try again), never the
// refusal, which the caller would take as final although its post is live.
func TestRepeatLookupFailureIsUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		named bool
		fail  string // the lookup's RPC made to fail
		skip  int    // its calls let through first (the account check's own)
	}{
		{"the job's read", true, testenv.RPCBatchGet, 1},
		{"the accounts' listing", false, testenv.RPCRunQuery, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acct := "17841400000000032"
			h := newFaultyHarness(t, acct)
			body := `{"text":"lookup fails"}`
			if tt.named {
				body = `{"text":"lookup fails","accountId":"` + acct + `"}`
			}
			key := newKey(t, "lookup")
			if resp, first := h.post(body, key); resp.StatusCode != 200 || first.Status != "published" {
				t.Fatalf("first: %d %+v", resp.StatusCode, first)
			}
			if err := h.markNeedsReauth(acct); err != nil {
				t.Fatal(err)
			}
			before := h.faults.Calls(tt.fail)
			// A code the client does not retry for reads: the lookup fails.
			h.faults.FailNext(tt.fail, tt.skip, 1, codes.ResourceExhausted)
			resp, again := h.post(body, key)
			if resp.StatusCode != 503 || again.Error.Code != "unavailable" {
				t.Errorf("repeat: %d %+v, want 503 unavailable", resp.StatusCode, again)
			}
			if h.faults.Calls(tt.fail) <= before+tt.skip {
				t.Errorf("%s was not called past the account check", tt.fail)
			}
			if resp, again := h.post(body, key); resp.StatusCode != 200 || again.Status != "published" {
				t.Errorf("repeat once Firestore answers: %d %+v", resp.StatusCode, again)
			}
		})
	}
}

// A repeat whose account check cannot read Firestore is answered 503 at
// once, without looking for its job: in an outage that second read would
// only double the caller's wait for the same answer.
func TestUnreadableAccountsAreNotReadAgainForARepeat(t *testing.T) {
	acct := "17841400000000034"
	h := newFaultyHarness(t, acct)
	body := `{"text":"read once"}`
	key := newKey(t, "read-once")
	if resp, first := h.post(body, key); resp.StatusCode != 200 || first.Status != "published" {
		t.Fatalf("first: %d %+v", resp.StatusCode, first)
	}
	before := h.faults.Calls(testenv.RPCRunQuery)
	// Failed once, with a code the client does not retry: one call per read.
	h.faults.FailNext(testenv.RPCRunQuery, 0, 1, codes.ResourceExhausted)
	resp, again := h.post(body, key)
	if resp.StatusCode != 503 || again.Error.Code != "unavailable" {
		t.Errorf("repeat: %d %+v, want 503 unavailable", resp.StatusCode, again)
	}
	if n := h.faults.Calls(testenv.RPCRunQuery) - before; n != 1 {
		t.Errorf("the accounts were read %d times, want once", n)
	}
}

// A Firestore outage, from the start of a publish or from its job's
// creation, is answered 503 unavailable once the store's bound has passed,
// not held until the function's timeout (whose answer is the platform's,
// not JSON); nothing is posted, and the same request repeated once Firestore
// is back publishes once.
func TestFirestoreOutageIsUnavailable(t *testing.T) {
	tests := []struct{ name, rpc string }{
		{"listing the accounts", testenv.RPCRunQuery},
		{"creating the job", testenv.RPCCommit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acct := "17841400000000033"
			h := newFaultyHarness(t, acct)
			body := `{"text":"through an outage"}`
			key := newKey(t, "outage")
			// Unavailable: the code the client retries by itself, for ever on reads.
			h.faults.FailNext(tt.rpc, 0, math.MaxInt, codes.Unavailable)
			resp, a := h.post(body, key)
			if resp.StatusCode != 503 || a.Error.Code != "unavailable" {
				t.Errorf("during the outage: %d %+v, want 503 unavailable", resp.StatusCode, a)
			}
			if h.faults.Calls(tt.rpc) == 0 {
				t.Errorf("%s was never called", tt.rpc)
			}
			if n := len(h.threads.Published(acct)); n != 0 {
				t.Errorf("%d posts during the outage", n)
			}
			h.faults.FailNext(tt.rpc, 0, 0, codes.OK) // Firestore is back
			if resp, a := h.post(body, key); resp.StatusCode != 200 || a.Status != "published" {
				t.Errorf("repeated after the outage: %d %+v", resp.StatusCode, a)
			}
			if n := len(h.threads.Published(acct)); n != 1 {
				t.Errorf("%d posts, want 1", n)
			}
		})
	}
}

// Threads refuses the token an attempt holds (190) while the user has just
// connected the account again: the account stays active and the post is
// tried again with the new token, not failed as reauth_required.
func TestTokenRefusedAfterAReconnectionRetriesWithTheNewToken(t *testing.T) {
	var next threadsHook
	h := newHarnessWith(t, harnessOptions{wrapThreads: next.wrap})
	acct := "17841400000000015"
	old := h.connect(acct)
	h.threads.RevokeToken(old)
	reconnected := make(chan error, 1)
	next.set(func(http.ResponseWriter, *http.Request) bool {
		_, err := h.tryConnect(acct) // between the attempt's read of the account and Threads' answer
		reconnected <- err
		return false
	})
	resp, a := h.post(`{"text":"after reconnecting"}`, nil)
	if err := <-reconnected; err != nil {
		t.Fatalf("reconnecting: %v", err)
	}
	if resp.StatusCode != 202 || a.Status != "pending" {
		t.Fatalf("%d %+v, want 202 pending (a retry with the new token)", resp.StatusCode, a)
	}
	if j := h.waitJob(acct, a.JobID); j.Status != store.JobPublished {
		t.Fatalf("job %s %+v, want published", j.Status, j.Error)
	}
	if got, _ := h.store.GetAccount(t.Context(), h.user.UID, acct); got.Status != store.StatusActive {
		t.Errorf("account %s, want active", got.Status)
	}
	if n := len(h.threads.Published(acct)); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

// A text post whose link preview Threads cannot fetch at publish is
// published without its link_attachment, in the same request.
func TestLinkPreviewFailurePublishesWithoutTheLink(t *testing.T) {
	h := newHarness(t)
	acct := "17841400000000013"
	h.connect(acct)
	h.threads.FailNext(threadstest.EndpointPublish, 1, threadstest.Failure{HTTPStatus: 400, Code: -1, Subcode: 4279047, Message: "link preview failed"})
	resp, a := h.post(`{"text":"read this","linkAttachment":"https://example.com/a"}`, nil)
	if resp.StatusCode != 200 || a.Status != "published" {
		t.Fatalf("%d %+v, want 200 published", resp.StatusCode, a)
	}
	posts := h.threads.Published(acct)
	if len(posts) != 1 || posts[0].Params.Has("link_attachment") {
		t.Errorf("posts %+v, want one, without link_attachment", posts)
	}
}

// A caller that goes away mid-attempt cancels the attempt; the job is
// handed to a task at once all the same (not left for the sweep, minutes
// later), and the task publishes it once.
func TestAbandonedRequestHandsTheJobToATask(t *testing.T) {
	var next threadsHook
	h := newHarnessWith(t, harnessOptions{wrapThreads: next.wrap})
	acct := "17841400000000011"
	h.connect(acct)
	key := "gone-" + testenv.RandomID(t)
	ctx, cancel := context.WithCancel(t.Context())
	followed := make(chan bool, 1) // whether the function's Threads call was cancelled with the request
	next.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/threads") {
			return false
		}
		cancel() // the caller gives up while the container is being created
		// The server sees the function's call go only once it has read the
		// request's body.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done(): // the function's call, cancelled with its request
			followed <- true
		case <-time.After(5 * time.Second):
			followed <- false
		}
		return true
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.url, strings.NewReader(`{"imageUrl":"https://cdn.example.com/gone.jpg"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.user.IDToken)
	req.Header.Set("Idempotency-Key", key)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the abandoned request was answered %d", resp.StatusCode)
	}
	if !<-followed {
		t.Fatal("the function's Threads call went on after its caller left")
	}
	jobID := publish.JobIDFor(h.user.UID, key)
	deadline := time.Now().Add(10 * time.Second)
	for h.tasks.CreateCount() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h.tasks.CreateCount() == 0 {
		t.Fatalf("no task created for the abandoned job (it would wait for the sweep)")
	}
	job := h.waitJob(acct, jobID)
	if job.Status != store.JobPublished {
		t.Fatalf("job %s: %+v", job.Status, job.Error)
	}
	if n := len(h.threads.Published(acct)); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

// A post refused for a spent quota is answered 429, and its job ends
// there, failed: nothing (not the sweep, not a task queued for it before)
// posts it later, when the user, told to try again, may have posted it
// anew. A repeat with its key is answered that it failed.
func TestQuotaRefusalEndsTheJob(t *testing.T) {
	for _, body := range []string{`{"text":"over quota"}`, `{"imageUrl":"https://cdn.example.com/q.jpg"}`} {
		t.Run(body, func(t *testing.T) {
			h := newHarness(t)
			acct := "17841400000000010"
			h.connect(acct)
			h.threads.SetQuotaUsage(acct, threadstest.QuotaTotal)
			key := newKey(t, "quota")
			resp, a := h.post(body, key)
			if resp.StatusCode != 429 || a.Error.Code != "quota_exceeded" || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("over quota: %d %+v, want 429 quota_exceeded with Retry-After", resp.StatusCode, a)
			}
			job := h.job(acct, publish.JobIDFor(h.user.UID, key["Idempotency-Key"]))
			if job.Status != store.JobFailed || job.Error == nil || job.Error.Reason != publish.ReasonQuotaExceeded || !job.DueBy.IsZero() {
				t.Fatalf("job after 429: %s %+v, dueBy %v; want failed quota_exceeded, due never", job.Status, job.Error, job.DueBy)
			}
			h.threads.SetQuotaUsage(acct, 0)
			if resp, a = h.post(body, key); resp.StatusCode != 422 || a.Error.Code != "quota_exceeded" {
				t.Errorf("repeat with the key: %d %+v, want 422 quota_exceeded (the job failed)", resp.StatusCode, a)
			}
			if resp, a = h.post(body, newKey(t, "quota-again")); resp.StatusCode != 200 || a.Status != "published" {
				t.Fatalf("published again under a new key: %d %+v", resp.StatusCode, a)
			}
			if n := len(h.threads.Published(acct)); n != 1 {
				t.Errorf("%d posts, want 1", n)
			}
		})
	}
}

// A job that may have posted already (its publish answer was lost) is
// never ended for the quota: its repeat, refused a status read for a limit
// with the quota now spent (by that very post, say), is answered 202
// pending, and the job goes on (its status read finds the post) once a
// task takes it up: one post, and nobody told that nothing was posted.
func TestQuotaNeverEndsAJobThatMayHavePosted(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{holdTasks: true})
	acct := "17841400000000016"
	h.connect(acct)
	h.threads.DropAnswerNext(threadstest.EndpointPublish, 1)
	key := newKey(t, "unsettled")
	body := `{"text":"answer lost"}`
	if resp, a := h.post(body, key); resp.StatusCode != 202 || a.Status != "pending" {
		t.Fatalf("first: %d %+v, want 202 pending (outcome unknown)", resp.StatusCode, a)
	}
	jobID := publish.JobIDFor(h.user.UID, key["Idempotency-Key"])
	if j := h.job(acct, jobID); j.Status != store.JobPublishing {
		t.Fatalf("job %s, want publishing", j.Status)
	}
	h.threads.SetQuotaUsage(acct, threadstest.QuotaTotal)
	h.threads.FailNext(threadstest.EndpointStatus, 1, threadstest.Failure{HTTPStatus: 400, Code: 4, Message: "Application request limit reached"})
	resp, a := h.post(body, key)
	if resp.StatusCode != 202 || a.Status != "pending" {
		t.Fatalf("repeat: %d %+v, want 202 pending", resp.StatusCode, a)
	}
	if j := h.job(acct, jobID); j.Status.Terminal() {
		t.Fatalf("job ended %s %+v, want it to go on", j.Status, j.Error)
	}
	h.deliverAll()
	if j := h.job(acct, jobID); j.Status != store.JobPublished {
		t.Errorf("job %s %+v, want published (found by its status)", j.Status, j.Error)
	}
	if n := len(h.threads.Published(acct)); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

// A job answered 202 (its task queued) whose repeat then finds the quota
// spent is answered 429 and ends: the task queued before finds it ended and
// posts nothing.
func TestQuotaRefusedRepeatStopsAQueuedTask(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{userBudget: time.Millisecond, holdTasks: true})
	acct := "17841400000000014"
	h.connect(acct)
	h.threads.SetProcessing(3)
	body := `{"imageUrl":"https://cdn.example.com/slow.jpg"}`
	key := newKey(t, "queued")
	if resp, a := h.post(body, key); resp.StatusCode != 202 || a.Status != "pending" {
		t.Fatalf("first: %d %+v, want 202 pending", resp.StatusCode, a)
	}
	queued := h.tasks.Tasks()
	if len(queued) != 1 {
		t.Fatalf("%d tasks queued, want 1", len(queued))
	}
	h.threads.SetProcessing(0)
	h.threads.SetQuotaUsage(acct, threadstest.QuotaTotal)
	// The repeat waits for the container (long enough budget for 3 polls),
	// then finds the quota spent.
	for i := 0; ; i++ {
		resp, a := h.post(body, key)
		if resp.StatusCode == 429 && a.Error.Code == "quota_exceeded" {
			break
		}
		if resp.StatusCode != 202 || i == 20 {
			t.Fatalf("repeat: %d %+v, want 429 quota_exceeded", resp.StatusCode, a)
		}
	}
	h.threads.SetQuotaUsage(acct, 0)
	if code := h.deliver(queued[0]); code != http.StatusOK {
		t.Errorf("the queued task's delivery: %d, want 200 (acknowledged)", code)
	}
	if n := len(h.threads.Published(acct)); n != 0 {
		t.Errorf("%d posts after the 429, want none", n)
	}
	if j := h.job(acct, publish.JobIDFor(h.user.UID, key["Idempotency-Key"])); j.Status != store.JobFailed {
		t.Errorf("job %s, want failed", j.Status)
	}
}

func TestSlowMediaAnswers202AndFinishesThroughATask(t *testing.T) {
	h := newHarnessBudget(t, time.Millisecond)
	acct := "17841400000000009"
	h.connect(acct)
	h.threads.SetProcessing(4)
	resp, a := h.post(`{"text":"carousel","media":[{"type":"image","url":"https://cdn.example.com/1.jpg"},{"type":"video","url":"https://cdn.example.com/2.mp4","altText":"clip"}]}`, nil)
	if resp.StatusCode != 202 || a.Status != "pending" {
		t.Fatalf("answer %d %+v", resp.StatusCode, a)
	}
	j := h.waitJob(acct, a.JobID)
	posts := h.threads.Published(acct)
	if j.Status != store.JobPublished || len(posts) != 1 || posts[0].MediaType != "CAROUSEL" || len(posts[0].Children) != 2 || j.MediaID != posts[0].MediaID {
		t.Fatalf("job %+v posts %+v", j, posts)
	}
	// The owner's repeat of a finished job (same key) would now answer 200; a
	// task delivered again for it is acknowledged without publishing.
	body := h.taskBody(acct, a.JobID)
	tok, err := h.tasks.IDToken(h.url, invoker)
	if err != nil {
		t.Fatal(err)
	}
	resp, again := h.post(body, map[string]string{"X-CloudTasks-QueueName": "publish", "Authorization": "Bearer " + tok})
	if resp.StatusCode != 200 || again.Status != "published" || len(h.threads.Published(acct)) != 1 {
		t.Errorf("duplicate delivery: %d %+v", resp.StatusCode, again)
	}
}
