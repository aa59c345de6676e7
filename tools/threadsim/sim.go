package main

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"threadsfunctions.dev/shared/signedrequest"
	"threadsfunctions.dev/shared/threads/threadstest"
)

// Simulated accounts.
var usernamePattern = regexp.MustCompile(`^[a-z0-9._]{1,30}$`)

const defaultUsername = "sim_user"

// knownScopes are the Threads permissions the authorize page accepts.
var knownScopes = []string{
	"threads_basic", "threads_content_publish", "threads_delete", "threads_read_replies",
	"threads_manage_replies", "threads_manage_insights", "threads_keyword_search",
	"threads_manage_mentions", "threads_location_tagging", "threads_profile_discovery",
	"threads_share_to_instagram",
}

// maxFormBytes bounds the consent form's body.
const maxFormBytes = 64 << 10

// simulator serves the pages of the simulator beside threadstest's Graph
// API.
type simulator struct {
	cfg  config
	fake *threadstest.Server
}

// newServer returns the simulator's handler: the pages (authorize, feed,
// avatars, health) and, for every other path, threadstest's Graph API. Each
// request is logged to cfg.Log (method and path, never the query).
func newServer(cfg config) http.Handler {
	fake := threadstest.New(cfg.AppID, cfg.AppSecret, cfg.RedirectURI)
	fake.SetProcessing(cfg.ProcessingPolls)
	fake.SetLatency(cfg.Latency)
	s := &simulator{cfg: cfg, fake: fake}

	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/authorize", s.authorize)
	mux.HandleFunc("GET /avatar/{file}", s.avatar)
	mux.HandleFunc("GET /{$}", s.feedPage)
	mux.HandleFunc("GET /feed", s.feedPage)
	mux.HandleFunc("GET /feed.json", s.feedJSON)
	mux.HandleFunc("POST /simulate/quota", s.simulateQuota)
	mux.HandleFunc("POST /simulate/{callback}", s.simulateCallback)
	// Browsers ask for it on every fresh page: answer "nothing", not the
	// fake Graph API's 400.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("/", fake.Handler())
	return logRequests(cfg.Log, mux)
}

// ---- Accounts ----

// userID derives a stable 17-digit Threads user id from a username:
// 1784140 followed by 10 digits of its SHA-256.
func userID(username string) string {
	sum := sha256.Sum256([]byte(username))
	return fmt.Sprintf("1784140%010d", binary.BigEndian.Uint64(sum[:8])%10_000_000_000)
}

// displayName is the username with its first letter in upper case.
func displayName(username string) string {
	if username == "" {
		return ""
	}
	return strings.ToUpper(username[:1]) + username[1:]
}

// avatarPath is the path of a username's avatar on the simulator.
func avatarPath(username string) string {
	return "/avatar/" + username + ".svg"
}

// account returns the simulated user for a valid username; its profile
// picture is served by the simulator at base.
func account(base, username string) threadstest.User {
	return threadstest.User{
		ID: userID(username), Username: username, Name: displayName(username),
		PictureURL: base + avatarPath(username),
	}
}

// baseURL is the simulator's URL as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if u, err := url.Parse(scheme + "://" + host); err != nil || host == "" || u.Host != host {
		host = "127.0.0.1"
	}
	return scheme + "://" + host
}

// avatar is GET /avatar/<username>.svg: a generated SVG, the initial on a
// colour derived from the username.
func (s *simulator) avatar(w http.ResponseWriter, r *http.Request) {
	username, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || !usernamePattern.MatchString(username) {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256([]byte(username))
	hue := int(binary.BigEndian.Uint16(sum[:2])) % 360
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// The username matches [a-z0-9._]: nothing in it needs escaping in XML.
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" aria-label="%s">`+
		`<circle cx="32" cy="32" r="32" fill="hsl(%d,55%%,42%%)"/>`+
		`<text x="32" y="42" font-family="Helvetica,Arial,sans-serif" font-size="28" font-weight="700" fill="#fff" text-anchor="middle">%s</text>`+
		`</svg>`, username, hue, strings.ToUpper(username[:1]))
}

