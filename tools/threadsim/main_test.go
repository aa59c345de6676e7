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
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/shared/signedrequest"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/threads/threadstest"
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
		Posts                          []jsonPost
	}
}

// jsonPost is a post of /feed.json.
type jsonPost struct {
	MediaID, ContainerID, MediaType, Text string
	Children                              []string
	Params                                map[string]string
	MediaURLs                             []string
	jsonFeatures
}

// jsonFeatures are a post's newer features in /feed.json.
type jsonFeatures struct {
	ReplyToID string `json:"replyToId"`
	LongText  *struct {
		Plaintext string `json:"plaintext"`
		LinkURL   string `json:"linkUrl"`
		Styles    []struct {
			Offset int      `json:"offset"`
			Length int      `json:"length"`
			Styles []string `json:"styles"`
		} `json:"styles"`
	} `json:"longText"`
	Spoilers []struct {
		Offset int `json:"offset"`
		Length int `json:"length"`
	} `json:"spoilers"`
	SpoilerMedia bool `json:"spoilerMedia"`
	Ghost        bool `json:"ghost"`
	GIF          *struct {
		ID       string `json:"id"`
		Provider string `json:"provider"`
	} `json:"gif"`
	Countries []string `json:"countries"`
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
		{"/favicon.ico", "", "", http.StatusNoContent},
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

// POST /simulate/quota sets an account's quota_usage: its publish is then
// refused for the quota, until it is set back to 0.
func TestSimulateQuota(t *testing.T) {
	s := startSim(t, 0)
	c, id, tok := s.connect(t, "dora")
	posts := func() int {
		for _, a := range s.feedJSON(t).Accounts {
			if a.Username == "dora" {
				return len(a.Posts)
			}
		}
		return 0
	}
	post := func() error {
		cid, err := c.CreateContainer(t.Context(), id, tok, threads.ContainerParams{MediaType: "TEXT", Text: "over?"})
		if err != nil {
			return err
		}
		_, err = c.Publish(t.Context(), id, tok, cid)
		return err
	}
	for _, tc := range []struct {
		form      url.Values
		status    int
		refused   bool // the next publish is refused for the quota
		published int  // posts in the feed after it
	}{
		{url.Values{"username": {"dora"}, "used": {fmt.Sprint(threadstest.QuotaTotal)}}, 200, true, 0},
		{url.Values{"username": {"dora"}, "used": {"0"}}, 200, false, 1},
		{url.Values{"username": {"dora"}, "used": {"-1"}}, 400, false, 2},
		{url.Values{"username": {"dora"}, "used": {"x"}}, 400, false, 3},
		{url.Values{"username": {"../x"}, "used": {"1"}}, 400, false, 4},
	} {
		if resp, body := fetch(t, http.MethodPost, s.base+"/simulate/quota", tc.form); resp.StatusCode != tc.status {
			t.Fatalf("%v: %d %s, want %d", tc.form, resp.StatusCode, body, tc.status)
		}
		err := post()
		var apiErr *threads.APIError
		if refused := errors.As(err, &apiErr) && apiErr.RateLimited(); refused != tc.refused || (!tc.refused && err != nil) {
			t.Errorf("after %v: publish error %v, want refused for the quota %v", tc.form, err, tc.refused)
		}
		if n := posts(); n != tc.published {
			t.Errorf("after %v: %d posts in the feed, want %d", tc.form, n, tc.published)
		}
	}
}

// connect connects username through the consent page and the real client,
// and returns the client, the user id and a long-lived token.
func (s *sim) connect(t *testing.T, username string) (*threads.Client, string, string) {
	t.Helper()
	loc := s.decide(t, s.consentForm(t, authorizeQuery(nil)), "allow", username)
	c := &threads.Client{AppID: testAppID, AppSecret: testAppSecret, RedirectURI: testRedirectURI, GraphURL: s.base}
	short, err := c.ExchangeCode(t.Context(), loc.Query().Get("code"))
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	long, err := c.ExchangeLongLived(t.Context(), short.AccessToken)
	if err != nil {
		t.Fatalf("ExchangeLongLived: %v", err)
	}
	return c, short.UserID, long.AccessToken
}

// publishForm creates a container from form as the backend would (POST
// /v1.0/me/threads, the form exactly as given), publishes it and returns
// the media id.
func (s *sim) publishForm(t *testing.T, c *threads.Client, userID, tok string, form url.Values) string {
	t.Helper()
	form = cloneForm(form)
	form.Set("access_token", tok)
	resp, body := fetch(t, http.MethodPost, s.base+"/v1.0/me/threads", form)
	var created struct{ ID string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &created) != nil || created.ID == "" {
		t.Fatalf("create %v: %d %s", form, resp.StatusCode, body)
	}
	mediaID, err := c.Publish(t.Context(), userID, tok, created.ID)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return mediaID
}

// article returns the HTML of the post element with the given media id,
// failing the test if there is not exactly one.
func article(t *testing.T, page, mediaID string) string {
	t.Helper()
	attr := `data-media-id="` + mediaID + `"`
	if n := strings.Count(page, attr); n != 1 {
		t.Fatalf("the page has %d elements with %s, want 1", n, attr)
	}
	at := strings.Index(page, attr)
	start := strings.LastIndex(page[:at], "<article ")
	end := strings.Index(page[at:], "</article>")
	if start < 0 || end < 0 {
		t.Fatalf("%s is not in an article", attr)
	}
	return page[start : at+end+len("</article>")]
}

// withFeatures returns the features of a post that has none, changed by
// the JSON of changes.
func withFeatures(t *testing.T, changes string) jsonFeatures {
	t.Helper()
	var f jsonFeatures
	for _, js := range []string{`{"replyToId":"","longText":null,"spoilers":[],"spoilerMedia":false,"ghost":false,"gif":null,"countries":[]}`, changes} {
		if err := json.Unmarshal([]byte(js), &f); err != nil {
			t.Fatalf("want %s: %v", js, err)
		}
	}
	return f
}

// TestFeedShowsNewerFeatures publishes a post with each newer feature
// through the Graph API and finds it on the feed page and in /feed.json.
func TestFeedShowsNewerFeatures(t *testing.T) {
	s := startSim(t, 0)
	c, uid, tok := s.connect(t, "ada")
	text := func(t string, kv ...string) url.Values {
		f := url.Values{"media_type": {"TEXT"}, "text": {t}}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	tests := []struct {
		name string
		form url.Values
		// html are fragments the post's article must hold, in this order;
		// notHTML fragments it must not hold.
		html, notHTML []string
		// json is the post's features in /feed.json, beside the defaults.
		json string
	}{
		{
			name:    "plain text",
			form:    text("nothing special"),
			html:    []string{`<article class="post" data-account="ada"`, `<p class="text">nothing special</p>`},
			notHTML: []string{"spoiler", "long-text", "ghost-badge", `class="gif"`, `class="geo`, "reply"},
			json:    `{}`,
		},
		{
			// "Spoiler: " is 9 runes (not bytes: the é); the range covers
			// markup, which must stay escaped.
			name: "text spoilers",
			form: text("Spoilé: <b>butler</b> did it, at 5", "text_entities",
				`[{"entity_type":"SPOILER","offset":8,"length":13},{"entity_type":"SPOILER","offset":33,"length":1}]`),
			html: []string{
				`<p class="text">Spoilé: <span class="spoiler" tabindex="0" title="Spoiler: hover or focus to reveal">&lt;b&gt;butler&lt;/b&gt;</span> did it, at <span class="spoiler"`,
				`>5</span></p>`,
			},
			notHTML: []string{"<b>"},
			json:    `{"spoilers":[{"offset":8,"length":13},{"offset":33,"length":1}]}`,
		},
		{
			name: "text attachment",
			form: text("Read on", "text_attachment", `{"plaintext":"Bold, both, marked, <u> é and struck.","link_attachment_url":"https://example.com/more?a=1&b=2",`+
				`"text_with_styling_info":[{"offset":0,"length":4,"styling_info":["bold"]},{"offset":6,"length":4,"styling_info":["italic","underline"]},`+
				`{"offset":12,"length":6,"styling_info":["highlight"]},{"offset":30,"length":6,"styling_info":["strikethrough"]}]}`),
			html: []string{
				`<div class="long-text">`,
				`<p class="long-text-body"><span class="styled" data-styles="bold"><strong>Bold</strong></span>, ` +
					`<span class="styled" data-styles="italic underline"><em><u>both</u></em></span>, ` +
					`<span class="styled" data-styles="highlight"><mark>marked</mark></span>, &lt;u&gt; é and ` +
					`<span class="styled" data-styles="strikethrough"><s>struck</s></span>.</p>`,
				`<a href="https://example.com/more?a=1&amp;b=2" rel="noopener noreferrer nofollow">https://example.com/more?a=1&amp;b=2</a>`,
			},
			json: `{"longText":{"plaintext":"Bold, both, marked, <u> é and struck.","linkUrl":"https://example.com/more?a=1&b=2","styles":[` +
				`{"offset":0,"length":4,"styles":["bold"]},{"offset":6,"length":4,"styles":["italic","underline"]},` +
				`{"offset":12,"length":6,"styles":["highlight"]},{"offset":30,"length":6,"styles":["strikethrough"]}]}}`,
		},
		{
			name:    "text attachment without styles",
			form:    text("Read on", "text_attachment", `{"plaintext":"just <long> text"}`),
			html:    []string{`<p class="long-text-body">just &lt;long&gt; text</p>`},
			notHTML: []string{"long-text-link", "styled"},
			json:    `{"longText":{"plaintext":"just <long> text","linkUrl":"","styles":[]}}`,
		},
		{
			name: "ghost post",
			form: text("boo", "is_ghost_post", "true", "text_entities", `[{"entity_type":"SPOILER","offset":0,"length":3}]`),
			html: []string{`<span class="ghost-badge" title="Archived by Threads after 24 hours">Ghost post</span>`, `<span class="spoiler"`},
			json: `{"ghost":true,"spoilers":[{"offset":0,"length":3}]}`,
		},
		{
			name:    "GIF",
			form:    text("look", "gif_attachment", `{"gif_id":"xT9Ig<G50>","provider":"GIPHY"}`),
			html:    []string{`<div class="gif" data-gif-id="xT9Ig&lt;G50&gt;" data-provider="GIPHY"><span class="gif-label">GIF</span><span>GIPHY <code>xT9Ig&lt;G50&gt;</code></span></div>`},
			notHTML: []string{"<img"},
			json:    `{"gif":{"id":"xT9Ig<G50>","provider":"GIPHY"}}`,
		},
		{
			name: "spoiler image",
			form: url.Values{"media_type": {"IMAGE"}, "image_url": {"https://cdn.example.com/s.jpg"}, "is_spoiler_media": {"true"}},
			html: []string{`<p class="small spoiler-label">`, `<ul class="media spoiler-media">`, `<a href="https://cdn.example.com/s.jpg"`},
			json: `{"spoilerMedia":true}`,
		},
		{
			name:    "image not a spoiler",
			form:    url.Values{"media_type": {"IMAGE"}, "image_url": {"https://cdn.example.com/n.jpg"}, "is_spoiler_media": {"false"}},
			html:    []string{`<ul class="media">`},
			notHTML: []string{"spoiler-media", "spoiler-label"},
			json:    `{}`,
		},
		{
			name: "countries comma-separated",
			form: text("local news", "allowlisted_country_codes", "US,CA"),
			html: []string{`<p class="geo small" data-countries="US,CA">Only shown in: US, CA</p>`},
			json: `{"countries":["US","CA"]}`,
		},
		{
			name: "countries as JSON",
			form: text("nouvelles", "allowlisted_country_codes", `["FR","BE","CH"]`),
			html: []string{`<p class="geo small" data-countries="FR,BE,CH">Only shown in: FR, BE, CH</p>`},
			json: `{"countries":["FR","BE","CH"]}`,
		},
	}
	ids := make([]string, len(tests))
	for i, tt := range tests {
		ids[i] = s.publishForm(t, c, uid, tok, tt.form)
	}
	resp, page := fetch(t, http.MethodGet, s.base+"/feed", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/feed: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'unsafe-inline'") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<link") || strings.Contains(page, "url(") {
		t.Error("the feed page loads something")
	}
	for _, css := range []string{".spoiler{filter:blur(", ".media.spoiler-media{filter:blur(", ".long-text{", ".ghost-badge{", ".gif{", ".geo{", ".post.reply{margin-left:"} {
		if !strings.Contains(page, css) {
			t.Errorf("the page's CSS lacks %s", css)
		}
	}
	posts := map[string]jsonPost{}
	for _, a := range s.feedJSON(t).Accounts {
		for _, p := range a.Posts {
			posts[p.MediaID] = p
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			art := article(t, page, ids[i])
			at := 0
			for _, want := range tt.html {
				j := strings.Index(art[at:], want)
				if j < 0 {
					t.Errorf("the post lacks (after byte %d) %s\n%s", at, want, art)
					continue
				}
				at += j + len(want)
			}
			for _, not := range tt.notHTML {
				if strings.Contains(art, not) {
					t.Errorf("the post holds %s\n%s", not, art)
				}
			}
			got, ok := posts[ids[i]]
			if !ok {
				t.Fatalf("/feed.json lacks %s", ids[i])
			}
			if want := withFeatures(t, tt.json); !reflect.DeepEqual(got.jsonFeatures, want) {
				t.Errorf("/feed.json features %+v\nwant %+v", got.jsonFeatures, want)
			}
		})
	}

	// Absent features are null and empty lists in /feed.json, not missing.
	_, body := fetch(t, http.MethodGet, s.base+"/feed.json", nil)
	for _, want := range []string{`"replyToId": ""`, `"longText": null`, `"spoilers": []`, `"spoilerMedia": false`, `"ghost": false`, `"gif": null`, `"countries": []`} {
		if !strings.Contains(body, want) {
			t.Errorf("/feed.json lacks %s", want)
		}
	}
}

// TestFeedThreadsReplies: a reply chain reads in order under its first
// part, indented, on the page; /feed.json names each post's parent.
func TestFeedThreadsReplies(t *testing.T) {
	s := startSim(t, 0)
	ca, ada, tokA := s.connect(t, "ada")
	cb, bob, tokB := s.connect(t, "bob")
	publish := func(c *threads.Client, user, tok string, p threads.ContainerParams) string {
		t.Helper()
		id, err := c.CreateContainer(t.Context(), user, tok, p)
		if err != nil {
			t.Fatalf("CreateContainer(%+v): %v", p, err)
		}
		mediaID, err := c.Publish(t.Context(), user, tok, id)
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
		return mediaID
	}
	text := func(text, replyTo string) threads.ContainerParams {
		return threads.ContainerParams{MediaType: threads.MediaText, Text: text, ReplyToID: replyTo}
	}
	before := publish(ca, ada, tokA, text("before the thread", ""))
	part1 := publish(ca, ada, tokA, text("part 1/3", ""))
	part2 := publish(ca, ada, tokA, text("part 2/3", part1))
	part3 := publish(ca, ada, tokA, text("part 3/3", part2))
	bobsReply := publish(cb, bob, tokB, text("nice thread", part1))
	after := publish(ca, ada, tokA, text("after the thread", ""))
	bobsOwn := publish(cb, bob, tokB, text("bob's own post", ""))
	reReply := publish(ca, ada, tokA, text("thanks bob", bobsReply))

	// A reply to an unknown post is refused, as by Threads.
	if _, err := ca.CreateContainer(t.Context(), ada, tokA, text("to nothing", "17899999999999999")); err == nil {
		t.Error("a reply to an unknown post was accepted")
	}

	_, page := fetch(t, http.MethodGet, s.base+"/feed", nil)
	// ada's section: newest root first; the thread under part 1, oldest
	// reply first, each part one step deeper; bob's reply (and ada's
	// answer to it) under part 1 too.
	want := []struct{ id, tag string }{
		{after, `<article class="post" data-account="ada" data-media-id="` + after + `" data-media-type="TEXT">`},
		{part1, `<article class="post" data-account="ada" data-media-id="` + part1 + `" data-media-type="TEXT">`},
		{part2, `<article class="post reply depth-1" data-account="ada" data-media-id="` + part2 + `" data-media-type="TEXT" data-reply-to="` + part1 + `" data-depth="1">`},
		{part3, `<article class="post reply depth-2" data-account="ada" data-media-id="` + part3 + `" data-media-type="TEXT" data-reply-to="` + part2 + `" data-depth="2">`},
		{bobsReply, `<article class="post reply depth-1" data-account="bob" data-media-id="` + bobsReply + `" data-media-type="TEXT" data-reply-to="` + part1 + `" data-depth="1">`},
		{reReply, `<article class="post reply depth-2" data-account="ada" data-media-id="` + reReply + `" data-media-type="TEXT" data-reply-to="` + bobsReply + `" data-depth="2">`},
		{before, `<article class="post" data-account="ada" data-media-id="` + before + `" data-media-type="TEXT">`},
		{bobsOwn, `<article class="post" data-account="bob" data-media-id="` + bobsOwn + `" data-media-type="TEXT">`},
	}
	adaAt, bobAt := strings.Index(page, `<section class="account" data-account="ada"`), strings.Index(page, `<section class="account" data-account="bob"`)
	if adaAt < 0 || bobAt < adaAt {
		t.Fatalf("sections ada at %d, bob at %d", adaAt, bobAt)
	}
	last := adaAt
	for i, w := range want {
		at := strings.Index(page, w.tag)
		switch {
		case at < 0:
			t.Errorf("post %d: the page lacks %s", i, w.tag)
		case at < last:
			t.Errorf("post %d (%s) is out of order", i, w.id)
		case i < 7 && at > bobAt:
			t.Errorf("post %d (%s) is not in ada's section", i, w.id)
		}
		if at > last {
			last = at
		}
	}
	if got := article(t, page, part2); !strings.Contains(got, `reply to <code>`+part1+`</code>`) {
		t.Errorf("part 2 does not name its parent:\n%s", got)
	}
	if got := article(t, page, bobsReply); !strings.Contains(got, `by @bob`) {
		t.Errorf("bob's reply in ada's section does not name bob:\n%s", got)
	}
	if !strings.Contains(page, `<p class="small elsewhere">1 reply by @bob shown under the posts it answers.</p>`) {
		t.Error("bob's section does not say where his reply is")
	}
	if strings.Count(page, "<article ") != len(want) {
		t.Errorf("the page has %d posts, want %d", strings.Count(page, "<article "), len(want))
	}

	// /feed.json: every account's own posts, newest first, each naming the
	// post it answers.
	wantJSON := map[string][]struct{ id, replyTo string }{
		"ada": {{reReply, bobsReply}, {after, ""}, {part3, part2}, {part2, part1}, {part1, ""}, {before, ""}},
		"bob": {{bobsOwn, ""}, {bobsReply, part1}},
	}
	for _, a := range s.feedJSON(t).Accounts {
		w := wantJSON[a.Username]
		if len(a.Posts) != len(w) {
			t.Errorf("%s has %d posts in /feed.json, want %d", a.Username, len(a.Posts), len(w))
			continue
		}
		for i, p := range a.Posts {
			if p.MediaID != w[i].id || p.ReplyToID != w[i].replyTo {
				t.Errorf("%s's post %d: %s replying to %q, want %s replying to %q", a.Username, i, p.MediaID, p.ReplyToID, w[i].id, w[i].replyTo)
			}
		}
	}
}

func TestSplit(t *testing.T) {
	type p = piece
	for _, tc := range []struct {
		name   string
		text   string
		ranges []span
		want   []piece
	}{
		{"no ranges", "abc", nil, []p{{"abc", -1}}},
		{"empty text", "", nil, nil},
		{"whole text", "abc", []span{{0, 3}}, []p{{"abc", 0}}},
		{"runes, not bytes", "héllo wörld", []span{{6, 5}, {0, 5}}, []p{{"héllo", 1}, {" ", -1}, {"wörld", 0}}},
		{"emoji", "a🧵b🧵c", []span{{1, 1}, {3, 1}}, []p{{"a", -1}, {"🧵", 0}, {"b", -1}, {"🧵", 1}, {"c", -1}}},
		{"adjacent", "abcd", []span{{0, 2}, {2, 2}}, []p{{"ab", 0}, {"cd", 1}}},
		{"overlap ignored", "abcd", []span{{0, 3}, {2, 2}}, []p{{"abc", 0}, {"d", -1}}},
		{"outside ignored", "abc", []span{{2, 2}, {5, 1}, {-1, 1}, {0, 0}}, []p{{"abc", -1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := split(tc.text, tc.ranges)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("split(%q, %v) = %v, want %v", tc.text, tc.ranges, got, tc.want)
			}
			var joined strings.Builder
			for _, piece := range got {
				joined.WriteString(piece.text)
			}
			if joined.String() != tc.text {
				t.Errorf("the pieces make %q, not the text", joined.String())
			}
		})
	}
}

// TestThreadFeedDeepChain: a long chain keeps its order, indentation stops
// growing at maxIndent.
func TestThreadFeedDeepChain(t *testing.T) {
	var posts []feedPost
	for i := range 7 {
		p := feedPost{MediaID: fmt.Sprintf("1789000000000001%d", i), Account: "ada"}
		if i > 0 {
			p.ReplyToID = fmt.Sprintf("1789000000000001%d", i-1)
		}
		posts = append([]feedPost{p}, posts...) // newest first
	}
	accounts := []feedAccount{{Username: "ada", Posts: posts}}
	threadFeed(accounts)
	got := accounts[0].Thread
	if len(got) != 7 {
		t.Fatalf("thread of %d posts, want 7", len(got))
	}
	for i, p := range got {
		if p.MediaID != fmt.Sprintf("1789000000000001%d", i) || p.Depth != i || p.Indent() != min(i, maxIndent) {
			t.Errorf("post %d: %s depth %d indent %d", i, p.MediaID, p.Depth, p.Indent())
		}
	}
}
