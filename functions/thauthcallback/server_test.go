package thauthcallback_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/functions/thauthcallback"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
	"threadsfunctions.dev/shared/threads/threadstest"
)

const (
	appID       = "1234567890"
	appSecret   = "APP-SECRET-do-not-log"
	redirectURI = "https://fn.example.com/thAuthCallback"
)

type harness struct {
	env     testenv.Env
	srv     *httptest.Server
	threads *threadstest.Server
	store   *store.Store
	logs    *testenv.SyncBuffer
}

// harnessOptions change what newHarnessWith builds.
type harnessOptions struct {
	// wrapThreads, if set, wraps the fake Threads' handler (served then from
	// a server of its own); wrapCallback, if set, the function's handler.
	wrapThreads, wrapCallback func(http.Handler) http.Handler
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, harnessOptions{})
}

func newHarnessWith(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	e := testenv.Require(t)
	fake := threadstest.Start(t, appID, appSecret, redirectURI)
	graphURL := fake.URL
	if o.wrapThreads != nil {
		wrapped := httptest.NewServer(o.wrapThreads(fake.Handler()))
		t.Cleanup(wrapped.Close)
		graphURL = wrapped.URL
	}
	keyring, keyText := testenv.Keyring(t, "k1")
	logs := &testenv.SyncBuffer{}
	opts := thauthcallback.Options
	opts.Lookup = e.Lookup(map[string]string{
		"THREADS_APP_ID":         appID,
		"THREADS_APP_SECRET":     appSecret,
		"THREADS_REDIRECT_URI":   redirectURI,
		"THREADS_GRAPH_URL":      graphURL,
		"ALLOWED_RETURN_ORIGINS": "https://app.example.com",
		"DEFAULT_RETURN_TO":      "https://app.example.com/settings",
		"TOKEN_ENCRYPTION_KEY":   keyText,
	})
	opts.Logger = logging.New(logs, slog.LevelInfo)
	var fn http.Handler = app.Lazy(thauthcallback.Name, opts, thauthcallback.NewHandler)
	if o.wrapCallback != nil {
		fn = o.wrapCallback(fn)
	}
	srv := httptest.NewServer(apicheck.Handler(t, thauthcallback.Name, fn))
	t.Cleanup(srv.Close)
	return &harness{env: e, srv: srv, threads: fake, store: store.New(e.Firestore(t), keyring), logs: logs}
}