// ---- Authorize ----

// authRequest is the query of an authorize request.
type authRequest struct {
	ClientID, RedirectURI, Scope, ResponseType, State string
	// Scopes are Scope's permissions, in order.
	Scopes []string
}

// problem is something wrong with an authorize request, for the error
// page.
type problem struct {
	Param, Title, Message string
}

// checkAuthorize reads and checks the parameters of an authorize request,
// as Meta does: the app id, the redirect URI (exactly as registered), the
// response type and the scopes.
func (s *simulator) checkAuthorize(v url.Values) (authRequest, []problem) {
	req := authRequest{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), Scope: v.Get("scope"),
		ResponseType: v.Get("response_type"), State: v.Get("state"),
	}
	var probs []problem
	if req.ClientID != s.cfg.AppID {
		probs = append(probs, problem{"client_id", "Invalid App ID",
			fmt.Sprintf("The provided app ID %q does not look like a valid app ID. The simulated app's ID is %q (THREADSIM_APP_ID).", req.ClientID, s.cfg.AppID)})
	}
	if req.RedirectURI != s.cfg.RedirectURI {
		probs = append(probs, problem{"redirect_uri", "URL Blocked",
			fmt.Sprintf("This redirect failed because the redirect URI %q is not whitelisted in the app's Client OAuth Settings. It must equal the registered redirect URI %q (THREADSIM_REDIRECT_URI) exactly.", req.RedirectURI, s.cfg.RedirectURI)})
	}
	if req.ResponseType != "code" {
		probs = append(probs, problem{"response_type", "Invalid response_type",
			fmt.Sprintf("response_type must be \"code\", not %q.", req.ResponseType)})
	}
	var unknown []string
	for _, sc := range strings.Split(req.Scope, ",") {
		sc = strings.TrimSpace(sc)
		switch {
		case sc == "" || slices.Contains(req.Scopes, sc):
		case slices.Contains(knownScopes, sc):
			req.Scopes = append(req.Scopes, sc)
		default:
			unknown = append(unknown, sc)
		}
	}
	switch {
	case len(unknown) > 0:
		probs = append(probs, problem{"scope", "Invalid Scopes",
			fmt.Sprintf("Invalid scopes: %s. Scopes are comma-separated Threads permissions, such as threads_basic,threads_content_publish.", strings.Join(unknown, ", "))})
	case !slices.Contains(req.Scopes, "threads_basic"):
		probs = append(probs, problem{"scope", "Invalid Scopes",
			fmt.Sprintf("The scope %q does not include threads_basic, which every Threads app must request.", req.Scope)})
	}
	return req, probs
}

// consentData fills the consent page.
type consentData struct {
	CSS      template.CSS
	Req      authRequest
	Username string
	Error    string
}

