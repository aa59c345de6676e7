// Package threadstest is an in-memory fake of the Threads Graph API, speaking
// its wire format (form posts, query parameters, the error envelope), for
// tests that run the functions end to end: the OAuth endpoints (code
// exchange, long-lived exchange, profile, refresh) and publishing (media
// containers, their status, publishing, the publishing quota).
//
// It issues codes and tokens, checks every parameter the real API requires,
// and can be told to fail any endpoint with a Threads error.
//
// A publishing test typically reads:
//
//	fake := threadstest.Start(t, appID, appSecret, redirectURI)
//	tok := fake.AddAccount(threadstest.User{ID: "17841400000000001", Username: "ada"})
//	fake.SetProcessing(2)                               // media: 2 IN_PROGRESS reads
//	fake.DropAnswerNext(threadstest.EndpointPublish, 1) // published, answer lost
//	// ... run the code under test with GraphURL = fake.URL and tok ...
//	if posts := fake.Published("17841400000000001"); len(posts) != 1 {
//		t.Errorf("published %d posts, want exactly 1", len(posts))
//	}
//
// Outside tests, New makes a fake that is not listening anywhere; serve its
// Handler from a server of your own, as the Threads simulator
// (tools/threadsim) does. Accounts and Container let such a program show
// what the fake holds.
//
// # Endpoints
//
// Endpoint names are "METHOD /path" patterns, with placeholders as in
// [net/http.ServeMux]; Fail, FailNext, DropAnswerNext and Calls take them:
//
//	EndpointCode      POST /oauth/access_token
//	EndpointLongLived GET  /access_token
//	EndpointMe        GET  /v1.0/me
//	EndpointRefresh   GET  /refresh_access_token
//	EndpointCreate    POST /v1.0/{user}/threads
//	EndpointPublish   POST /v1.0/{user}/threads_publish
//	EndpointStatus    GET  /v1.0/{container}
//	EndpointLimit     GET  /v1.0/{user}/threads_publishing_limit
//
// Any other request is counted under its literal "METHOD /path" and answered
// code 100.
//
// # Checks
//
// Every token issued (short-lived, long-lived, refreshed, or by AddAccount)
// works on every endpoint until RevokeToken. The publishing endpoints and
// refresh check each request exactly: a parameter given twice, empty,
// unknown to the endpoint, or missing when required answers HTTP 400 code
// 100; a missing access_token answers code 100 too; an unknown token answers
// code 190, a revoked one code 190 subcode 458. {user} must be the token's
// user id or "me", otherwise code 100 subcode 33 (the Graph API's "object
// does not exist or no permission"), as for any unknown or foreign container
// or media id. POST parameters may come in the form body or the query, as
// with the real API. The "fields" parameter is optional (default "id" for
// a container, "quota_usage" for the limit); unknown fields answer code 100.
//
// Container creation checks what Meta documents: media_type is TEXT (needs
// text), IMAGE (needs image_url), VIDEO (needs video_url) or CAROUSEL
// (needs 2 to 20 children); text is at most 500 UTF-8 bytes; at most 5
// distinct links (every URL in text, link_attachment and text_attachment's
// link_attachment_url, each distinct URL counted once; error message
// THREADS_API__LINK_LIMIT_EXCEEDED, code 100); link_attachment,
// poll_attachment, text_attachment, gif_attachment and auto_publish_text are
// for TEXT only; a poll (JSON with option_a, option_b and optional option_c,
// option_d, nothing else) not with a link or a text attachment;
// is_carousel_item only on IMAGE and VIDEO; reply_control one of the
// documented values; booleans "true" or "false". Carousel children must
// exist, belong to the user, be carousel items and be FINISHED: a child
// still IN_PROGRESS answers code 24 subcode 4279009 like an early publish; a
// child in ERROR, EXPIRED or PUBLISHED answers code 100. reply_to_id must be
// the media id of a published post (of any user): any other id answers code
// 100 subcode 33, as an unknown object does. (quote_post_id is not checked.)
//
// The newer post features are checked as exactly, each failure answering
// HTTP 400 code 100:
//   - text_attachment is a JSON object {"plaintext": 1 to 10,000 characters
//     (runes), "link_attachment_url"?: an absolute http(s) URL,
//     "text_with_styling_info"?: a non-empty list of {"offset": ≥ 0,
//     "length": ≥ 1, "styling_info": one or more of bold, italic, highlight,
//     underline, strikethrough, none twice}}; styling ranges lie inside the
//     plaintext and do not overlap; no link_attachment_url when the post has
//     a link_attachment;
//   - text_entities is a JSON list of 1 to 10 {"entity_type": "SPOILER",
//     "offset": ≥ 0, "length": ≥ 1}, each range inside text (counted in
//     runes), none overlapping;
//   - is_spoiler_media=true only on IMAGE, VIDEO (carousel items included)
//     and CAROUSEL;
//   - is_ghost_post=true only on TEXT, and not with reply_to_id,
//     quote_post_id, poll_attachment, link_attachment, text_attachment or
//     gif_attachment (text_entities, topic_tag and reply_control may go with
//     it);
//   - gif_attachment is a JSON object {"gif_id": non-empty, "provider":
//     "GIPHY"}, not with poll_attachment, link_attachment or text_attachment;
//   - allowlisted_country_codes is, in either reading (the format is
//     unconfirmed), a comma-separated list (US,CA) or a JSON list of strings
//     (["US","CA"]): 1 to 50 codes of two upper-case ASCII letters, none
//     twice.
//
// JSON parameters are decoded strictly: one value and nothing after it,
// every key known and given once (matched exactly, case included), numbers
// whole where whole numbers are due. Published posts carry these features
// decoded (Post.TextAttachment, TextEntities, SpoilerMedia, GhostPost, GIF,
// AllowlistedCountryCodes, ReplyToID) beside their raw Params.
//
// # Publishing
//
// TEXT and CAROUSEL containers are FINISHED at once. IMAGE and VIDEO
// containers (carousel items included) report IN_PROGRESS for the number of
// status reads set by SetProcessing (0 by default), then FINISHED; only
// status reads advance processing, publish attempts do not. SetContainerOutcome
// makes the next container end in ERROR or EXPIRED instead.
//
// Publishing a FINISHED container publishes it (a new media id, recorded for
// Published) and its status becomes PUBLISHED. Publishing a container
// that is:
//   - IN_PROGRESS answers HTTP 400 code 24 subcode 4279009 "Media Not Found";
//   - PUBLISHED answers HTTP 400 code 100 "already published" and never posts
//     again (what Threads really answers is unconfirmed: callers must not
//     depend on the code, but read the container's status);
//   - ERROR or EXPIRED answers HTTP 400 code 100;
//   - a carousel item answers HTTP 400 code 100 (it is published through its
//     carousel).
//
// A TEXT container created with auto_publish_text=true is published at
// creation and the answer's id is the media id. Asking the status (or
// error_message) of a media id answers code 100; a media id can be read for
// id, media_type and text.
//
// Each publish counts toward the user's quota: replies (reply_to_id) toward
// reply_quota_usage (1000), other posts toward quota_usage (250), a carousel
// once. SetQuotaUsage sets quota_usage. Publishing over the quota answers
// HTTP 400 code 4 (a rate limit, so threads.APIError.Temporary is true;
// Threads' exact answer is undocumented). The rolling 24-hour window is not
// modelled: usage only grows.
//
// Refreshing (GET /refresh_access_token?grant_type=th_refresh_token) gives a
// new long-lived token for the same user; the old one keeps working. Only
// long-lived tokens can be refreshed (a short-lived one answers code 100);
// the 24-hour minimum age is not modelled.
//
// # Faults
//
// Fail makes an endpoint fail until Recover; FailNext fails its next n
// calls; DropAnswerNext makes the next n calls take effect (a container is
// created, a post really published) and then closes the connection without
// an answer, as when an answer is lost on the way back; SetLatency delays
// every answer, after its effect. Go's transport replays an idempotent
// request (GET) whose answer was lost on a reused keep-alive connection, so a
// dropped GET may be retried at once and counted again; a POST never is.
//
// Every method is safe for concurrent use.
package threadstest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint names of the OAuth calls, for Fail, FailNext, DropAnswerNext and
// Calls.
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