// newState stores a state as thAuthStart would and returns its id.
func (h *harness) newState(t *testing.T, uid, returnTo string, ttl time.Duration) string {
	t.Helper()
	id := "st-" + testenv.RandomID(t) + testenv.RandomID(t)
	now := time.Now()
	if err := h.store.CreateState(t.Context(), id, store.OAuthState{
		UID: uid, Provider: store.Provider, ReturnTo: returnTo, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

// get calls the callback without following the redirect.
func (h *harness) get(t *testing.T, query url.Values) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(h.srv.URL + "?" + query.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func redirectParams(t *testing.T, resp *http.Response, wantBase string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status = %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != wantBase {
		t.Errorf("redirect to %q, want %q", got, wantBase)
	}
	return loc.Query()
}

var ada = threadstest.User{ID: "17841400000000001", Username: "ada", Name: "Ada Lovelace", PictureURL: "https://cdn.example.com/ada.jpg"}

func TestConnectStoresAccountAndRedirects(t *testing.T) {
	cases := []struct {
		name      string
		numericID bool
		codeExtra string
		user      threadstest.User
		wantName  string
		wantUser  string
	}{
		{name: "string user_id", user: ada, wantName: "Ada Lovelace", wantUser: "ada"},
		{name: "numeric user_id", numericID: true, user: ada, wantName: "Ada Lovelace", wantUser: "ada"},
		{name: "trailing #_ on the code", codeExtra: "#_", user: ada, wantName: "Ada Lovelace", wantUser: "ada"},
		{name: "no name falls back to username", user: threadstest.User{ID: "17841400000000002", Username: "bob"}, wantName: "bob", wantUser: "bob"},
		{name: "no username falls back to name", user: threadstest.User{ID: "17841400000000003", Name: "Cy"}, wantName: "Cy", wantUser: "Cy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.threads.NumericUserID(tc.numericID)
			uid := "uid-" + testenv.RandomID(t)
			state := h.newState(t, uid, "https://app.example.com/after?tab=1", 10*time.Minute)
			before := time.Now()

			resp, _ := h.get(t, url.Values{"code": {h.threads.IssueCode(tc.user) + tc.codeExtra}, "state": {state}})
			q := redirectParams(t, resp, "https://app.example.com/after")
			if q.Get("threads") != "connected" || q.Get("accountId") != tc.user.ID || q.Get("tab") != "1" {
				t.Errorf("redirect query = %v", q)
			}

			acct, err := h.store.GetAccount(t.Context(), uid, tc.user.ID)
			if err != nil {
				t.Fatalf("account not stored: %v", err)
			}
			token, err := h.store.OpenToken(uid, acct)
			if err != nil {
				t.Fatal(err)
			}
			if owner, ok := h.threads.UserOfToken(token); !ok || owner.ID != tc.user.ID {
				t.Errorf("stored token is not the long-lived token Threads issued")
			}
			if strings.Contains(acct.AccessToken, token) {
				t.Error("stored token is plaintext")
			}
			want := store.Profile{PlatformID: tc.user.ID, DisplayName: tc.wantName, Username: tc.wantUser, AvatarURL: tc.user.PictureURL, AccountType: "user"}
			if acct.Profile != want || acct.Extra.ThreadsUserID != tc.user.ID || acct.Status != "active" ||
				acct.AccountID != tc.user.ID || acct.TokenType != "bearer" || acct.ExpiresIn != 5183944 || acct.AccessTokenKeyID != "k1" {
				t.Errorf("account = %+v", acct)
			}
			if d := acct.ExpiresAt.Sub(acct.UpdatedAt); d != 5183944*time.Second {
				t.Errorf("expiresAt - updatedAt = %v", d)
			}
			if acct.UpdatedAt.Before(before.Add(-time.Second)) {
				t.Errorf("updatedAt = %v", acct.UpdatedAt)
			}

			// The state is spent: the same link again is refused and changes nothing.
			resp, body := h.get(t, url.Values{"code": {h.threads.IssueCode(tc.user)}, "state": {state}})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid_state") {
				t.Errorf("reused state: %d", resp.StatusCode)
			}
		})
	}
}

func TestReconnectUpdatesInPlaceAndSeveralAccounts(t *testing.T) {
	h := newHarness(t)
	uid := "uid-" + testenv.RandomID(t)
	connect := func(u threadstest.User) {
		t.Helper()
		state := h.newState(t, uid, "https://app.example.com/", 10*time.Minute)
		resp, _ := h.get(t, url.Values{"code": {h.threads.IssueCode(u)}, "state": {state}})
		if q := redirectParams(t, resp, "https://app.example.com/"); q.Get("threads") != "connected" {
			t.Fatalf("connect %s: %v", u.ID, q)
		}
	}
	connect(ada)
	renamed := ada
	renamed.Name = "Ada King"
	connect(renamed)
	connect(threadstest.User{ID: "17841400000000009", Username: "second"})

	docs, err := h.env.Firestore(t).Collection("users/" + uid + "/integrations/threads/accounts").Documents(t.Context()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("%d account documents, want 2", len(docs))
	}
	acct, err := h.store.GetAccount(t.Context(), uid, ada.ID)
	if err != nil || acct.Profile.DisplayName != "Ada King" {
		t.Errorf("reconnected account = %+v, %v", acct, err)
	}
}

// A browser that goes away once the state is spent (tab closed, navigation)
// must not lose the connection: the state is gone and the code spent, so
// the exchanges and the save finish anyway. The request's context is
// cancelled as soon as Threads has answered each call in turn.
func TestRequestCancelledAfterStateConsumedStillStores(t *testing.T) {
	for _, endpoint := range []string{threadstest.EndpointCode, threadstest.EndpointLongLived, threadstest.EndpointMe} {
		t.Run(endpoint, func(t *testing.T) {
			var (
				mu            sync.Mutex
				cancelRequest context.CancelFunc
				midway        bool // cancelled after the endpoint's call, before the answer
			)
			h := newHarnessWith(t, harnessOptions{
				// The callback's request, with a cancel of our own standing
				// for the browser going away.
				wrapCallback: func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						ctx, cancel := context.WithCancel(r.Context())
						defer cancel()
						mu.Lock()
						cancelRequest = cancel
						mu.Unlock()
						next.ServeHTTP(w, r.WithContext(ctx))
					})
				},
				wrapThreads: func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						next.ServeHTTP(w, r)
						if r.Method+" "+r.URL.Path == endpoint {
							mu.Lock()
							cancelRequest()
							midway = true
							mu.Unlock()
						}
					})
				},
			})
			uid := "uid-" + testenv.RandomID(t)
			state := h.newState(t, uid, "https://app.example.com/", 10*time.Minute)

			resp, _ := h.get(t, url.Values{"code": {h.threads.IssueCode(ada)}, "state": {state}})
			mu.Lock()
			cancelled := midway
			mu.Unlock()
			if !cancelled {
				t.Fatal("the request's context was not cancelled: the test tests nothing")
			}
			if q := redirectParams(t, resp, "https://app.example.com/"); q.Get("threads") != "connected" || q.Get("accountId") != ada.ID {
				t.Errorf("redirect query = %v", q)
			}
			acct, err := h.store.GetAccount(t.Context(), uid, ada.ID)
			if err != nil {
				t.Fatalf("account not stored after the request was cancelled: %v", err)
			}
			token, err := h.store.OpenToken(uid, acct)
			if err != nil {
				t.Fatal(err)
			}
			if owner, ok := h.threads.UserOfToken(token); !ok || owner.ID != ada.ID {
				t.Error("stored token is not the long-lived token Threads issued")
			}
			if c := h.threads.Calls(threadstest.EndpointCode); c != 1 {
				t.Errorf("code exchanged %d times, want 1", c)
			}
		})
	}
}

