package threfresh_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/functions/threfresh"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/fakes/cloudtasksfake"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/threads/threadstest"
	"threadsfunctions.dev/shared/tokens"
)

const invoker = "scheduler-invoker@demo-threadsfn.iam.gserviceaccount.com"

type harness struct {
	t      *testing.T
	url    string
	fake   *threadstest.Server
	issuer *cloudtasksfake.Server
	store  *store.Store
}

// newHarness runs thRefresh against a Firestore project of its own: the
// sweep reads every account of its project, and must not touch other
// tests' accounts.
func newHarness(t *testing.T) *harness {
	t.Helper()
	e := testenv.Require(t)
	e.ProjectID = "demo-refresh-" + testenv.RandomID(t)[:8]
	fake := threadstest.Start(t, "app", "secret", "https://fn.example.com/cb")
	issuer := cloudtasksfake.Start(t) // signs OIDC tokens and serves their keys, as the local stand-in does
	keyring, keyText := testenv.Keyring(t, "k1")
	// Unstarted, the server already has its address: the audience.
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String() + "/"
	opts := threfresh.Options
	opts.Lookup = e.Lookup(map[string]string{
		"THREADS_GRAPH_URL":         fake.URL,
		"TOKEN_ENCRYPTION_KEY":      keyText,
		"SCHEDULER_SERVICE_ACCOUNT": invoker,
		"SCHEDULER_AUDIENCE":        url,
		"TASKS_EMULATOR_HOST":       issuer.Addr(),
	})
	opts.Logger = logging.New(io.Discard, slog.LevelInfo)
	srv.Config.Handler = apicheck.Handler(t, threfresh.Name, app.Lazy(threfresh.Name, opts, threfresh.NewHandler))
	srv.Start()
	t.Cleanup(srv.Close)
	// The test's own view of the same data, with the same key.
	return &harness{t: t, url: url, fake: fake, issuer: issuer, store: store.New(e.Firestore(t), keyring)}
}

// account stores an account whose token was issued and expires as given.
func (h *harness) account(name string, issued, expires time.Time) (uid, id, token string) {
	h.t.Helper()
	id = fmt.Sprintf("1784%013d", time.Now().UnixNano()%1e13)
	token = h.fake.AddAccount(threadstest.User{ID: id, Username: name})
	uid = "uid-" + name
	if err := h.store.SaveAccount(h.t.Context(), uid, store.Account{AccountID: id, ExpiresAt: expires, TokenIssuedAt: issued,
		UpdatedAt: issued, Status: store.StatusActive, Extra: store.Extra{ThreadsUserID: id}}, token); err != nil {
		h.t.Fatal(err)
	}
	return uid, id, token
}

func (h *harness) sweep(bearer string) (int, threfresh.Counts, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var c threfresh.Counts
	_ = json.Unmarshal(b, &c)
	return resp.StatusCode, c, string(b)
}

