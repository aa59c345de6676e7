package thdisconnect_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"threadsfunctions.dev/functions/thdisconnect"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/threads/threadstest"
)

type harness struct {
	t     *testing.T
	env   testenv.Env
	srv   *httptest.Server
	store *store.Store
	fake  *threadstest.Server
	// faults fails the function's Firestore RPCs (newFaultyHarness).
	faults *testenv.FirestoreFaults
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, false) }

// newFaultyHarness is a harness whose function's Firestore RPCs the test
// can make fail (harness.faults).
func newFaultyHarness(t *testing.T) *harness { return newHarnessWith(t, true) }

func newHarnessWith(t *testing.T, faulty bool) *harness {
	t.Helper()
	e := testenv.Require(t)
	opts := thdisconnect.Options
	opts.Lookup = e.Lookup(map[string]string{
		"CORS_ALLOWED_ORIGINS": "https://app.example.com",
	})
	opts.Logger = logging.New(io.Discard, slog.LevelInfo)
	h := &harness{t: t, env: e, fake: threadstest.Start(t, "app", "secret", "https://fn.example.com/cb")}
	newHandler := thdisconnect.NewHandler
	if faulty {
		var fs *firestore.Client
		fs, h.faults = e.FaultyFirestore(t)
		newHandler = func(d *app.Deps) (http.Handler, error) {
			d.Store = store.New(fs, d.Keyring)
			return thdisconnect.NewHandler(d)
		}
	}
	h.srv = httptest.NewServer(apicheck.Handler(t, thdisconnect.Name, app.Lazy(thdisconnect.Name, opts, newHandler)))
	t.Cleanup(h.srv.Close)
	keyring, _ := testenv.Keyring(t, "k1")
	h.store = store.New(e.Firestore(t), keyring)
	return h
}

func (h *harness) connect(uid, id string) {
	h.t.Helper()
	tok := h.fake.AddAccount(threadstest.User{ID: id, Username: "u" + id})
	now := time.Now()
	if err := h.store.SaveAccount(h.t.Context(), uid, store.Account{AccountID: id, ExpiresAt: now.Add(50 * 24 * time.Hour),
		TokenIssuedAt: now, UpdatedAt: now, Status: store.StatusActive, Extra: store.Extra{ThreadsUserID: id}}, tok); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) job(uid, accountID string, st store.JobStatus) string {
	h.t.Helper()
	req := publish.Request{Text: "queued " + string(st)}
	b, _ := json.Marshal(req)
	id := "job-" + testenv.RandomID(h.t)
	if _, _, err := h.store.CreateJob(h.t.Context(), &store.Job{JobID: id, UID: uid, AccountID: accountID, Status: st,
		Kind: "TEXT", Request: string(b), RequestHash: req.Hash(), CreatedAt: time.Now()}); err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) disconnect(idToken, accountID string) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL, strings.NewReader(`{"accountId":"`+accountID+`"}`))
	req.Header.Set("Authorization", "Bearer "+idToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDisconnect(t *testing.T) {
	h := newHarness(t)
	owner, stranger := h.env.SignUp(t), h.env.SignUp(t)
	const acct = "17841400000000101"
	h.connect(owner.UID, acct)
	h.connect(owner.UID, "17841400000000102")
	pending := []string{h.job(owner.UID, acct, store.JobAccepted), h.job(owner.UID, acct, store.JobPublishing)}
	done := h.job(owner.UID, acct, store.JobPublished)

	// Another user cannot touch it.
	if code, body := h.disconnect(stranger.IDToken, acct); code != 404 || !strings.Contains(body, `"account_not_found"`) {
		t.Fatalf("stranger: %d %s", code, body)
	}
	if _, err := h.store.GetAccount(t.Context(), owner.UID, acct); err != nil {
		t.Fatalf("stranger's call touched the account: %v", err)
	}

	for i := range 2 { // idempotent
		if code, body := h.disconnect(owner.IDToken, acct); code != 200 || !strings.Contains(body, `"ok":true`) {
			t.Fatalf("disconnect #%d: %d %s", i+1, code, body)
		}
	}
	if _, err := h.store.GetAccount(t.Context(), owner.UID, acct); err != store.ErrNotFound {
		t.Errorf("account still stored (token with it): %v", err)
	}
	for _, id := range pending {
		if j, _ := h.store.GetJob(t.Context(), owner.UID, acct, id); j.Status != store.JobCancelled || j.Error == nil || j.Error.Reason != thdisconnect.ReasonDisconnected {
			t.Errorf("job %s: %+v", id, j)
		}
	}
	if j, _ := h.store.GetJob(t.Context(), owner.UID, acct, done); j.Status != store.JobPublished {
		t.Errorf("published job changed: %s", j.Status)
	}
	if _, err := h.store.GetAccount(t.Context(), owner.UID, "17841400000000102"); err != nil {
		t.Errorf("the other account was touched: %v", err)
	}
	if code, _ := h.disconnect(owner.IDToken, "17841400000000999"); code != 404 {
		t.Errorf("never-connected account: %d", code)
	}
	if code, body := h.disconnect(owner.IDToken, "../x"); code != 400 || !strings.Contains(body, "invalid_id") {
		t.Errorf("bad id: %d %s", code, body)
	}
	if code, _ := h.disconnect("", acct); code != 401 {
		t.Errorf("no token: %d", code)
	}
}

// A job queued (say, as a Cloud Task) before a disconnect and delivered
// after it is never published.
func TestJobQueuedBeforeDisconnectIsNeverPublished(t *testing.T) {
	h := newHarness(t)
	owner := h.env.SignUp(t)
	const acct = "17841400000000103"
	h.connect(owner.UID, acct)
	jobID := h.job(owner.UID, acct, store.JobAccepted)
	if code, body := h.disconnect(owner.IDToken, acct); code != 200 {
		t.Fatalf("disconnect: %d %s", code, body)
	}
	engine := &publish.Engine{Store: h.store, Threads: &threads.Client{GraphURL: h.fake.URL}}
	res, err := engine.Run(t.Context(), owner.UID, acct, jobID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != publish.Done || res.Job.Status != store.JobCancelled {
		t.Fatalf("delivery after disconnect: %+v", res.Job)
	}
	if n := len(h.fake.Published(acct)) + h.fake.Calls(threadstest.EndpointCreate); n != 0 {
		t.Errorf("Threads was asked to publish (%d)", n)
	}
}
