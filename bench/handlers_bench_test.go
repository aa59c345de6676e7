package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/functions/thauthcallback"
	"threadsfunctions.dev/functions/thauthstart"
	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/tokencrypt"
)

// These micro-benchmarks run the two OAuth handlers as the functions wire
// them (httpx.Route: logging, CORS, errors) with their I/O replaced: no ID
// token check, no Firestore, Threads answered in memory. What is left is the
// functions' own CPU per request, to compare with the whole request's CPU
// measured by the benchmark program.

func benchConfig(b *testing.B, needs config.Needs) *config.Config {
	b.Helper()
	cfg, err := config.Load(config.MapLookuper(map[string]string{
		"GOOGLE_CLOUD_PROJECT":   "demo-bench",
		"THREADS_APP_ID":         appID,
		"THREADS_APP_SECRET":     appSecret,
		"THREADS_REDIRECT_URI":   redirectURI,
		"THREADS_GRAPH_URL":      "https://graph.threads.net",
		"ALLOWED_RETURN_ORIGINS": appOrigin,
		"DEFAULT_RETURN_TO":      defaultBack,
		"CORS_ALLOWED_ORIGINS":   appOrigin,
		"TOKEN_ENCRYPTION_KEY":   "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	}), needs)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

func benchRoute(cfg *config.Config, method string) httpx.Route {
	return httpx.Route{
		Methods:     []string{method},
		AllowOrigin: cfg.CORSOriginAllowed,
		Logger:      logging.New(io.Discard, slog.LevelInfo),
		ProjectID:   cfg.ProjectID,
	}
}

type stubVerifier struct{}

func (stubVerifier) Verify(context.Context, *http.Request) (*auth.User, error) {
	return &auth.User{UID: "0aBcDeFgHiJkLmNoPqRsTuVwXyZ1"}, nil
}

type discardStates struct{}

func (discardStates) CreateState(context.Context, string, store.OAuthState) error { return nil }

// BenchmarkAuthStartHandler is thAuthStart without I/O: the body decoded,
// returnTo checked, a random state generated (randomState is unexported; it
// is measured here through Server.Handle), the authorize URL built, the
// JSON answer and the log line written.
func BenchmarkAuthStartHandler(b *testing.B) {
	cfg := benchConfig(b, config.Needs{OAuthStart: true})
	s := &thauthstart.Server{Config: cfg, Verifier: stubVerifier{}, States: discardStates{}}
	h := benchRoute(cfg, http.MethodPost).Handler(s.Handle)
	body := `{"returnTo":"` + returnTo + `"}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", appOrigin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
}

type fixedState struct{}

func (fixedState) ConsumeState(_ context.Context, _ string, now time.Time) (*store.OAuthState, error) {
	return &store.OAuthState{UID: "0aBcDeFgHiJkLmNoPqRsTuVwXyZ1", Provider: store.Provider, ReturnTo: returnTo,
		CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(9 * time.Minute)}, nil
}

// sealingSaver seals the token as store.SaveAccount does, and writes nothing.
type sealingSaver struct{ k *tokencrypt.Keyring }

func (s sealingSaver) SaveAccount(_ context.Context, uid string, a store.Account, token string) error {
	_, _, err := s.k.Seal([]byte(token), []byte(store.AccountPath(uid, a.AccountID)))
	return err
}

// graphAnswers answers the three OAuth calls in memory.
type graphAnswers struct{}

func (graphAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	var body string
	switch r.URL.Path {
	case "/oauth/access_token":
		body = `{"access_token":"THQVJSHORT0123456789abcdefghijklmnopqrstuvwxyz","user_id":"17841400000000001"}`
	case "/access_token":
		body = `{"access_token":"THQVJLONG0123456789abcdefghijklmnopqrstuvwxyz0123456789","token_type":"bearer","expires_in":5183944}`
	default:
		body = `{"id":"17841400000000001","username":"ada","name":"Ada Lovelace","threads_profile_picture_url":"https://cdn.example.com/ada.jpg"}`
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)),
		Request: r, ContentLength: int64(len(body)),
	}, nil
}

// BenchmarkAuthCallbackHandler is thAuthCallback without I/O: the state
// "consumed", the three Threads calls built and their answers decoded (the
// real client, answered in memory, two of them concurrently), the token
// sealed, the redirect and the log line written.
func BenchmarkAuthCallbackHandler(b *testing.B) {
	cfg := benchConfig(b, config.Needs{OAuthCallback: true, Tokens: true})
	k, err := tokencrypt.ParseKeyring(cfg.TokenEncryptionKey)
	if err != nil {
		b.Fatal(err)
	}
	s := &thauthcallback.Server{
		Config: cfg, States: fixedState{}, Accounts: sealingSaver{k},
		Threads: &threads.Client{AppID: appID, AppSecret: appSecret, RedirectURI: redirectURI,
			GraphURL: cfg.GraphURL, HTTP: &http.Client{Transport: graphAnswers{}}},
	}
	rt := benchRoute(cfg, http.MethodGet)
	rt.AllowOrigin = nil
	h := rt.Handler(s.Handle)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, "/?code=CODE-0123456789abcdef%23_&state=0123456789abcdef0123456789abcdef0123456789a", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusFound || !strings.Contains(w.Header().Get("Location"), "threads=connected") {
			b.Fatalf("HTTP %d to %q", w.Code, w.Header().Get("Location"))
		}
	}
}
