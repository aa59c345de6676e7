package thauthstart_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/functions/thauthstart"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
)

// settings are thAuthStart's own configuration; testenv.Env.Lookup adds the emulators'.
var settings = map[string]string{
	"THREADS_APP_ID":         "1234567890",
	"THREADS_REDIRECT_URI":   "https://fn.example.com/thAuthCallback",
	"THREADS_AUTHORIZE_URL":  "https://threads.example.com/oauth/authorize",
	"ALLOWED_RETURN_ORIGINS": "https://app.example.com,http://localhost:5173",
	"DEFAULT_RETURN_TO":      "https://app.example.com/settings",
	"CORS_ALLOWED_ORIGINS":   "https://app.example.com",
}

// startServer runs thAuthStart as deployed: the real wiring, the real Admin
// SDK and Firestore client, against the emulators.
func startServer(t *testing.T, e testenv.Env, logs io.Writer) *httptest.Server {
	t.Helper()
	opts := thauthstart.Options
	opts.Lookup = e.Lookup(settings)
	opts.Logger = logging.New(logs, slog.LevelInfo)
	srv := httptest.NewServer(apicheck.Handler(t, thauthstart.Name, app.Lazy(thauthstart.Name, opts, thauthstart.NewHandler)))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	OK    bool   `json:"ok"`
	URL   string `json:"url"`
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func call(t *testing.T, srv *httptest.Server, method, idToken, body string, header map[string]string) (*http.Response, answer) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if idToken != "" {
		req.Header.Set("Authorization", "Bearer "+idToken)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if b, _ := io.ReadAll(resp.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("answer is not JSON: %q", b)
		}
	}
	return resp, a
}

func TestStartStoresStateAndReturnsAuthorizeURL(t *testing.T) {
	e := testenv.Require(t)
	srv := startServer(t, e, io.Discard)
	user := e.SignUp(t)
	fs := e.Firestore(t)

	cases := []struct {
		name, body   string
		wantReturnTo string
	}{
		{"no body", "", "https://app.example.com/settings"},
		{"empty object", "{}", "https://app.example.com/settings"},
		{"allowed returnTo", `{"returnTo":"http://localhost:5173/done?tab=2#x"}`, "http://localhost:5173/done?tab=2#x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			resp, a := call(t, srv, http.MethodPost, user.IDToken, tc.body, nil)
			if resp.StatusCode != http.StatusOK || !a.OK {
				t.Fatalf("status %d, answer %+v", resp.StatusCode, a)
			}
			u, err := url.Parse(a.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != "https://threads.example.com/oauth/authorize" {
				t.Errorf("authorize endpoint = %q", got)
			}
			q := u.Query()
			state := q.Get("state")
			want := url.Values{
				"client_id":     {"1234567890"},
				"redirect_uri":  {"https://fn.example.com/thAuthCallback"},
				"response_type": {"code"},
				"scope":         {"threads_basic,threads_content_publish"},
				"state":         {state},
			}
			if q.Encode() != want.Encode() {
				t.Errorf("query = %v, want %v", q, want)
			}
			raw, err := base64.RawURLEncoding.DecodeString(state)
			if err != nil || len(raw) < 32 {
				t.Fatalf("state %q is not 32+ url-safe random bytes", state)
			}

			snap, err := fs.Collection("oauthStates").Doc(state).Get(t.Context())
			if err != nil {
				t.Fatalf("state not stored: %v", err)
			}
			var st store.OAuthState
			if err := snap.DataTo(&st); err != nil {
				t.Fatal(err)
			}
			if st.UID != user.UID || st.Provider != "threads" || st.ReturnTo != tc.wantReturnTo {
				t.Errorf("stored state = %+v", st)
			}
			if ttl := st.ExpiresAt.Sub(st.CreatedAt); ttl != 10*time.Minute {
				t.Errorf("expiresAt - createdAt = %v, want 10m", ttl)
			}
			if st.CreatedAt.Before(before.Add(-time.Second)) || st.CreatedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("createdAt = %v, not now", st.CreatedAt)
			}
		})
	}
}