// authorize is /oauth/authorize: GET shows the consent page, POST (the
// form) takes the decision and redirects to the app.
func (s *simulator) authorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		req, probs := s.checkAuthorize(r.URL.Query())
		if len(probs) > 0 {
			s.errorPage(w, probs)
			return
		}
		renderHTML(w, http.StatusOK, consentPage, consentData{CSS: pageCSS, Req: req, Username: defaultUsername})
	case http.MethodPost:
		s.decide(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// decide is POST /oauth/authorize: Allow issues a code for the account and
// redirects with it; Deny redirects with Meta's refusal. An invalid request
// never redirects.
func (s *simulator) decide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, []problem{{"form", "Invalid form", "The consent form could not be read: " + err.Error()}})
		return
	}
	f := r.PostForm
	req, probs := s.checkAuthorize(f)
	if len(probs) > 0 {
		s.errorPage(w, probs)
		return
	}
	back, err := url.Parse(req.RedirectURI)
	if err != nil { // checked at start-up; cannot happen
		s.errorPage(w, []problem{{"redirect_uri", "URL Blocked", err.Error()}})
		return
	}
	q := back.Query()
	switch f.Get("decision") {
	case "allow":
		username := strings.TrimSpace(f.Get("username"))
		if !usernamePattern.MatchString(username) {
			renderHTML(w, http.StatusBadRequest, consentPage, consentData{
				CSS: pageCSS, Req: req, Username: username,
				Error: "A username is 1 to 30 characters among a-z, 0-9, \".\" and \"_\".",
			})
			return
		}
		q.Set("code", s.fake.IssueCode(account(baseURL(r), username)))
		back.Fragment = "_" // Threads appends #_
	case "deny":
		q.Set("error", "access_denied")
		q.Set("error_reason", "user_denied")
		q.Set("error_description", "Permissions error.")
	default:
		s.errorPage(w, []problem{{"decision", "Invalid decision", "Press Allow or Deny: the form's decision must be \"allow\" or \"deny\"."}})
		return
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	back.RawQuery = q.Encode()
	w.Header().Set("Location", back.String())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// errorPage answers 400 with a page naming each wrong parameter.
func (s *simulator) errorPage(w http.ResponseWriter, probs []problem) {
	renderHTML(w, http.StatusBadRequest, errorPage, struct {
		CSS      template.CSS
		Problems []problem
	}{pageCSS, probs})
}

// ---- Feed ----

// feedAccount is an account of the feed, with its posts newest first.
type feedAccount struct {
	ID         string     `json:"id"`
	Username   string     `json:"username"`
	Name       string     `json:"name"`
	PictureURL string     `json:"pictureUrl"`
	Posts      []feedPost `json:"posts"`
	// Avatar is the avatar's path on the simulator, for the page.
	Avatar string `json:"-"`
	// Thread is what the page shows in the account's section: its posts
	// that reply to no post of the feed, newest first, each followed by
	// its replies (of any account), threaded (see threadFeed).
	Thread []feedPost `json:"-"`
	// Elsewhere counts the account's replies shown under another
	// account's post instead.
	Elsewhere int `json:"-"`
}

// feedPost is a published post.
type feedPost struct {
	MediaID     string            `json:"mediaId"`
	ContainerID string            `json:"containerId"`
	MediaType   string            `json:"mediaType"`
	Text        string            `json:"text"`
	Children    []string          `json:"children"`
	Params      map[string]string `json:"params"`
	// MediaURLs are the post's image and video URLs, its carousel items'
	// included, in order.
	MediaURLs []string `json:"mediaUrls"`
	// ReplyToID is reply_to_id, the post this one answers; "" if none.
	ReplyToID string `json:"replyToId"`
	// LongText is the text attachment, nil if none.
	LongText *feedLongText `json:"longText"`
	// Spoilers are the text's spoiler ranges (text_entities), in runes.
	Spoilers []feedRange `json:"spoilers"`
	// SpoilerMedia is is_spoiler_media=true: the media are blurred.
	SpoilerMedia bool `json:"spoilerMedia"`
	// Ghost is is_ghost_post=true.
	Ghost bool `json:"ghost"`
	// GIF is the GIF attachment, nil if none.
	GIF *feedGIF `json:"gif"`
	// Countries are allowlisted_country_codes: the only countries where
	// the post is shown (empty: everywhere).
	Countries []string `json:"countries"`

	// Media describes the same URLs for the page.
	Media []feedMedia `json:"-"`
	// ParamList is Params sorted by name, for the page.
	ParamList []feedParam `json:"-"`
	// TextSegments are Text cut at its spoilers, for the page.
	TextSegments []textSegment `json:"-"`
	// Account is the author's username; Depth is the post's depth in its
	// thread on the page (0 for a post that answers no post of the feed).
	Account string `json:"-"`
	Depth   int    `json:"-"`
}

// feedLongText is a text attachment.
type feedLongText struct {
	Plaintext string      `json:"plaintext"`
	LinkURL   string      `json:"linkUrl"`
	Styles    []feedStyle `json:"styles"`
	// Segments are Plaintext cut at its styled ranges, for the page.
	Segments []styledSegment `json:"-"`
}

// feedStyle styles Length runes of a text attachment from Offset with
// Styles (bold, italic, highlight, underline, strikethrough).
type feedStyle struct {
	Offset int      `json:"offset"`
	Length int      `json:"length"`
	Styles []string `json:"styles"`
}

// feedRange is Length runes of a text from Offset.
type feedRange struct {
	Offset int `json:"offset"`
	Length int `json:"length"`
}

// feedGIF is a GIF attachment, by its id at its provider (GIPHY).
type feedGIF struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
}