// Server is the fake. Create it with Start in tests, or with New to serve
// it from a server of one's own (Handler).
type Server struct {
	// Server is the test server started by Start; nil for a fake made with
	// New.
	*httptest.Server
	AppID, AppSecret, RedirectURI string

	// stop is closed at cleanup, ending SetLatency waits.
	stop chan struct{}
	// handler serves the endpoints; see Handler.
	handler http.Handler

	// mu guards everything below, the publishing state included.
	mu        sync.Mutex
	codes     map[string]User // authorization code → user (single use)
	short     map[string]User // short-lived token → user
	long      map[string]User // long-lived token → user (also AddAccount, refresh)
	revoked   map[string]bool // tokens revoked by RevokeToken
	failures  map[string]Failure
	failNext  map[string]failNext // endpoint → failures still to give
	dropNext  map[string]int      // endpoint → answers still to drop
	latency   time.Duration
	calls     map[string]int
	numericID bool
	pub       publishing
	// users are the users codes or accounts were issued to, by id (the
	// latest wins); see Accounts.
	users map[string]User
}

// failNext is a FailNext order: fail the next n calls with f.
type failNext struct {
	n int
	f Failure
}

// Start runs a fake for one app, closed at test cleanup.
func Start(t testing.TB, appID, appSecret, redirectURI string) *Server {
	s := New(appID, appSecret, redirectURI)
	s.Server = httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		close(s.stop)
		s.Close()
	})
	return s
}

// IssueCode returns a new single-use authorization code for u, as the
// authorize page would after consent.
func (s *Server) IssueCode(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := "CODE-" + random()
	s.codes[c] = u
	s.users[u.ID] = u
	return c
}