func TestFailuresStoreNothingAndRedirectWithReason(t *testing.T) {
	cases := []struct {
		name       string
		query      func(h *harness) url.Values // without state
		fail       string
		wantReason string
	}{
		{name: "user denied", query: func(*harness) url.Values {
			return url.Values{"error": {"access_denied"}, "error_reason": {"user_denied"}, "error_description": {"Permissions error"}}
		}, wantReason: "access_denied"},
		{name: "other authorize error", query: func(*harness) url.Values { return url.Values{"error": {"server_error"}} }, wantReason: "authorization_failed"},
		{name: "no code", query: func(*harness) url.Values { return url.Values{} }, wantReason: "missing_code"},
		{name: "code refused", query: func(*harness) url.Values { return url.Values{"code": {"CODE-never-issued"}} }, wantReason: "code_exchange_failed"},
		{name: "long-lived exchange fails", query: issued, fail: threadstest.EndpointLongLived, wantReason: "token_exchange_failed"},
		{name: "profile fails", query: issued, fail: threadstest.EndpointMe, wantReason: "profile_failed"},
		{name: "code exchange 5xx", query: issued, fail: threadstest.EndpointCode, wantReason: "code_exchange_failed"},
		// A Threads user id that thPublish and thDisconnect would refuse
		// (store.ValidAccountID) is not stored: it could never be named, so
		// never disconnected.
		{name: "account id with a slash", query: issuedFor("1784/1400"), wantReason: "profile_failed"},
		{name: "account id with a dot", query: issuedFor("1784.1400"), wantReason: "profile_failed"},
		{name: "account id with a space", query: issuedFor("1784 1400"), wantReason: "profile_failed"},
		{name: "account id with a plus", query: issuedFor("1784+1400"), wantReason: "profile_failed"},
		{name: "account id not ASCII", query: issuedFor("1784\u00e91400"), wantReason: "profile_failed"},
		{name: "account id of 65 characters", query: issuedFor(strings.Repeat("1", 65)), wantReason: "profile_failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.fail != "" {
				h.threads.Fail(tc.fail, threadstest.Failure{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"})
			}
			uid := "uid-" + testenv.RandomID(t)
			q := tc.query(h)
			q.Set("state", h.newState(t, uid, "https://app.example.com/settings", 10*time.Minute))
			resp, _ := h.get(t, q)
			got := redirectParams(t, resp, "https://app.example.com/settings")
			if got.Get("threads") != "error" || got.Get("reason") != tc.wantReason || got.Get("accountId") != "" {
				t.Errorf("redirect query = %v, want reason %q", got, tc.wantReason)
			}
			docs, err := h.env.Firestore(t).Collection("users/" + uid + "/integrations/threads/accounts").Documents(t.Context()).GetAll()
			if err != nil || len(docs) != 0 {
				t.Errorf("stored %d accounts (%v), want none", len(docs), err)
			}
			if tc.fail != "" && !strings.Contains(h.logs.String(), `"fbtrace_id":"FBTRACE-`) {
				t.Errorf("Threads error not logged with its fbtrace_id: %s", h.logs.String())
			}
		})
	}
}

