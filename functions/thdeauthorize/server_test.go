package thdeauthorize_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/functions/thdeauthorize"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/signedrequest"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
)

const secret = "APP-SECRET-deauth"

type harness struct {
	t     *testing.T
	env   testenv.Env
	srv   *httptest.Server
	store *store.Store
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	e := testenv.Require(t)
	opts := thdeauthorize.Options
	opts.Lookup = e.Lookup(map[string]string{
		"THREADS_APP_SECRET": secret,
	})
	opts.Logger = logging.New(io.Discard, slog.LevelInfo)
	srv := httptest.NewServer(apicheck.Handler(t, thdeauthorize.Name, app.Lazy(thdeauthorize.Name, opts, thdeauthorize.NewHandler)))
	t.Cleanup(srv.Close)
	keyring, _ := testenv.Keyring(t, "k1")
	return &harness{t: t, env: e, srv: srv, store: store.New(e.Firestore(t), keyring)}
}

func (h *harness) connect(uid, threadsID string) {
	h.t.Helper()
	h.connectAt(uid, threadsID, time.Now())
}

func (h *harness) pendingJob(uid, accountID string) string {
	h.t.Helper()
	req := publish.Request{Text: "queued"}
	b, _ := json.Marshal(req)
	id := "job-" + testenv.RandomID(h.t)
	if _, _, err := h.store.CreateJob(h.t.Context(), &store.Job{JobID: id, UID: uid, AccountID: accountID, Status: store.JobContainerCreated,
		Kind: "TEXT", Request: string(b), RequestHash: req.Hash(), CreatedAt: time.Now()}); err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) post(signed string) (int, string) {
	h.t.Helper()
	resp, err := http.PostForm(h.srv.URL, url.Values{"signed_request": {signed}})
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sign(t *testing.T, userID any, issued time.Time, key string) string {
	t.Helper()
	s, err := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": userID, "issued_at": issued.Unix()}, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A Threads user connected under two Firebase users is revoked under both.
func TestDeauthorizeRevokesEveryConnection(t *testing.T) {
	h := newHarness(t)
	threadsID := fmt.Sprintf("1784%013d", time.Now().UnixNano()%1e13) // unique per run, digits like Threads ids
	alice, bob := "uid-a-"+testenv.RandomID(t), "uid-b-"+testenv.RandomID(t)
	h.connect(alice, threadsID)
	h.connect(bob, threadsID)
	h.connect(alice, "17841400000000555") // another Threads user: untouched
	jobA, jobB := h.pendingJob(alice, threadsID), h.pendingJob(bob, threadsID)

	var asNumber json.Number = json.Number(threadsID) // user_id as a JSON number
	if code, body := h.post(sign(t, asNumber, time.Now(), secret)); code != 200 || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("deauthorize: %d %s", code, body)
	}
	for _, uid := range []string{alice, bob} {
		a, err := h.store.GetAccount(t.Context(), uid, threadsID)
		if err != nil {
			t.Fatalf("%s: account gone: %v (the owner must still see it)", uid, err)
		}
		if a.Status != store.StatusRevoked || a.AccessToken != "" || a.AccessTokenKeyID != "" {
			t.Errorf("%s: account %+v, want revoked without token", uid, a)
		}
	}
	for uid, id := range map[string]string{alice: jobA, bob: jobB} {
		if j, _ := h.store.GetJob(t.Context(), uid, threadsID, id); j.Status != store.JobCancelled {
			t.Errorf("job of %s: %s", uid, j.Status)
		}
	}
	if a, _ := h.store.GetAccount(t.Context(), alice, "17841400000000555"); a.Status != store.StatusActive || a.AccessToken == "" {
		t.Errorf("another Threads user's account changed: %+v", a)
	}
	// Meta may call again: still 200.
	if code, _ := h.post(sign(t, threadsID, time.Now(), secret)); code != 200 {
		t.Errorf("second call: %d", code)
	}
}

func TestBadSignedRequestsTouchNothing(t *testing.T) {
	h := newHarness(t)
	uid := "uid-" + testenv.RandomID(t)
	h.connect(uid, "17841400000000777")
	cases := []struct {
		name, signed, code string
	}{
		{"missing", "", signedrequest.CodeMissing},
		{"forged", sign(t, "17841400000000777", time.Now(), "not-the-secret"), signedrequest.CodeBadSig},
		{"stale", sign(t, "17841400000000777", time.Now().Add(-2*time.Hour), secret), signedrequest.CodeStale},
		{"garbage", "abc", signedrequest.CodeMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.post(tc.signed)
			if code != 400 || !strings.Contains(body, `"`+tc.code+`"`) {
				t.Errorf("%d %s, want 400 %s", code, body, tc.code)
			}
		})
	}
	if a, _ := h.store.GetAccount(t.Context(), uid, "17841400000000777"); a.Status != store.StatusActive {
		t.Errorf("account changed by a refused request: %s", a.Status)
	}
	resp, err := http.Get(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func (h *harness) connectAt(uid, threadsID string, at time.Time) {
	h.t.Helper()
	if err := h.store.SaveAccount(h.t.Context(), uid, store.Account{AccountID: threadsID, ExpiresAt: at.Add(50 * 24 * time.Hour),
		TokenIssuedAt: at, UpdatedAt: at, Status: store.StatusActive, Extra: store.Extra{ThreadsUserID: threadsID}}, "TOKEN-"+threadsID); err != nil {
		h.t.Fatal(err)
	}
}

// A deauthorization that arrives late, or is retried, after the user
// connected the account again leaves that newer connection (and its jobs)
// as they are; a connection older than the request is revoked.
func TestLateDeauthorizeSparesReconnection(t *testing.T) {
	h := newHarness(t)
	removed := time.Unix(time.Now().Add(-10*time.Minute).Unix(), 0) // when the user removed the app: issued_at
	for _, tc := range []struct {
		name string
		// connections: when each Firebase user's connection was made.
		connections []time.Time
		// revokedFirst: the same request was delivered once before the reconnection.
		revokedFirst bool
		wantRevoked  []bool
	}{
		{name: "reconnected after the removal", connections: []time.Time{removed.Add(5 * time.Minute)}, wantRevoked: []bool{false}},
		// issued_at is whole seconds: a connection in the same second cannot be
		// told apart from one before the removal, and is revoked.
		{name: "connected within the removal's second", connections: []time.Time{removed.Add(300 * time.Millisecond)}, wantRevoked: []bool{true}},
		{name: "reconnected the next second", connections: []time.Time{removed.Add(time.Second)}, wantRevoked: []bool{false}},
		{name: "connected before the removal", connections: []time.Time{removed.Add(-time.Hour)}, wantRevoked: []bool{true}},
		{name: "one reconnected, one not", connections: []time.Time{removed.Add(time.Minute), removed.Add(-time.Hour)}, wantRevoked: []bool{false, true}},
		{name: "retried after a revocation and a reconnection", connections: []time.Time{removed.Add(time.Minute)}, revokedFirst: true, wantRevoked: []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			threadsID := fmt.Sprintf("1784%013d", time.Now().UnixNano()%1e13)
			signed := sign(t, threadsID, removed, secret)
			uids := make([]string, len(tc.connections))
			for i := range uids {
				uids[i] = fmt.Sprint("uid-", i, "-", testenv.RandomID(t))
				if tc.revokedFirst {
					h.connectAt(uids[i], threadsID, removed.Add(-time.Hour))
				}
			}
			if tc.revokedFirst {
				if code, body := h.post(signed); code != 200 {
					t.Fatalf("first delivery: %d %s", code, body)
				}
			}
			jobs := make([]string, len(uids))
			for i, at := range tc.connections {
				h.connectAt(uids[i], threadsID, at)
				jobs[i] = h.pendingJob(uids[i], threadsID)
			}

			if code, body := h.post(signed); code != 200 || !strings.Contains(body, `"ok":true`) {
				t.Fatalf("deauthorize: %d %s", code, body)
			}
			for i, uid := range uids {
				a, err := h.store.GetAccount(t.Context(), uid, threadsID)
				if err != nil {
					t.Fatal(err)
				}
				j, err := h.store.GetJob(t.Context(), uid, threadsID, jobs[i])
				if err != nil {
					t.Fatal(err)
				}
				if tc.wantRevoked[i] {
					if a.Status != store.StatusRevoked || a.AccessToken != "" || j.Status != store.JobCancelled {
						t.Errorf("connection %d: status %s, token kept %v, job %s; want revoked, no token, job cancelled", i, a.Status, a.AccessToken != "", j.Status)
					}
				} else if a.Status != store.StatusActive || a.AccessToken == "" || j.Status != store.JobContainerCreated {
					t.Errorf("connection %d (newer than the request): status %s, token kept %v, job %s; want it untouched", i, a.Status, a.AccessToken != "", j.Status)
				}
			}
		})
	}
}