func TestStartRefusals(t *testing.T) {
	e := testenv.Require(t)
	srv := startServer(t, e, io.Discard)
	user := e.SignUp(t)
	expired := e.EmulatorIDToken(user.UID, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))

	cases := []struct {
		name, method, token, body string
		header                    map[string]string
		wantStatus                int
		wantCode                  string
	}{
		{"no token", "POST", "", "", nil, 401, "missing_token"},
		{"malformed token", "POST", "garbage", "", nil, 401, "invalid_token"},
		{"expired token", "POST", expired, "", nil, 401, "token_expired"},
		{"returnTo other origin", "POST", user.IDToken, `{"returnTo":"https://evil.example.net/"}`, nil, 400, "invalid_return_to"},
		{"returnTo lookalike origin", "POST", user.IDToken, `{"returnTo":"https://app.example.com.evil.net/"}`, nil, 400, "invalid_return_to"},
		{"returnTo relative", "POST", user.IDToken, `{"returnTo":"/settings"}`, nil, 400, "invalid_return_to"},
		{"returnTo javascript", "POST", user.IDToken, `{"returnTo":"javascript:alert(1)"}`, nil, 400, "invalid_return_to"},
		{"returnTo empty", "POST", user.IDToken, `{"returnTo":""}`, nil, 400, "invalid_return_to"},
		{"returnTo not a string", "POST", user.IDToken, `{"returnTo":5}`, nil, 400, "invalid_json"},
		{"unknown field", "POST", user.IDToken, `{"return_to":"https://app.example.com/"}`, nil, 400, "unknown_field"},
		{"body too large", "POST", user.IDToken, `{"returnTo":"` + strings.Repeat("a", 9000) + `"}`, nil, 413, "body_too_large"},
		{"GET", "GET", user.IDToken, "", nil, 405, "method_not_allowed"},
		{"origin not allowed", "POST", user.IDToken, "", map[string]string{"Origin": "https://evil.example.net"}, 403, "origin_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, a := call(t, srv, tc.method, tc.token, tc.body, tc.header)
			if resp.StatusCode != tc.wantStatus || a.OK || a.Error.Code != tc.wantCode || a.Error.Message == "" {
				t.Errorf("got %d %+v, want %d %q", resp.StatusCode, a, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

func TestStartCORS(t *testing.T) {
	e := testenv.Require(t)
	srv := startServer(t, e, io.Discard)
	user := e.SignUp(t)

	req, _ := http.NewRequest(http.MethodOptions, srv.URL, nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	resp, a := call(t, srv, http.MethodPost, user.IDToken, "", map[string]string{"Origin": "https://app.example.com"})
	if resp.StatusCode != 200 || !a.OK || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("CORS POST: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestMisconfigurationNamesEveryProblemOnce(t *testing.T) {
	var logs bytes.Buffer
	opts := thauthstart.Options
	opts.Lookup = config.MapLookuper(map[string]string{"THREADS_APP_ID": "1"})
	opts.Logger = logging.New(&logs, slog.LevelInfo)
	h := apicheck.Handler(t, thauthstart.Name, app.Lazy(thauthstart.Name, opts, thauthstart.NewHandler))
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"misconfigured"`) {
			t.Fatalf("answer = %d %s", rec.Code, rec.Body.String())
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line, got %d: %q", len(lines), logs.String())
	}
	for _, name := range []string{"GOOGLE_CLOUD_PROJECT", "THREADS_REDIRECT_URI", "ALLOWED_RETURN_ORIGINS", "DEFAULT_RETURN_TO"} {
		if !strings.Contains(lines[0], name) {
			t.Errorf("log line does not name %s: %s", name, lines[0])
		}
	}
}

// A failing random source must not produce a state.
func TestRandomFailure(t *testing.T) {
	cfg, err := config.Load(testenv.Env{ProjectID: "demo-x"}.Lookup(settings), config.Needs{OAuthStart: true})
	if err != nil {
		t.Fatal(err)
	}
	states := &recordingStates{}
	s := &thauthstart.Server{Config: cfg, Verifier: fixedUser{}, States: states, Random: failingReader{}}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	if err := s.Handle(httptest.NewRecorder(), req); err == nil || states.n != 0 {
		t.Fatalf("Handle = %v with %d states stored; want an error and none", err, states.n)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

type fixedUser struct{}

func (fixedUser) Verify(context.Context, *http.Request) (*auth.User, error) {
	return &auth.User{UID: "u1"}, nil
}

type recordingStates struct{ n int }

func (r *recordingStates) CreateState(context.Context, string, store.OAuthState) error {
	r.n++
	return nil
}