type feedMedia struct{ MediaType, URL string }

type feedParam struct{ Name, Value string }

// feed lists every simulated account with its posts, accounts by username,
// posts newest first, and threads them for the page (threadFeed).
func (s *simulator) feed() []feedAccount {
	accounts := []feedAccount{}
	for _, u := range s.fake.Accounts() {
		a := feedAccount{ID: u.ID, Username: u.Username, Name: u.Name, PictureURL: u.PictureURL, Posts: []feedPost{}}
		if usernamePattern.MatchString(u.Username) {
			a.Avatar = avatarPath(u.Username)
		}
		posts := s.fake.Published(u.ID)
		for i := len(posts) - 1; i >= 0; i-- {
			fp := s.post(posts[i])
			fp.Account = u.Username
			a.Posts = append(a.Posts, fp)
		}
		accounts = append(accounts, a)
	}
	slices.SortStableFunc(accounts, func(a, b feedAccount) int { return cmp.Compare(a.Username, b.Username) })
	threadFeed(accounts)
	return accounts
}

// post describes a published post, looking up its carousel items.
func (s *simulator) post(p threadstest.Post) feedPost {
	fp := feedPost{
		MediaID: p.MediaID, ContainerID: p.ContainerID, MediaType: p.MediaType, Text: p.Text,
		Children: append([]string{}, p.Children...), Params: map[string]string{},
		MediaURLs: []string{},
		ReplyToID: p.ReplyToID, SpoilerMedia: p.SpoilerMedia, Ghost: p.GhostPost,
		Spoilers: []feedRange{}, Countries: append([]string{}, p.AllowlistedCountryCodes...),
	}
	var spoilers []span
	for _, e := range p.TextEntities {
		fp.Spoilers = append(fp.Spoilers, feedRange{Offset: e.Offset, Length: e.Length})
		spoilers = append(spoilers, span{e.Offset, e.Length})
	}
	for _, piece := range split(p.Text, spoilers) {
		fp.TextSegments = append(fp.TextSegments, textSegment{Text: piece.text, Spoiler: piece.index >= 0})
	}
	if ta := p.TextAttachment; ta != nil {
		lt := &feedLongText{Plaintext: ta.Plaintext, LinkURL: ta.LinkAttachmentURL, Styles: []feedStyle{}}
		var ranges []span
		for _, st := range ta.Styling {
			lt.Styles = append(lt.Styles, feedStyle{Offset: st.Offset, Length: st.Length, Styles: slices.Clone(st.Styles)})
			ranges = append(ranges, span{st.Offset, st.Length})
		}
		for _, piece := range split(ta.Plaintext, ranges) {
			seg := styledSegment{Text: piece.text}
			if piece.index >= 0 {
				seg.style(ta.Styling[piece.index].Styles)
			}
			lt.Segments = append(lt.Segments, seg)
		}
		fp.LongText = lt
	}
	if p.GIF != nil {
		fp.GIF = &feedGIF{ID: p.GIF.GIFID, Provider: p.GIF.Provider}
	}
	addMedia := func(mediaType string, params url.Values) {
		for _, k := range []string{"image_url", "video_url"} {
			if v := params.Get(k); v != "" {
				fp.MediaURLs = append(fp.MediaURLs, v)
				fp.Media = append(fp.Media, feedMedia{MediaType: mediaType, URL: v})
			}
		}
	}
	addMedia(p.MediaType, p.Params)
	for _, id := range p.Children {
		if c, ok := s.fake.Container(id); ok {
			addMedia(c.MediaType, c.Params)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Params)) {
		fp.Params[k] = p.Params.Get(k)
		fp.ParamList = append(fp.ParamList, feedParam{k, p.Params.Get(k)})
	}
	return fp
}

