package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/shared/signedrequest"
	"threadsfunctions.dev/shared/threads"
)

const (
	testAppID       = "test-app"
	testAppSecret   = "test-secret"
	testRedirectURI = "http://127.0.0.1:8081/thAuthCallback"
	testScope       = "threads_basic,threads_content_publish"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sim is a simulator listening on 127.0.0.1:0 for one test.
type sim struct {
	base string
	log  *syncBuffer
}

func startSim(t *testing.T, polls int) *sim {
	t.Helper()
	logs := &syncBuffer{}
	cfg := config{
		AppID: testAppID, AppSecret: testAppSecret, RedirectURI: testRedirectURI,
		ProcessingPolls: polls, Log: logs,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: newServer(cfg)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &sim{base: "http://" + ln.Addr().String(), log: logs}
}

// noRedirect does not follow redirects: the redirect URI is not served.
var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// fetch sends a request and returns the answer with its body read.
func fetch(t *testing.T, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// authorizeQuery is a valid authorize query, with changes.
func authorizeQuery(changes map[string]string) url.Values {
	q := url.Values{
		"client_id": {testAppID}, "redirect_uri": {testRedirectURI}, "scope": {testScope},
		"response_type": {"code"}, "state": {"state-123"},
	}
	for k, v := range changes {
		if v == "-" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return q
}

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	imgSrc      = regexp.MustCompile(`<img[^>]*\ssrc="([^"]*)"`)
)

// consentForm loads the consent page and returns the form a browser would
// post: its hidden fields, as the page carries them.
func (s *sim) consentForm(t *testing.T, q url.Values) url.Values {
	t.Helper()
	resp, page := fetch(t, http.MethodGet, s.base+"/oauth/authorize?"+q.Encode(), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize page: %d\n%s", resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return form
}

// decide posts the consent form and returns the redirect's Location.
func (s *sim) decide(t *testing.T, form url.Values, decision, username string) *url.URL {
	t.Helper()
	form = cloneForm(form)
	form.Set("decision", decision)
	form.Set("username", username)
	resp, page := fetch(t, http.MethodPost, s.base+"/oauth/authorize", form)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST authorize (%s): %d, want 302\n%s", decision, resp.StatusCode, page)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}

// feedJSON is the shape of /feed.json.
type feedJSON struct {
	Accounts []struct {
		ID, Username, Name, PictureURL string
		Posts                          []struct {
			MediaID, ContainerID, MediaType, Text string
			Children                              []string
			Params                                map[string]string
			MediaURLs                             []string
		}
	}
}

func (s *sim) feedJSON(t *testing.T) feedJSON {
	t.Helper()
	resp, body := fetch(t, http.MethodGet, s.base+"/feed.json", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("/feed.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out feedJSON
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("/feed.json: %v\n%s", err, body)
	}
	return out
}

func TestAuthorizePage(t *testing.T) {
	s := startSim(t, 0)
	resp, page := fetch(t, http.MethodGet, s.base+"/oauth/authorize?"+authorizeQuery(nil).Encode(), nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("authorize page: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<form method="post" action="/oauth/authorize">`,
		`id="username" name="username" value="sim_user"`,
		`pattern="[a-z0-9._]{1,30}"`,
		`<button type="submit" id="allow" name="decision" value="allow">Allow</button>`,
		`<button type="submit" id="deny" name="decision" value="deny" formnovalidate>Deny</button>`,
		`<span id="app-id">` + testAppID + `</span>`,
		`data-scope="threads_basic"`,
		`data-scope="threads_content_publish"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("authorize page lacks %s", want)
		}
	}
	// Allow comes first, so that Enter in the username field allows.
	if strings.Index(page, `id="allow"`) > strings.Index(page, `id="deny"`) {
		t.Error("Deny precedes Allow: Enter would deny")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(page, "<script") || strings.Contains(page, `<link`) {
		t.Error("authorize page loads scripts or stylesheets")
	}
	form := s.consentForm(t, authorizeQuery(nil))
	want := authorizeQuery(nil)
	for k := range want {
		if form.Get(k) != want.Get(k) {
			t.Errorf("hidden field %s = %q, want %q", k, form.Get(k), want.Get(k))
		}
	}
}

// TestConnectAndPublish runs what thAuthCallback and thPublish do, with the
// real client: consent, code exchange, long-lived exchange, profile, then
// text, image and carousel posts, and finds them in the feed.
func TestConnectAndPublish(t *testing.T) {
	s := startSim(t, 1)
	ctx := t.Context()
	loc := s.decide(t, s.consentForm(t, authorizeQuery(nil)), "allow", "ada")

	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirectURI {
		t.Fatalf("redirected to %s, want %s", got, testRedirectURI)
	}
	if loc.Fragment != "_" || !strings.HasSuffix(loc.String(), "#_") {
		t.Errorf("redirect %q lacks the #_ fragment", loc)
	}
	code, state := loc.Query().Get("code"), loc.Query().Get("state")
	if code == "" || state != "state-123" || loc.Query().Has("error") {
		t.Fatalf("redirect query %q", loc.RawQuery)
	}

	c := &threads.Client{AppID: testAppID, AppSecret: testAppSecret, RedirectURI: testRedirectURI, GraphURL: s.base}
	short, err := c.ExchangeCode(ctx, code)
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	wantID := userID("ada")
	if short.UserID != wantID {
		t.Errorf("user id %q, want %q", short.UserID, wantID)
	}
	if _, err := c.ExchangeCode(ctx, code); err == nil {
		t.Error("a code was accepted twice")
	}
	long, err := c.ExchangeLongLived(ctx, short.AccessToken)
	if err != nil {
		t.Fatalf("ExchangeLongLived: %v", err)
	}
	me, err := c.Me(ctx, long.AccessToken)
	if err != nil {
		t.Fatalf("Me: %v", err)
	}
	want := threads.Profile{ID: wantID, Username: "ada", Name: "Ada", PictureURL: s.base + "/avatar/ada.svg"}
	if *me != want {
		t.Errorf("Me = %+v, want %+v", *me, want)
	}
	resp, avatar := fetch(t, http.MethodGet, me.PictureURL, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(avatar, "<svg") {
		t.Errorf("profile picture: %d %.40q", resp.StatusCode, avatar)
	}

	// A text post: container, then publish.
	tok := long.AccessToken
	textContainer, err := c.CreateContainer(ctx, me.ID, tok, threads.ContainerParams{MediaType: threads.MediaText, Text: "Hello from <the> simulator"})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	textMedia, err := c.Publish(ctx, me.ID, tok, textContainer)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}

	// Media processes for one status read (THREADSIM_PROCESSING_POLLS=1).
	finish := func(id string) {
		t.Helper()
		for i, want := range []string{threads.StatusInProgress, threads.StatusFinished} {
			st, err := c.ContainerStatus(ctx, tok, id)
			if err != nil || st.Status != want {
				t.Fatalf("status read %d of %s: %+v %v, want %s", i+1, id, st, err, want)
			}
		}
	}
	img, err := c.CreateContainer(ctx, me.ID, tok, threads.ContainerParams{MediaType: threads.MediaImage, ImageURL: "https://cdn.example.com/a.jpg", Text: "an image"})
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *threads.APIError
	if _, err := c.Publish(ctx, me.ID, tok, img); !errors.As(err, &apiErr) || !apiErr.MediaNotReady() {
		t.Errorf("publishing an image still processing: %v, want Media Not Found", err)
	}
	finish(img)
	imgMedia, err := c.Publish(ctx, me.ID, tok, img)
	if err != nil {
		t.Fatal(err)
	}

	var items []string
	for _, u := range []string{"https://cdn.example.com/1.jpg", "https://cdn.example.com/2.mp4"} {
		p := threads.ContainerParams{MediaType: threads.MediaImage, ImageURL: u, IsCarouselItem: true}
		if strings.HasSuffix(u, ".mp4") {
			p = threads.ContainerParams{MediaType: threads.MediaVideo, VideoURL: u, IsCarouselItem: true}
		}
		id, err := c.CreateContainer(ctx, me.ID, tok, p)
		if err != nil {
			t.Fatal(err)
		}
		finish(id)
		items = append(items, id)
	}
	carousel, err := c.CreateContainer(ctx, me.ID, tok, threads.ContainerParams{MediaType: threads.MediaCarousel, Children: items, Text: "two things"})
	if err != nil {
		t.Fatal(err)
	}
	carouselMedia, err := c.Publish(ctx, me.ID, tok, carousel)
	if err != nil {
		t.Fatal(err)
	}

	// /feed.json: one account, posts newest first.
	feed := s.feedJSON(t)
	if len(feed.Accounts) != 1 {
		t.Fatalf("feed has %d accounts, want 1: %+v", len(feed.Accounts), feed)
	}
	a := feed.Accounts[0]
	if a.ID != wantID || a.Username != "ada" || a.Name != "Ada" || a.PictureURL != me.PictureURL {
		t.Errorf("account %+v", a)
	}
	if len(a.Posts) != 3 {
		t.Fatalf("account has %d posts, want 3: %+v", len(a.Posts), a.Posts)
	}
	posts := []struct{ media, container, typ, text string }{
		{carouselMedia, carousel, "CAROUSEL", "two things"},
		{imgMedia, img, "IMAGE", "an image"},
		{textMedia, textContainer, "TEXT", "Hello from <the> simulator"},
	}
	for i, want := range posts {
		got := a.Posts[i]
		if got.MediaID != want.media || got.ContainerID != want.container || got.MediaType != want.typ || got.Text != want.text {
			t.Errorf("post %d = %+v, want %+v", i, got, want)
		}
		if got.Params["media_type"] != want.typ || got.Params["access_token"] != "" {
			t.Errorf("post %d params %v", i, got.Params)
		}
	}
	if got := a.Posts[0]; !slices.Equal(got.Children, items) || !slices.Equal(got.MediaURLs, []string{"https://cdn.example.com/1.jpg", "https://cdn.example.com/2.mp4"}) {
		t.Errorf("carousel children %v, media %v", got.Children, got.MediaURLs)
	}
	if got := a.Posts[1].MediaURLs; !slices.Equal(got, []string{"https://cdn.example.com/a.jpg"}) {
		t.Errorf("image media %v", got)
	}
	if got := a.Posts[2]; got.Children == nil || len(got.Children) != 0 || got.MediaURLs == nil {
		t.Errorf("text post children %v, media %v: want empty lists, not null", got.Children, got.MediaURLs)
	}

	// /feed and /: the same posts, as articles.
	for _, path := range []string{"/feed", "/"} {
		resp, page := fetch(t, http.MethodGet, s.base+path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		var at []int
		for _, want := range posts {
			article := fmt.Sprintf(`<article class="post" data-account="ada" data-media-id="%s" data-media-type="%s">`, want.media, want.typ)
			at = append(at, strings.Index(page, article))
			if !strings.Contains(page, article) {
				t.Errorf("%s lacks %s", path, article)
			}
		}
		if !slices.IsSorted(at) {
			t.Errorf("%s: posts not newest first (%v)", path, at)
		}
		for _, want := range []string{
			"Hello from &lt;the&gt; simulator",
			`data-children="2"`,
			`<a href="https://cdn.example.com/1.jpg" rel="noopener noreferrer nofollow">`,
			`<a href="https://cdn.example.com/2.mp4" rel="noopener noreferrer nofollow">`,
			`<a href="https://cdn.example.com/a.jpg" rel="noopener noreferrer nofollow">`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
		for _, m := range imgSrc.FindAllStringSubmatch(page, -1) {
			if !strings.HasPrefix(m[1], "/avatar/") {
				t.Errorf("%s shows an image from %q: only the simulator's avatars are allowed", path, m[1])
			}
		}
		if strings.Contains(page, "<script") || strings.Contains(page, "<link") {
			t.Errorf("%s loads scripts or stylesheets", path)
		}
	}

	// The log names paths, never queries (they carry tokens and secrets).
	logs := s.log.String()
	for _, secret := range []string{tok, short.AccessToken, code, testAppSecret, "access_token=", "?"} {
		if strings.Contains(logs, secret) {
			t.Errorf("request log holds %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{"GET /oauth/authorize 200", "POST /oauth/authorize 302", "POST /oauth/access_token 200", "GET /access_token 200", "GET /v1.0/me 200", "POST /v1.0/" + wantID + "/threads_publish 200"} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %q:\n%s", want, logs)
		}
	}
}

func TestSameUsernameSameAccount(t *testing.T) {
	s := startSim(t, 0)
	form := s.consentForm(t, authorizeQuery(nil))
	codes := map[string]bool{}
	for range 2 {
		codes[s.decide(t, form, "allow", "bob.b_2").Query().Get("code")] = true
	}
	s.decide(t, form, "allow", "sim_user")
	if len(codes) != 2 {
		t.Errorf("codes %v: want a new one each time", codes)
	}
	feed := s.feedJSON(t)
	var names []string
	for _, a := range feed.Accounts {
		names = append(names, a.Username+"="+a.ID)
	}
	want := []string{"bob.b_2=" + userID("bob.b_2"), "sim_user=" + userID("sim_user")}
	if !slices.Equal(names, want) {
		t.Errorf("accounts %v, want %v", names, want)
	}
	resp, page := fetch(t, http.MethodGet, s.base+"/feed", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<img src="/avatar/bob.b_2.svg"`) || !strings.Contains(page, "No posts yet.") {
		t.Errorf("feed: %d\n%s", resp.StatusCode, page)
	}
}

func TestDeny(t *testing.T) {
	s := startSim(t, 0)
	// Deny works whatever the username field holds.
	loc := s.decide(t, s.consentForm(t, authorizeQuery(nil)), "deny", "NOT A NAME")
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirectURI {
		t.Fatalf("redirected to %s", got)
	}
	want := url.Values{
		"error": {"access_denied"}, "error_reason": {"user_denied"},
		"error_description": {"Permissions error."}, "state": {"state-123"},
	}
	if q := loc.Query(); q.Encode() != want.Encode() {
		t.Errorf("deny redirect query %v, want %v", q, want)
	}
	if !strings.Contains(loc.RawQuery, "error_description=Permissions+error.") || loc.Fragment != "" {
		t.Errorf("deny redirect %q", loc)
	}
	if feed := s.feedJSON(t); len(feed.Accounts) != 0 {
		t.Errorf("deny made accounts: %+v", feed)
	}
}

// TestInvalidAuthorize: a wrong parameter answers a 400 page naming it and
// never redirects, on the page and on the form's post alike.
func TestInvalidAuthorize(t *testing.T) {
	s := startSim(t, 0)
	for _, tc := range []struct {
		name    string
		changes map[string]string
		param   string
	}{
		{"wrong redirect_uri", map[string]string{"redirect_uri": "http://127.0.0.1:9999/evil"}, "redirect_uri"},
		{"redirect_uri with a trailing slash", map[string]string{"redirect_uri": testRedirectURI + "/"}, "redirect_uri"},
		{"no redirect_uri", map[string]string{"redirect_uri": "-"}, "redirect_uri"},
		{"wrong client_id", map[string]string{"client_id": "facebook-app"}, "client_id"},
		{"no client_id", map[string]string{"client_id": "-"}, "client_id"},
		{"response_type token", map[string]string{"response_type": "token"}, "response_type"},
		{"no threads_basic", map[string]string{"scope": "threads_content_publish"}, "scope"},
		{"no scope", map[string]string{"scope": "-"}, "scope"},
		{"unknown scope", map[string]string{"scope": "threads_basic,email"}, "scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := authorizeQuery(tc.changes)
			check := func(what string, resp *http.Response, page string) {
				t.Helper()
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Errorf("%s: %d, Location %q; want 400 without redirect", what, resp.StatusCode, resp.Header.Get("Location"))
				}
				if !strings.Contains(page, `id="error"`) || !strings.Contains(page, `data-param="`+tc.param+`"`) {
					t.Errorf("%s: page does not name %s:\n%s", what, tc.param, page)
				}
				if strings.Contains(page, "<form") {
					t.Errorf("%s: error page offers the consent form", what)
				}
			}
			resp, page := fetch(t, http.MethodGet, s.base+"/oauth/authorize?"+q.Encode(), nil)
			check("GET", resp, page)
			form := cloneForm(q)
			form.Set("decision", "allow")
			form.Set("username", "mallory")
			resp, page = fetch(t, http.MethodPost, s.base+"/oauth/authorize", form)
			check("POST", resp, page)
		})
	}
	if feed := s.feedJSON(t); len(feed.Accounts) != 0 {
		t.Errorf("invalid requests issued codes: %+v", feed)
	}
}

func TestInvalidDecision(t *testing.T) {
	s := startSim(t, 0)
	form := s.consentForm(t, authorizeQuery(nil))
	for _, tc := range []struct {
		name, decision, username, want string
		status                         int
	}{
		{"empty username", "allow", "", `id="username-error"`, http.StatusBadRequest},
		{"upper case", "allow", "Ada", `id="username-error"`, http.StatusBadRequest},
		{"space", "allow", "a b", `id="username-error"`, http.StatusBadRequest},
		{"31 characters", "allow", strings.Repeat("a", 31), `id="username-error"`, http.StatusBadRequest},
		{"non-ASCII", "allow", "adé", `id="username-error"`, http.StatusBadRequest},
		{"no decision", "", "ada", `data-param="decision"`, http.StatusBadRequest},
		{"unknown decision", "maybe", "ada", `data-param="decision"`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := cloneForm(form)
			f.Set("decision", tc.decision)
			f.Set("username", tc.username)
			resp, page := fetch(t, http.MethodPost, s.base+"/oauth/authorize", f)
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != "" || !strings.Contains(page, tc.want) {
				t.Errorf("%d, Location %q, page lacks %s:\n%s", resp.StatusCode, resp.Header.Get("Location"), tc.want, page)
			}
		})
	}
	// The decision needs a POST: GET with decision=allow only shows the page.
	q := authorizeQuery(map[string]string{"decision": "allow", "username": "ada"})
	if resp, page := fetch(t, http.MethodGet, s.base+"/oauth/authorize?"+q.Encode(), nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="allow"`) {
		t.Errorf("GET with a decision: %d", resp.StatusCode)
	}
	if resp, _ := fetch(t, http.MethodPut, s.base+"/oauth/authorize", form); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if feed := s.feedJSON(t); len(feed.Accounts) != 0 {
		t.Errorf("refused decisions issued codes: %+v", feed)
	}
}

func TestStaticPaths(t *testing.T) {
	s := startSim(t, 0)
	for _, tc := range []struct {
		path, contentType, body string
		status                  int
	}{
		{"/healthz", "text/plain; charset=utf-8", "ok", http.StatusOK},
		{"/avatar/ada.svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"`, http.StatusOK},
		{"/avatar/sim_user.svg", "image/svg+xml", `>S</text>`, http.StatusOK},
		{"/avatar/Ada.svg", "", "", http.StatusNotFound},
		{"/avatar/ada.png", "", "", http.StatusNotFound},
		{"/avatar/" + strings.Repeat("a", 31) + ".svg", "", "", http.StatusNotFound},
		{"/feed", "text/html; charset=utf-8", `id="no-accounts"`, http.StatusOK},
		{"/", "text/html; charset=utf-8", `id="no-accounts"`, http.StatusOK},
		{"/feed.json", "application/json", `"accounts": []`, http.StatusOK},
		// Everything else is the Graph API's.
		{"/v1.0/me?access_token=nope", "application/json", `"code":190`, http.StatusBadRequest},
		{"/v1.0/me/threads", "application/json", `"code":100`, http.StatusBadRequest},
		{"/nothing/here", "application/json", `Unsupported request: GET /nothing/here`, http.StatusBadRequest},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := fetch(t, http.MethodGet, s.base+tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.contentType)
			}
			if tc.path == "/healthz" && body != "ok" || !strings.Contains(body, tc.body) {
				t.Errorf("body %q lacks %q", body, tc.body)
			}
		})
	}
	if strings.Contains(s.log.String(), "nope") {
		t.Errorf("the log holds a query:\n%s", s.log.String())
	}
}