// Fail makes endpoint answer f from now on (until Recover). FailNext, when
// set for the same endpoint, is used up first.
func (s *Server) Fail(endpoint string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[endpoint] = f
}

// Recover clears every failure, those of FailNext included.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.failures)
	clear(s.failNext)
}

// NumericUserID makes the code exchange answer user_id as a JSON number.
func (s *Server) NumericUserID(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numericID = on
}

// Calls returns how many times endpoint was called, failed and dropped calls
// included.
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// Tokens returns every short- and long-lived token issued (by the OAuth
// flow, AddAccount or refresh), revoked ones included, for leak checks.
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

// routes maps each endpoint pattern to its handler, wrapped by endpoint.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, e := range []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{EndpointCode, s.exchangeCode},
		{EndpointLongLived, s.exchangeLongLived},
		{EndpointMe, s.me},
		{EndpointRefresh, s.refresh},
		{EndpointCreate, s.createContainer},
		{EndpointPublish, s.publish},
		{EndpointStatus, s.status},
		{EndpointLimit, s.limit},
	} {
		mux.Handle(e.pattern, s.endpoint(e.pattern, e.h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		endpoint := r.Method + " " + r.URL.Path
		s.endpoint(endpoint, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusBadRequest, 100, 0, "Unsupported request: "+endpoint)
		})(w, r)
	})
	return mux
}

// endpoint wraps the handler of one endpoint: it counts the call, answers a
// failure set by FailNext or Fail instead of running h, and then either
// drops the answer (DropAnswerNext) or writes it after the latency.
func (s *Server) endpoint(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[name]++
		f, failing := s.takeFailure(name)
		drop := s.dropNext[name] > 0
		if drop {
			s.dropNext[name]--
		}
		latency := s.latency
		s.mu.Unlock()

		// The answer is recorded first, so that the effect happens before
		// the answer is delayed or lost, as with a real server.
		rec := httptest.NewRecorder()
		if failing {
			writeError(rec, f.HTTPStatus, f.Code, f.Subcode, f.Message)
		} else {
			h(rec, r)
		}
		if drop {
			dropConnection(w, r)
			return
		}
		if latency > 0 {
			timer := time.NewTimer(latency)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			case <-s.stop:
				return
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

// takeFailure returns the failure endpoint must answer now, using up one of
// FailNext's. s.mu must be held.
func (s *Server) takeFailure(endpoint string) (Failure, bool) {
	if fn, ok := s.failNext[endpoint]; ok {
		fn.n--
		if fn.n <= 0 {
			delete(s.failNext, endpoint)
		} else {
			s.failNext[endpoint] = fn
		}
		return fn.f, true
	}
	f, ok := s.failures[endpoint]
	return f, ok
}

// dropConnection closes the client's connection without an answer, once the
// whole request has been read.
func dropConnection(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not hijackable (HTTP/2): aborting the handler resets the stream.
	panic(http.ErrAbortHandler)
}

// userOfToken returns the user of a valid (issued and not revoked) short- or
// long-lived token. s.mu must be held.
func (s *Server) userOfToken(tok string) (User, bool) {
	if tok == "" || s.revoked[tok] {
		return User{}, false
	}
	if u, ok := s.short[tok]; ok {
		return u, true
	}
	u, ok := s.long[tok]
	return u, ok
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
	if numeric {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"` + tok + `","user_id":` + u.ID + `}`))
		return
	}
	writeJSON(w, map[string]any{"access_token": tok, "user_id": u.ID})
}

func (s *Server) exchangeLongLived(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("grant_type") != "th_exchange_token" || q.Get("client_secret") != s.AppSecret {
		writeError(w, http.StatusBadRequest, 100, 0, "Invalid grant_type or client_secret")
		return
	}
	s.mu.Lock()
	u, ok := s.short[q.Get("access_token")]
	ok = ok && !s.revoked[q.Get("access_token")]
	tok := "LONG-" + random()
	if ok {
		s.long[tok] = u
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, 190, 0, "Invalid OAuth access token.")
		return
	}
	writeJSON(w, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 5183944})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tok := q.Get("access_token")
	s.mu.Lock()
	u, ok := s.userOfToken(tok)
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
	writeJSON(w, out)
}

// writeError writes Threads' error JSON, with type OAuthException.
func writeError(w http.ResponseWriter, status, code, subcode int, msg string) {
	apiError{status: status, code: code, subcode: subcode, msg: msg}.write(w)
}

// apiError is an error answer of the fake.
type apiError struct {
	status, code, subcode int
	// typ defaults to OAuthException.
	typ, msg, userTitle, userMsg string
}

func (e apiError) write(w http.ResponseWriter) {
	typ := e.typ
	if typ == "" {
		typ = "OAuthException"
	}
	body := map[string]any{
		"message": e.msg, "type": typ, "code": e.code, "error_subcode": e.subcode,
		"is_transient": e.status >= 500, "fbtrace_id": "FBTRACE-" + random()[:8],
	}
	if e.userTitle != "" {
		body["error_user_title"] = e.userTitle
	}
	if e.userMsg != "" {
		body["error_user_msg"] = e.userMsg
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