// feedPage is GET / and GET /feed.
func (s *simulator) feedPage(w http.ResponseWriter, r *http.Request) {
	renderHTML(w, http.StatusOK, feedPage, struct {
		CSS                         template.CSS
		AppID                       string
		RedirectURI                 string
		Accounts                    []feedAccount
		CanDeauthorize, CanDeletion bool
	}{pageCSS, s.cfg.AppID, s.cfg.RedirectURI, s.feed(), s.cfg.DeauthorizeURL != "", s.cfg.DataDeletionURL != ""})
}

// feedJSON is GET /feed.json.
func (s *simulator) feedJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"accounts": s.feed()})
}

// ---- HTML ----

// renderHTML renders a page into memory first, so that a template error
// answers 500 rather than half a page.
func renderHTML(w http.ResponseWriter, status int, t *template.Template, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Pages load nothing from outside: inline CSS and the simulator's own
	// avatars only. (No form-action: the consent form's redirect leaves for
	// the app's redirect URI.)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

const pageCSS = template.CSS(`
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;background:#f5f5f5;color:#111}
main{max-width:620px;margin:32px auto;padding:0 16px}
.card{background:#fff;border:1px solid #ddd;border-radius:16px;padding:24px}
.brand{font-weight:700;font-size:14px;letter-spacing:.02em;margin:0 0 12px}
.brand span{font-weight:400;color:#777}
h1{font-size:22px;margin:0 0 12px}
h2{font-size:18px;margin:0}
code{font-size:13px;background:#f0f0f0;border-radius:4px;padding:1px 4px;word-break:break-all}
ul.scopes{padding-left:20px}
label{display:block;font-weight:600;margin:16px 0 4px}
input[type=text]{width:100%;font:inherit;padding:10px 12px;border:1px solid #bbb;border-radius:10px}
.hint,.small{color:#666;font-size:13px}
.error{color:#b00020;font-weight:600}
.buttons{display:flex;flex-direction:row-reverse;gap:12px;margin-top:20px}
button{flex:1;font:inherit;font-weight:600;padding:10px 16px;border-radius:10px;border:1px solid #111;cursor:pointer}
#allow{background:#111;color:#fff}
#deny{background:#fff;color:#111}
.problem{border-left:4px solid #b00020;padding:4px 12px;margin:12px 0}
.problem h2{color:#b00020}
.account{margin:24px 0}
.account>header{display:flex;align-items:center;gap:12px;margin-bottom:8px}
.account img{width:48px;height:48px;border-radius:50%}
.post{background:#fff;border:1px solid #ddd;border-radius:12px;padding:12px 16px;margin:8px 0}
.post header{font-size:13px;color:#666}
.type{font-weight:700;color:#111}
.text{white-space:pre-wrap;word-wrap:break-word;margin:8px 0}
.media{padding-left:20px;font-size:14px;word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:13px;margin:8px 0 0}
dt{color:#666}dd{margin:0;word-break:break-all}
.empty{color:#666}
.post.reply{margin-left:24px;border-left:3px solid #bbb;border-top-left-radius:4px;border-bottom-left-radius:4px}
.post.depth-2{margin-left:48px}.post.depth-3{margin-left:72px}.post.depth-4{margin-left:96px}
.replying{color:#666}
.spoiler{filter:blur(5px);background:#e4e4e4;border-radius:4px;cursor:pointer;transition:filter .15s}
.spoiler:hover,.spoiler:focus{filter:none;outline:none}
.media.spoiler-media{filter:blur(5px);transition:filter .15s}
.media.spoiler-media:hover,.media.spoiler-media:focus-within{filter:none}
.spoiler-label{margin:4px 0}
.long-text{border:1px solid #e2e2e2;border-radius:10px;background:#fafafa;padding:8px 12px;margin:8px 0}
.long-text p{margin:4px 0}
.long-text-body{white-space:pre-wrap;word-wrap:break-word}
.long-text mark{background:#fff3a3}
.ghost-badge{display:inline-block;font-size:12px;font-weight:700;color:#fff;background:#6b5bd6;border-radius:999px;padding:0 8px;margin-right:6px}
.gif{display:flex;flex-direction:column;justify-content:center;align-items:center;width:200px;height:120px;margin:8px 0;border:2px dashed #bbb;border-radius:10px;background:#f0f0f0;color:#444;font-size:13px;word-break:break-all;text-align:center}
.gif-label{font-weight:800;font-size:18px;letter-spacing:.08em}
.geo{margin:4px 0}
`)

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authorize {{.Req.ClientID}} · Threads simulator</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<div class="card">
<p class="brand">Threads <span>simulator</span></p>
<h1>Connect to <span id="app-id">{{.Req.ClientID}}</span></h1>
<p>The app <strong>{{.Req.ClientID}}</strong> asks for these permissions:</p>
<ul class="scopes" id="scopes">{{range .Req.Scopes}}
<li class="scope" data-scope="{{.}}"><code>{{.}}</code></li>{{end}}
</ul>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="client_id" value="{{.Req.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.Req.RedirectURI}}">
<input type="hidden" name="scope" value="{{.Req.Scope}}">
<input type="hidden" name="response_type" value="{{.Req.ResponseType}}">
<input type="hidden" name="state" value="{{.Req.State}}">
<label for="username">Log in as</label>
<input type="text" id="username" name="username" value="{{.Username}}" required maxlength="30" pattern="[a-z0-9._]{1,30}" autocomplete="off" autocapitalize="none" spellcheck="false"{{if .Error}} aria-invalid="true" aria-describedby="username-error"{{end}}>
{{if .Error}}<p class="error" id="username-error" role="alert">{{.Error}}</p>
{{end}}<p class="hint">A simulated Threads account: any username of a-z, 0-9, "." and "_" (up to 30). The same username is always the same account.</p>
<div class="buttons">
<button type="submit" id="allow" name="decision" value="allow">Allow</button>
<button type="submit" id="deny" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>
<p class="small">You will be sent back to <code id="redirect-uri">{{.Req.RedirectURI}}</code>.</p>
</div>
</main>
</body>
</html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Error · Threads simulator</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<div class="card" id="error">
<p class="brand">Threads <span>simulator</span></p>
<h1>Sorry, something went wrong</h1>
<p>This authorization request is invalid. It was not sent back to the app.</p>
{{range .Problems}}<section class="problem" data-param="{{.Param}}">
<h2>{{.Title}}</h2>
<p>Parameter <code>{{.Param}}</code>: {{.Message}}</p>
</section>
{{end}}</div>
</main>
</body>
</html>
`))

var feedPage = template.Must(template.New("feed").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feed · Threads simulator</title>
<style>{{.CSS}}</style>
</head>
<body>
<main id="feed">
<p class="brand">Threads <span>simulator</span></p>
<h1>Feed</h1>
<p class="small">App <code>{{.AppID}}</code>, redirect URI <code>{{.RedirectURI}}</code>. Also as <a href="/feed.json">/feed.json</a>.</p>
{{range .Accounts}}<section class="account" data-account="{{.Username}}" data-user-id="{{.ID}}">
<header>{{if .Avatar}}<img src="{{.Avatar}}" alt="" width="48" height="48">{{end}}
<div><h2>{{.Name}}</h2><span class="small">@{{.Username}} · id <code>{{.ID}}</code> · {{len .Posts}} post{{if ne (len .Posts) 1}}s{{end}}</span></div>
</header>
{{if or $.CanDeauthorize $.CanDeletion}}<div class="meta-callbacks">
{{if $.CanDeauthorize}}<form method="post" action="/simulate/deauthorize"><input type="hidden" name="username" value="{{.Username}}"><button id="deauthorize-{{.Username}}" class="deauthorize">Remove the app (deauthorize)</button></form>{{end}}
{{if $.CanDeletion}}<form method="post" action="/simulate/data-deletion"><input type="hidden" name="username" value="{{.Username}}"><button id="delete-data-{{.Username}}" class="delete-data">Request data deletion</button></form>{{end}}
</div>{{end}}
{{range .Thread}}<article class="post{{if .Depth}} reply depth-{{.Indent}}{{end}}" data-account="{{.Account}}" data-media-id="{{.MediaID}}" data-media-type="{{.MediaType}}"{{if .Depth}} data-reply-to="{{.ReplyToID}}" data-depth="{{.Depth}}"{{end}}>
<header>{{if .Ghost}}<span class="ghost-badge" title="Archived by Threads after 24 hours">Ghost post</span>{{end}}<span class="type">{{.MediaType}}</span>{{if .Depth}} by @{{.Account}}{{end}} · media <code>{{.MediaID}}</code> · container <code>{{.ContainerID}}</code>{{if .ReplyToID}} · <span class="replying">reply to <code>{{.ReplyToID}}</code></span>{{end}}</header>
{{if .Text}}<p class="text">{{range .TextSegments}}{{if .Spoiler}}<span class="spoiler" tabindex="0" title="Spoiler: hover or focus to reveal">{{.Text}}</span>{{else}}{{.Text}}{{end}}{{end}}</p>
{{end}}{{with .LongText}}<div class="long-text">
<p class="long-text-body">{{range .Segments}}{{if .Styles}}<span class="styled" data-styles="{{.Styles}}">{{if .Bold}}<strong>{{end}}{{if .Italic}}<em>{{end}}{{if .Highlight}}<mark>{{end}}{{if .Underline}}<u>{{end}}{{if .Strikethrough}}<s>{{end}}{{.Text}}{{if .Strikethrough}}</s>{{end}}{{if .Underline}}</u>{{end}}{{if .Highlight}}</mark>{{end}}{{if .Italic}}</em>{{end}}{{if .Bold}}</strong>{{end}}</span>{{else}}{{.Text}}{{end}}{{end}}</p>
{{if .LinkURL}}<p class="long-text-link small">Link: <a href="{{.LinkURL}}" rel="noopener noreferrer nofollow">{{.LinkURL}}</a></p>
{{end}}</div>
{{end}}{{with .GIF}}<div class="gif" data-gif-id="{{.ID}}" data-provider="{{.Provider}}"><span class="gif-label">GIF</span><span>{{.Provider}} <code>{{.ID}}</code></span></div>
{{end}}{{if .Children}}<p class="children" data-children="{{len .Children}}">Carousel of {{len .Children}} items</p>
{{end}}{{if .SpoilerMedia}}<p class="small spoiler-label">Media marked as spoiler (hover to reveal)</p>
{{end}}{{if .Media}}<ul class="media{{if .SpoilerMedia}} spoiler-media{{end}}">{{range .Media}}
<li>{{.MediaType}}: <a href="{{.URL}}" rel="noopener noreferrer nofollow">{{.URL}}</a></li>{{end}}
</ul>
{{end}}{{if .Countries}}<p class="geo small" data-countries="{{range $i, $c := .Countries}}{{if $i}},{{end}}{{$c}}{{end}}">Only shown in: {{range $i, $c := .Countries}}{{if $i}}, {{end}}{{$c}}{{end}}</p>
{{end}}<details><summary class="small">Parameters</summary><dl>{{range .ParamList}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl></details>
</article>
{{else}}{{if not .Posts}}<p class="empty">No posts yet.</p>
{{end}}{{end}}{{if .Elsewhere}}<p class="small elsewhere">{{.Elsewhere}} repl{{if eq .Elsewhere 1}}y{{else}}ies{{end}} by @{{.Username}} shown under the posts {{if eq .Elsewhere 1}}it answers{{else}}they answer{{end}}.</p>
{{end}}</section>
{{else}}<p class="empty" id="no-accounts">No simulated accounts yet: connect one through the authorize page (<code>/oauth/authorize</code>).</p>
{{end}}</main>
</body>
</html>
`))