func issued(h *harness) url.Values { return url.Values{"code": {h.threads.IssueCode(ada)}} }

// issuedFor is issued for a Threads user of that id.
func issuedFor(id string) func(*harness) url.Values {
	return func(h *harness) url.Values {
		return url.Values{"code": {h.threads.IssueCode(threadstest.User{ID: id, Username: "odd"})}}
	}
}

func TestInvalidStates(t *testing.T) {
	h := newHarness(t)
	expired := h.newState(t, "u", "https://app.example.com/", -time.Second)
	cases := []struct {
		name  string
		query url.Values
	}{
		{"unknown", url.Values{"code": {h.threads.IssueCode(ada)}, "state": {"no-such-state"}}},
		{"missing", url.Values{"code": {h.threads.IssueCode(ada)}}},
		{"expired", url.Values{"code": {h.threads.IssueCode(ada)}, "state": {expired}}},
		{"error with unknown state", url.Values{"error": {"access_denied"}, "state": {"nope"}}},
		// Not a state id at all (thAuthStart makes base64url ids): refused
		// as invalid, not taken to Firestore as a document id.
		{"invalid UTF-8", url.Values{"code": {h.threads.IssueCode(ada)}, "state": {"\xff"}}},
		{"dot dot", url.Values{"code": {h.threads.IssueCode(ada)}, "state": {".."}}},
		{"reserved id", url.Values{"code": {h.threads.IssueCode(ada)}, "state": {"__x__"}}},
		{"slash", url.Values{"code": {h.threads.IssueCode(ada)}, "state": {"a/b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := h.threads.Calls(threadstest.EndpointCode)
			resp, body := h.get(t, tc.query)
			if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(body, `<code id="error-code">invalid_state</code>`) {
				t.Errorf("got %d %q", resp.StatusCode, body)
			}
			if h.threads.Calls(threadstest.EndpointCode) != calls {
				t.Error("Threads was called for an invalid state")
			}
		})
	}
}

// Of many concurrent callbacks with one state, exactly one proceeds.
func TestConcurrentCallbacksOneProceeds(t *testing.T) {
	h := newHarness(t)
	uid := "uid-" + testenv.RandomID(t)
	state := h.newState(t, uid, "https://app.example.com/", 10*time.Minute)
	code := h.threads.IssueCode(ada)
	const n = 8
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		connected, invalid int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := h.get(t, url.Values{"code": {code}, "state": {state}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case resp.StatusCode == http.StatusFound && strings.Contains(resp.Header.Get("Location"), "threads=connected"):
				connected++
			case resp.StatusCode == http.StatusBadRequest:
				invalid++
			}
		}()
	}
	wg.Wait()
	if connected != 1 || invalid != n-1 {
		t.Errorf("connected %d, invalid %d; want 1 and %d", connected, invalid, n-1)
	}
	if c := h.threads.Calls(threadstest.EndpointCode); c != 1 {
		t.Errorf("code exchanged %d times, want 1", c)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := newHarness(t)
	resp, err := http.Post(h.srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(b), `"method_not_allowed"`) {
		t.Errorf("POST: %d %s", resp.StatusCode, b)
	}
}