func TestUserID(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"sim_user", "ada", "bob", "a", "x.y_z", strings.Repeat("z", 30)} {
		id := userID(name)
		if len(id) != 17 || !strings.HasPrefix(id, "1784140") || strings.Trim(id, "0123456789") != "" {
			t.Errorf("userID(%q) = %q: want 17 digits starting 1784140", name, id)
		}
		if id != userID(name) {
			t.Errorf("userID(%q) is not stable", name)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("userID(%q) = userID(%q)", name, other)
		}
		seen[id] = name
	}
	for in, want := range map[string]string{"sim_user": "Sim_user", "ada": "Ada", "9lives": "9lives", ".dot": ".dot"} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	defaults := config{
		Addr: "127.0.0.1:8090", AppID: "sim-app-id", AppSecret: "sim-app-secret",
		RedirectURI: "http://127.0.0.1:8081/thAuthCallback", ProcessingPolls: 2,
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr []string
	}{
		{name: "defaults", want: defaults},
		{
			name: "environment",
			env: map[string]string{
				"THREADSIM_ADDR": "127.0.0.1:9000", "THREADSIM_APP_ID": "id", "THREADSIM_APP_SECRET": "secret",
				"THREADSIM_REDIRECT_URI": "https://fn.example.com/cb", "THREADSIM_PROCESSING_POLLS": "0", "THREADSIM_LATENCY": "250ms",
			},
			want: config{Addr: "127.0.0.1:9000", AppID: "id", AppSecret: "secret", RedirectURI: "https://fn.example.com/cb", Latency: 250 * time.Millisecond},
		},
		{
			name: "flags",
			args: []string{"-addr", ":0", "-app-id", "fid", "-app-secret", "fs", "-redirect-uri", "http://localhost:1/cb", "-processing-polls", "5", "-latency", "1s"},
			want: config{Addr: ":0", AppID: "fid", AppSecret: "fs", RedirectURI: "http://localhost:1/cb", ProcessingPolls: 5, Latency: time.Second},
		},
		{
			name: "the environment wins over flags",
			args: []string{"-addr", "127.0.0.1:1", "-app-id", "flag-id"},
			env:  map[string]string{"THREADSIM_ADDR": "127.0.0.1:2"},
			want: config{Addr: "127.0.0.1:2", AppID: "flag-id", AppSecret: "sim-app-secret", RedirectURI: defaults.RedirectURI, ProcessingPolls: 2},
		},
		{
			name: "every problem at once",
			env: map[string]string{
				"THREADSIM_ADDR": "nowhere", "THREADSIM_REDIRECT_URI": "/thAuthCallback",
				"THREADSIM_PROCESSING_POLLS": "-1", "THREADSIM_LATENCY": "soon",
			},
			args:    []string{"-app-id", " "},
			wantErr: []string{"THREADSIM_ADDR", "THREADSIM_APP_ID", "THREADSIM_REDIRECT_URI", "THREADSIM_PROCESSING_POLLS", "THREADSIM_LATENCY"},
		},
		{name: "stray argument", args: []string{"serve"}, wantErr: []string{"unexpected arguments"}},
		{name: "unknown flag", args: []string{"-port", "1"}, wantErr: []string{"flag provided but not defined"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestRun runs the command as main does: it announces its address, serves,
// and shuts down when its context ends.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	env := map[string]string{"THREADSIM_ADDR": "127.0.0.1:0"}
	go func() {
		done <- run(ctx, []string{"-addr", "bad address"}, func(k string) string { return env[k] }, out)
	}()

	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; {
		if _, after, ok := strings.Cut(out.String(), "threadsim listening on "); ok {
			base, _, _ = strings.Cut(after, "\n")
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("listening on %q", base)
	}
	if resp, body := fetch(t, http.MethodGet, base+"/healthz", nil); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	fetch(t, http.MethodGet, base+"/refresh_access_token?grant_type=th_refresh_token&access_token=SECRET-TOKEN", nil)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
	logs := out.String()
	if !strings.Contains(logs, "GET /healthz 200") || !strings.Contains(logs, "GET /refresh_access_token 400") {
		t.Errorf("request log:\n%s", logs)
	}
	if strings.Contains(logs, "SECRET-TOKEN") {
		t.Errorf("the log holds a token:\n%s", logs)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}

	if err := run(t.Context(), []string{"-processing-polls", "many"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("run accepted an invalid configuration")
	}
}

// The feed page sends the app's Meta callbacks a correctly signed request
// for an account.
func TestSimulatedMetaCallbacks(t *testing.T) {
	var (
		mu       sync.Mutex
		received = map[string]*signedrequest.Payload{}
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := signedrequest.Verify(r.PostFormValue("signed_request"), []byte(testAppSecret), time.Now(), time.Minute)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		received[r.URL.Path] = p
		mu.Unlock()
		if r.URL.Path == "/thDataDeletion" {
			_, _ = io.WriteString(w, `{"url":"https://fn.example.com/thDataDeletion?code=abc123","confirmation_code":"abc123"}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer app.Close()

	logs := &syncBuffer{}
	cfg := config{AppID: testAppID, AppSecret: testAppSecret, RedirectURI: testRedirectURI, Log: logs,
		DeauthorizeURL: app.URL + "/thDeauthorize", DataDeletionURL: app.URL + "/thDataDeletion"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: newServer(cfg)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	s := &sim{base: "http://" + ln.Addr().String(), log: logs}

	// The account exists once it has consented.
	s.decide(t, s.consentForm(t, authorizeQuery(nil)), "allow", "carol")
	_, page := fetch(t, http.MethodGet, s.base+"/feed", nil)
	for _, id := range []string{`id="deauthorize-carol"`, `id="delete-data-carol"`} {
		if !strings.Contains(page, id) {
			t.Errorf("feed page lacks %s", id)
		}
	}
	cases := []struct {
		callback, path, want string
	}{
		{"deauthorize", "/thDeauthorize", `data-status="200"`},
		{"data-deletion", "/thDataDeletion", `id="confirmation-code">abc123<`},
	}
	for _, tc := range cases {
		resp, body := fetch(t, http.MethodPost, s.base+"/simulate/"+tc.callback, url.Values{"username": {"carol"}})
		if resp.StatusCode != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s", tc.callback, resp.StatusCode, body)
		}
		mu.Lock()
		p := received[tc.path]
		mu.Unlock()
		if p == nil || p.UserID != userID("carol") {
			t.Errorf("%s: the app received %+v, want user %s", tc.callback, p, userID("carol"))
		}
	}
	if resp, _ := fetch(t, http.MethodPost, s.base+"/simulate/unknown", url.Values{"username": {"carol"}}); resp.StatusCode != 404 {
		t.Errorf("unknown callback: %d", resp.StatusCode)
	}
}