// ---- Logging ----

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logRequests logs one line per request to out: method, path (never the
// query, which carries tokens), status and duration.
func logRequests(out io.Writer, next http.Handler) http.Handler {
	if out == nil {
		return next
	}
	logger := log.New(out, "", log.LstdFlags|log.Lmicroseconds)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := fmt.Sprint(sw.status)
			switch {
			case sw.hijacked:
				status = "dropped"
			case sw.status == 0:
				status = "200"
			}
			logger.Printf("%s %s %s %s", r.Method, r.URL.EscapedPath(), status, time.Since(start).Round(time.Microsecond))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status of an answer. It stays hijackable, for
// threadstest's DropAnswerNext.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("threadsim: connection cannot be hijacked")
	}
	w.hijacked = true
	return h.Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// simulateCallback is POST /simulate/{deauthorize|data-deletion}: it sends
// the app's Meta callback a signed_request for an account, signed with the
// app secret exactly as Meta signs it, and shows what the app answered.
func (s *simulator) simulateCallback(w http.ResponseWriter, r *http.Request) {
	target := map[string]string{"deauthorize": s.cfg.DeauthorizeURL, "data-deletion": s.cfg.DataDeletionURL}[r.PathValue("callback")]
	if target == "" {
		http.Error(w, "this callback is not configured (THREADSIM_DEAUTHORIZE_URL / THREADSIM_DATA_DELETION_URL)", http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	username := r.PostFormValue("username")
	if !usernamePattern.MatchString(username) {
		http.Error(w, "bad username", http.StatusBadRequest)
		return
	}
	signed, err := signedrequest.Sign(map[string]any{
		"algorithm": "HMAC-SHA256",
		"user_id":   userID(username),
		"issued_at": time.Now().Unix(),
	}, []byte(s.cfg.AppSecret))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.PostForm(target, url.Values{"signed_request": {signed}})
	result := callbackResult{CSS: pageCSS, Callback: r.PathValue("callback"), Username: username}
	if err != nil {
		result.Error = "the app could not be reached: " + err.Error()
	} else {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		result.Status, result.Body = resp.StatusCode, string(body)
		var ans struct {
			URL  string `json:"url"`
			Code string `json:"confirmation_code"`
		}
		if json.Unmarshal(body, &ans) == nil {
			result.StatusURL, result.ConfirmationCode = ans.URL, ans.Code
		}
	}
	renderHTML(w, http.StatusOK, callbackPage, result)
}

// simulateQuota is POST /simulate/quota (form: username, used): it sets how
// many posts the account published in the quota window (quota_usage), so
// that a page can see thPublish's answer to a spent quota; used=0 frees it.
func (s *simulator) simulateQuota(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	username := r.PostFormValue("username")
	used, err := strconv.Atoi(r.PostFormValue("used"))
	if !usernamePattern.MatchString(username) || err != nil || used < 0 || used > threadstest.QuotaTotal {
		http.Error(w, fmt.Sprintf("want username and used (0 to %d)", threadstest.QuotaTotal), http.StatusBadRequest)
		return
	}
	s.fake.SetQuotaUsage(userID(username), used)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprintf(w, "@%s: %d of %d posts in the last %d s\n", username, used, threadstest.QuotaTotal, threadstest.QuotaDuration)
}

type callbackResult struct {
	CSS                         template.CSS
	Callback, Username          string
	Status                      int
	Body, Error                 string
	StatusURL, ConfirmationCode string
}

var callbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Threads simulator: {{.Callback}} sent</title><style>{{.CSS}}</style></head>
<body><main>
<h1>{{.Callback}} callback for @{{.Username}}</h1>
{{if .Error}}<p id="result" data-status="0">{{.Error}}</p>
{{else}}<p id="result" data-status="{{.Status}}">The app answered HTTP {{.Status}}.</p>
{{if .ConfirmationCode}}<p>Confirmation code <code id="confirmation-code">{{.ConfirmationCode}}</code>: <a id="status-link" href="{{.StatusURL}}">deletion status</a></p>{{end}}
<pre>{{.Body}}</pre>{{end}}
<p><a href="/feed">Back to the feed</a></p>
</main></body></html>
`))