func TestConcurrentSweepsRefreshEachTokenOnce(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	var due []string
	for i := range 5 {
		uid, id, _ := h.account(fmt.Sprint("due", i), now.Add(-55*24*time.Hour), now.Add(5*24*time.Hour))
		due = append(due, uid+"/"+id)
	}
	h.account("young", now.Add(-2*time.Hour), now.Add(3*24*time.Hour))    // in the window, but under 24 h old
	h.account("far", now.Add(-30*24*time.Hour), now.Add(30*24*time.Hour)) // not in the window
	expUID, expID, _ := h.account("expired", now.Add(-61*24*time.Hour), now.Add(-time.Hour))
	revUID, revID, revTok := h.account("revoked", now.Add(-55*24*time.Hour), now.Add(4*24*time.Hour))
	h.fake.RevokeToken(revTok)

	tok, err := h.issuer.IDToken(h.url, invoker)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []threfresh.Counts
	)
	for range 2 {
		wg.Go(func() {
			code, c, body := h.sweep(tok)
			if code != 200 || !c.Complete {
				t.Errorf("sweep: %d %s, want 200 and complete", code, body)
			}
			mu.Lock()
			results = append(results, c)
			mu.Unlock()
		})
	}
	wg.Wait()

	if n := h.fake.Calls(threadstest.EndpointRefresh); n != len(due)+1 { // the due ones and the revoked one
		t.Errorf("refresh called %d times, want %d (once per due token)", n, len(due)+1)
	}
	total, most := threfresh.Counts{}, 0
	for _, c := range results {
		total.Refreshed += c.Refreshed
		most = max(most, c.Examined)
	}
	// Everything expiring within 10 days: 5 due, young, expired, revoked.
	// The later sweep may have read after the other refreshed or marked
	// some (then out of its query): the first to read sees all 8.
	if most != 8 {
		t.Errorf("the sweeps examined %+v accounts, want 8 for one of them", results)
	}
	if total.Refreshed != len(due) {
		t.Errorf("refreshed %d in all, want %d: %+v", total.Refreshed, len(due), results)
	}
	for _, k := range due {
		uid, id, _ := strings.Cut(k, "/")
		a, err := h.store.GetAccount(t.Context(), uid, id)
		if err != nil || time.Until(a.ExpiresAt) < 50*24*time.Hour || time.Since(a.TokenIssuedAt) > time.Minute {
			t.Errorf("%s not refreshed: %+v %v", k, a, err)
		}
	}
	for _, k := range [][2]string{{expUID, expID}, {revUID, revID}} {
		if a, _ := h.store.GetAccount(t.Context(), k[0], k[1]); a.Status != store.StatusNeedsReauth {
			t.Errorf("%s: status %q, want needs_reauth", k[1], a.Status)
		}
	}
	// A second sweep finds nothing left to refresh.
	if _, c, _ := h.sweep(tok); c.Refreshed != 0 || c.NeedsReauth != 0 {
		t.Errorf("second sweep: %+v", c)
	}
}

func TestOnlyTheSchedulerMayCall(t *testing.T) {
	h := newHarness(t)
	wrongAud, _ := h.issuer.IDToken("https://elsewhere.example/", invoker)
	wrongSA, _ := h.issuer.IDToken(h.url, "someone@demo-threadsfn.iam.gserviceaccount.com")
	for name, bearer := range map[string]string{"none": "", "garbage": "x.y.z", "wrong audience": wrongAud, "wrong account": wrongSA} {
		if code, _, body := h.sweep(bearer); code != 401 || !strings.Contains(body, threfresh.CodeUnauthorized) {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if n := h.fake.Calls(threadstest.EndpointRefresh); n != 0 {
		t.Errorf("refused calls refreshed %d tokens", n)
	}
}

// TestSweepStopsAtItsBudget: a sweep that runs out of time takes up no
// more accounts, lets the refreshes under way finish and says it is not
// complete; the next sweep refreshes the rest, each token once in all.
func TestSweepStopsAtItsBudget(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	const n = 12
	for i := range n {
		h.account(fmt.Sprint("due", i), now.Add(-55*24*time.Hour), now.Add(time.Duration(i+1)*time.Hour))
	}
	// Each refresh outlasts the budget, which leaves the first page's
	// query time to answer even on a busy machine; the project's first
	// query, slower, is made before.
	h.fake.SetLatency(2500 * time.Millisecond)
	if _, _, err := h.store.DueAccounts(t.Context(), now, 1, nil); err != nil {
		t.Fatal(err)
	}
	sweeper := func(budget time.Duration) *threfresh.Server {
		return &threfresh.Server{Store: h.store, Window: 10 * 24 * time.Hour, Budget: budget,
			Refresher: &tokens.Refresher{Store: h.store, Threads: &threads.Client{AppID: "app", AppSecret: "secret", GraphURL: h.fake.URL}}}
	}
	first, err := sweeper(1200*time.Millisecond).Sweep(t.Context(), now, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// 8 workers take up one account each at once; the ninth waits for one
	// of them, which is not free before the budget is spent.
	if first.Complete || first.Examined != 8 || first.Refreshed != 8 {
		t.Fatalf("first sweep %+v: want incomplete, 8 accounts examined and refreshed", first)
	}
	second, err := sweeper(time.Minute).Sweep(t.Context(), now, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !second.Complete || second.Refreshed != n-first.Refreshed {
		t.Errorf("second sweep %+v: want complete, refreshing the %d left", second, n-first.Refreshed)
	}
	if calls := h.fake.Calls(threadstest.EndpointRefresh); calls != n {
		t.Errorf("refresh called %d times, want %d (once per token)", calls, n)
	}
}
