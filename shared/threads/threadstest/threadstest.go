// Package threadstest is an in-memory fake of the Threads Graph API's OAuth
// endpoints, speaking its wire format (form posts, query parameters, the
// error envelope), for tests that run the functions end to end.
//
// It issues codes and tokens, checks every parameter the real API requires,
// and can be told to fail any endpoint with a Threads error.
package threadstest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Endpoint names for Fail and Calls.
const (
	EndpointCode      = "POST /oauth/access_token"
	EndpointLongLived = "GET /access_token"
	EndpointMe        = "GET /v1.0/me"
)

// User is a Threads user known to the fake.
type User struct {
	ID, Username, Name, PictureURL string
}

// Failure is an error answer the fake gives instead of success.
type Failure struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Message    string
}

// Server is the fake. Create it with Start.
type Server struct {
	*httptest.Server
	AppID, AppSecret, RedirectURI string

	mu        sync.Mutex
	codes     map[string]User // authorization code → user (single use)
	short     map[string]User // short-lived token → user
	long      map[string]User // long-lived token → user
	failures  map[string]Failure
	calls     map[string]int
	numericID bool
}

// Start runs a fake for one app, closed at test cleanup.
func Start(t testing.TB, appID, appSecret, redirectURI string) *Server {
	s := &Server{
		AppID: appID, AppSecret: appSecret, RedirectURI: redirectURI,
		codes: map[string]User{}, short: map[string]User{}, long: map[string]User{},
		failures: map[string]Failure{}, calls: map[string]int{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// IssueCode returns a new single-use authorization code for u, as the
// authorize page would after consent.
func (s *Server) IssueCode(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := "CODE-" + random()
	s.codes[c] = u
	return c
}

// Fail makes endpoint answer f from now on (until Recover).
func (s *Server) Fail(endpoint string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[endpoint] = f
}

// Recover clears every failure.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.failures)
}

// NumericUserID makes the code exchange answer user_id as a JSON number.
func (s *Server) NumericUserID(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numericID = on
}

// Calls returns how many times endpoint was called.
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// Tokens returns every short- and long-lived token issued, for leak checks.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.short {
		out = append(out, t)
	}
	for t := range s.long {
		out = append(out, t)
	}
	return out
}

// UserOfToken returns the user a long-lived token was issued to.
func (s *Server) UserOfToken(token string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.long[token]
	return u, ok
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	endpoint := r.Method + " " + r.URL.Path
	s.mu.Lock()
	s.calls[endpoint]++
	f, failing := s.failures[endpoint]
	s.mu.Unlock()
	if failing {
		writeError(w, f.HTTPStatus, f.Code, f.Subcode, f.Message)
		return
	}
	switch endpoint {
	case EndpointCode:
		s.exchangeCode(w, r)
	case EndpointLongLived:
		s.exchangeLongLived(w, r)
	case EndpointMe:
		s.me(w, r)
	default:
		writeError(w, http.StatusBadRequest, 100, 0, "Unsupported request: "+endpoint)
	}
}

func (s *Server) exchangeCode(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.ParseForm() != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "expected a form body")
		return
	}
	f := r.PostForm
	if f.Get("client_id") != s.AppID || f.Get("client_secret") != s.AppSecret {
		writeError(w, http.StatusBadRequest, 101, 0, "Error validating application. Invalid application ID or secret.")
		return
	}
	if f.Get("grant_type") != "authorization_code" || f.Get("redirect_uri") != s.RedirectURI {
		writeError(w, http.StatusBadRequest, 100, 0, "Invalid grant_type or redirect_uri")
		return
	}
	s.mu.Lock()
	u, ok := s.codes[f.Get("code")]
	delete(s.codes, f.Get("code"))
	tok := "SHORT-" + random()
	if ok {
		s.short[tok] = u
	}
	numeric := s.numericID
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, 100, 36007, "Invalid verification code format or code already used.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if numeric {
		_, _ = w.Write([]byte(`{"access_token":"` + tok + `","user_id":` + u.ID + `}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "user_id": u.ID})
}

func (s *Server) exchangeLongLived(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("grant_type") != "th_exchange_token" || q.Get("client_secret") != s.AppSecret {
		writeError(w, http.StatusBadRequest, 100, 0, "Invalid grant_type or client_secret")
		return
	}
	s.mu.Lock()
	u, ok := s.short[q.Get("access_token")]
	tok := "LONG-" + random()
	if ok {
		s.long[tok] = u
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, 190, 0, "Invalid OAuth access token.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 5183944})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tok := q.Get("access_token")
	s.mu.Lock()
	u, ok := s.short[tok]
	if !ok {
		u, ok = s.long[tok]
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, 190, 0, "Invalid OAuth access token.")
		return
	}
	out := map[string]any{"id": u.ID}
	for _, f := range strings.Split(q.Get("fields"), ",") {
		switch f {
		case "username":
			out["username"] = u.Username
		case "name":
			out["name"] = u.Name
		case "threads_profile_picture_url":
			out["threads_profile_picture_url"] = u.PictureURL
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, status, code, subcode int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": "OAuthException", "code": code, "error_subcode": subcode,
		"is_transient": status >= 500, "fbtrace_id": "FBTRACE-" + random()[:8],
	}})
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
