package threadstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/shared/threads"
)

const (
	appID    = "APP-1"
	secret   = "SECRET-1"
	redirect = "https://app.example.test/cb"
)

var (
	ada = User{ID: "17841400000000001", Username: "ada", Name: "Ada"}
	bob = User{ID: "17841400000000002", Username: "bob"}
)

// env is a fake with a real client pointed at it.
type env struct {
	s *Server
	c *threads.Client
}

func newEnv(t *testing.T) env {
	t.Helper()
	s := Start(t, appID, secret, redirect)
	return env{s: s, c: &threads.Client{AppID: appID, AppSecret: secret, RedirectURI: redirect, GraphURL: s.URL, HTTP: s.Client()}}
}

// apiErr returns err's *threads.APIError, failing the test if there is none.
func apiErr(t *testing.T, err error) *threads.APIError {
	t.Helper()
	e, ok := errors.AsType[*threads.APIError](err)
	if !ok {
		t.Fatalf("error = %v (%T), want a *threads.APIError", err, err)
	}
	return e
}

// wantCode checks that err is an APIError with the code and subcode.
func wantCode(t *testing.T, err error, code, subcode int) {
	t.Helper()
	e := apiErr(t, err)
	if e.Code != code || e.Subcode != subcode || e.HTTPStatus != http.StatusBadRequest {
		t.Errorf("error = %v, want HTTP 400 code %d subcode %d", err, code, subcode)
	}
}

func (e env) create(t *testing.T, tok string, p threads.ContainerParams) string {
	t.Helper()
	id, err := e.c.CreateContainer(t.Context(), "me", tok, p)
	if err != nil {
		t.Fatalf("CreateContainer(%+v): %v", p, err)
	}
	return id
}

func (e env) status(t *testing.T, tok, id string) threads.ContainerStatus {
	t.Helper()
	st, err := e.c.ContainerStatus(t.Context(), tok, id)
	if err != nil {
		t.Fatalf("ContainerStatus(%s): %v", id, err)
	}
	return *st
}

// wantPublished checks the user's posts against want, ignoring media ids
// and Params (checked separately where it matters).
func (e env) wantPublished(t *testing.T, userID string, want ...Post) []Post {
	t.Helper()
	got := e.s.Published(userID)
	if len(got) != len(want) {
		t.Fatalf("Published(%s) = %v, want %d posts", userID, got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.MediaID == "" || g.ContainerID != w.ContainerID || g.MediaType != w.MediaType || g.Text != w.Text ||
			!reflect.DeepEqual(g.Children, w.Children) {
			t.Errorf("Published(%s)[%d] = %v, want %v", userID, i, g, w)
		}
	}
	return got
}

func TestPublishText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)

	id := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "Hello 🧵", ReplyControl: "everyone", TopicTag: "go"})
	if st := e.status(t, tok, id); st != (threads.ContainerStatus{ID: id, Status: "FINISHED"}) {
		t.Errorf("status = %+v, want FINISHED", st)
	}
	mediaID, err := e.c.Publish(t.Context(), ada.ID, tok, id)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	posts := e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "TEXT", Text: "Hello 🧵"})
	if posts[0].MediaID != mediaID {
		t.Errorf("post media id = %s, want %s", posts[0].MediaID, mediaID)
	}
	wantParams := url.Values{"media_type": {"TEXT"}, "text": {"Hello 🧵"}, "reply_control": {"everyone"}, "topic_tag": {"go"}}
	if !reflect.DeepEqual(posts[0].Params, wantParams) {
		t.Errorf("post params = %v, want %v", posts[0].Params, wantParams)
	}
	if st := e.status(t, tok, id); st.Status != "PUBLISHED" {
		t.Errorf("status after publish = %+v, want PUBLISHED", st)
	}

	// Publishing again is refused and posts nothing.
	_, err = e.c.Publish(t.Context(), ada.ID, tok, id)
	wantCode(t, err, 100, 0)
	if threads.IsUnknownOutcome(err) || apiErr(t, err).Temporary() {
		t.Errorf("already published: error %v is unknown-outcome or temporary", err)
	}
	e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "TEXT", Text: "Hello 🧵"})

	// The status of a media id is an error; its text can be read.
	_, err = e.c.ContainerStatus(t.Context(), tok, mediaID)
	wantCode(t, err, 100, 0)

	lim, err := e.c.PublishingLimit(t.Context(), ada.ID, tok)
	if err != nil {
		t.Fatalf("PublishingLimit: %v", err)
	}
	want := threads.PublishingLimit{QuotaUsage: 1, QuotaTotal: 250, QuotaDuration: 86400, ReplyQuotaTotal: 1000, ReplyQuotaDuration: 86400}
	if *lim != want {
		t.Errorf("PublishingLimit = %+v, want %+v", *lim, want)
	}
	if n := e.s.Calls(EndpointPublish); n != 2 {
		t.Errorf("Calls(EndpointPublish) = %d, want 2", n)
	}
	if n := e.s.Calls(EndpointStatus); n != 3 {
		t.Errorf("Calls(EndpointStatus) = %d, want 3", n)
	}
}

func TestPublishImageWithProcessing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	e.s.SetProcessing(2)

	id := e.create(t, tok, threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://cdn.example.test/a.jpg", AltText: "a cat", Text: "cat"})
	// Too early: refused, nothing published, and publish attempts do not
	// advance processing.
	for range 3 {
		_, err := e.c.Publish(t.Context(), ada.ID, tok, id)
		wantCode(t, err, 24, 4279009)
		if ae := apiErr(t, err); !ae.MediaNotReady() || !ae.Temporary() || threads.IsUnknownOutcome(err) {
			t.Errorf("early publish error %v: want MediaNotReady, Temporary, not unknown outcome", err)
		}
	}
	e.wantPublished(t, ada.ID)
	for i, want := range []string{"IN_PROGRESS", "IN_PROGRESS", "FINISHED", "FINISHED"} {
		if st := e.status(t, tok, id); st.Status != want {
			t.Errorf("status read %d = %+v, want %s", i+1, st, want)
		}
	}
	if _, err := e.c.Publish(t.Context(), ada.ID, tok, id); err != nil {
		t.Fatalf("Publish once FINISHED: %v", err)
	}
	e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "IMAGE", Text: "cat"})

	// TEXT containers are finished at once whatever SetProcessing says.
	textID := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "t"})
	if st := e.status(t, tok, textID); st.Status != "FINISHED" {
		t.Errorf("TEXT status = %+v, want FINISHED", st)
	}
}

func TestPublishCarousel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	e.s.SetProcessing(1)

	c1 := e.create(t, tok, threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://cdn.example.test/1.jpg", IsCarouselItem: true})
	c2 := e.create(t, tok, threads.ContainerParams{MediaType: "VIDEO", VideoURL: "https://cdn.example.test/2.mp4", IsCarouselItem: true})
	carousel := threads.ContainerParams{MediaType: "CAROUSEL", Text: "album", Children: []string{c1, c2}}

	// Children still processing: the parent cannot be created yet.
	_, err := e.c.CreateContainer(t.Context(), ada.ID, tok, carousel)
	wantCode(t, err, 24, 4279009)

	// A carousel item is not published on its own.
	_, err = e.c.Publish(t.Context(), ada.ID, tok, c1)
	wantCode(t, err, 100, 0)

	for _, c := range []string{c1, c2} {
		if st := e.status(t, tok, c); st.Status != "IN_PROGRESS" {
			t.Errorf("child %s status = %+v, want IN_PROGRESS", c, st)
		}
		if st := e.status(t, tok, c); st.Status != "FINISHED" {
			t.Errorf("child %s status = %+v, want FINISHED", c, st)
		}
	}
	id := e.create(t, tok, carousel)
	if st := e.status(t, tok, id); st.Status != "FINISHED" {
		t.Errorf("carousel status = %+v, want FINISHED at once", st)
	}
	if _, err := e.c.Publish(t.Context(), ada.ID, tok, id); err != nil {
		t.Fatalf("Publish carousel: %v", err)
	}
	e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "CAROUSEL", Text: "album", Children: []string{c1, c2}})
	lim, err := e.c.PublishingLimit(t.Context(), ada.ID, tok)
	if err != nil || lim.QuotaUsage != 1 {
		t.Errorf("PublishingLimit = %+v, %v; want a carousel to count once", lim, err)
	}
}

func TestCarouselChildrenChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokA, tokB := e.s.AddAccount(ada), e.s.AddAccount(bob)
	item := func(tok string) string {
		return e.create(t, tok, threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://cdn.example.test/i.jpg", IsCarouselItem: true})
	}
	a1, a2, b1 := item(tokA), item(tokA), item(tokB)
	notItem := e.create(t, tokA, threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://cdn.example.test/i.jpg"})
	e.s.SetContainerOutcome("ERROR", "UNKNOWN")
	failed := item(tokA)
	many := []string{a1, a2}
	for len(many) < 21 {
		many = append(many, item(tokA))
	}

	tests := []struct {
		name     string
		children []string
	}{
		{"one child", []string{a1}},
		{"repeated child", []string{a1, a1}},
		{"unknown child", []string{a1, "17890000009999999"}},
		{"child of another user", []string{a1, b1}},
		{"child not a carousel item", []string{a1, notItem}},
		{"child in ERROR", []string{a1, failed}},
		{"21 children", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.c.CreateContainer(t.Context(), ada.ID, tokA, threads.ContainerParams{MediaType: "CAROUSEL", Children: tt.children})
			wantCode(t, err, 100, 0)
		})
	}
	for _, children := range [][]string{{a1, a2}, many[:20]} {
		if _, err := e.c.CreateContainer(t.Context(), ada.ID, tokA, threads.ContainerParams{MediaType: "CAROUSEL", Children: children}); err != nil {
			t.Errorf("valid carousel of %d: %v", len(children), err)
		}
	}
}

func TestAutoPublishText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	mediaID := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "now", Extra: map[string]string{"auto_publish_text": "true"}})
	posts := e.s.Published(ada.ID)
	if len(posts) != 1 || posts[0].MediaID != mediaID || posts[0].Text != "now" || posts[0].ContainerID == "" {
		t.Fatalf("Published = %v, want one post with media id %s", posts, mediaID)
	}
	if e.s.Calls(EndpointPublish) != 0 {
		t.Errorf("auto_publish_text called threads_publish")
	}
	// The answer's id is the post's: asking its status is an error.
	_, err := e.c.ContainerStatus(t.Context(), tok, mediaID)
	wantCode(t, err, 100, 0)
	// The internal container is PUBLISHED and cannot be published again.
	_, err = e.c.Publish(t.Context(), ada.ID, tok, posts[0].ContainerID)
	wantCode(t, err, 100, 0)
	if got := len(e.s.Published(ada.ID)); got != 1 {
		t.Errorf("%d posts, want 1", got)
	}
}

func TestContainerOutcome(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"ERROR", "EXPIRED"} {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tok := e.s.AddAccount(ada)
			e.s.SetProcessing(1)
			e.s.SetContainerOutcome(status, "FAILED_DOWNLOADING_VIDEO")
			id := e.create(t, tok, threads.ContainerParams{MediaType: "VIDEO", VideoURL: "https://cdn.example.test/v.mp4"})
			if st := e.status(t, tok, id); st.Status != "IN_PROGRESS" {
				t.Errorf("first read = %+v, want IN_PROGRESS", st)
			}
			want := threads.ContainerStatus{ID: id, Status: status, ErrorMessage: "FAILED_DOWNLOADING_VIDEO"}
			if st := e.status(t, tok, id); st != want {
				t.Errorf("second read = %+v, want %+v", st, want)
			}
			_, err := e.c.Publish(t.Context(), ada.ID, tok, id)
			wantCode(t, err, 100, 0)
			e.wantPublished(t, ada.ID)

			// Only the next container was affected.
			next := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "ok"})
			if st := e.status(t, tok, next); st != (threads.ContainerStatus{ID: next, Status: "FINISHED"}) {
				t.Errorf("next container = %+v, want FINISHED", st)
			}
		})
	}
	t.Run("bad status panics", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		defer func() {
			if recover() == nil {
				t.Error("SetContainerOutcome(FINISHED) did not panic")
			}
		}()
		e.s.SetContainerOutcome("FINISHED", "")
	})
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	id := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "x"})
	e.s.FailNext(EndpointPublish, 2, Failure{HTTPStatus: 500, Code: 2, Message: "Service temporarily unavailable"})
	for i := range 2 {
		_, err := e.c.Publish(t.Context(), ada.ID, tok, id)
		ae := apiErr(t, err)
		if ae.HTTPStatus != 500 || ae.Code != 2 || !ae.Temporary() || !threads.IsUnknownOutcome(err) {
			t.Errorf("call %d: error %v, want the 500 failure", i+1, err)
		}
	}
	e.wantPublished(t, ada.ID) // a failure has no effect
	if _, err := e.c.Publish(t.Context(), ada.ID, tok, id); err != nil {
		t.Fatalf("third call: %v", err)
	}
	e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "TEXT", Text: "x"})
	if n := e.s.Calls(EndpointPublish); n != 3 {
		t.Errorf("Calls = %d, want 3", n)
	}

	// Fail lasts until Recover, and FailNext is used up first.
	e.s.Fail(EndpointStatus, Failure{HTTPStatus: 400, Code: 1, Message: "unknown"})
	e.s.FailNext(EndpointStatus, 1, Failure{HTTPStatus: 400, Code: 17, Message: "User request limit reached"})
	for _, code := range []int{17, 1, 1} {
		_, err := e.c.ContainerStatus(t.Context(), tok, id)
		wantCode(t, err, code, 0)
	}
	e.s.Recover()
	if st := e.status(t, tok, id); st.Status != "PUBLISHED" {
		t.Errorf("status after Recover = %+v", st)
	}
}

func TestDropAnswerNextPublishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	id := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "once"})

	e.s.DropAnswerNext(EndpointPublish, 1)
	_, err := e.c.Publish(t.Context(), ada.ID, tok, id)
	if err == nil || !threads.IsUnknownOutcome(err) {
		t.Fatalf("Publish with a dropped answer: error %v, want an unknown outcome", err)
	}
	// It really published: the status says so, and a blind retry is refused.
	e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "TEXT", Text: "once"})
	if st := e.status(t, tok, id); st.Status != "PUBLISHED" {
		t.Errorf("status = %+v, want PUBLISHED", st)
	}
	_, err = e.c.Publish(t.Context(), ada.ID, tok, id)
	wantCode(t, err, 100, 0)
	e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "TEXT", Text: "once"})

	// A dropped auto_publish_text leaves a post and no id at all.
	e.s.DropAnswerNext(EndpointCreate, 1)
	_, err = e.c.CreateContainer(t.Context(), ada.ID, tok, threads.ContainerParams{MediaType: "TEXT", Text: "auto",
		Extra: map[string]string{"auto_publish_text": "true"}})
	if !threads.IsUnknownOutcome(err) {
		t.Errorf("auto publish with a dropped answer: error %v, want an unknown outcome", err)
	}
	if posts := e.s.Published(ada.ID); len(posts) != 2 || posts[1].Text != "auto" {
		t.Errorf("Published = %v, want the auto-published post second", posts)
	}
	// Only the next n calls are dropped.
	e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "answered"})
	if n := e.s.Calls(EndpointCreate); n != 3 {
		t.Errorf("Calls(EndpointCreate) = %d, want 3", n)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	id := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "slow"})
	e.s.SetLatency(150 * time.Millisecond)

	start := time.Now()
	if _, err := e.c.PublishingLimit(t.Context(), ada.ID, tok); err != nil {
		t.Fatalf("PublishingLimit: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answer after %v, want at least 150ms", d)
	}

	// A client that gives up first gets no answer, yet the post is out.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := e.c.Publish(ctx, ada.ID, tok, id)
	if !errors.Is(err, context.DeadlineExceeded) || !threads.IsUnknownOutcome(err) {
		t.Fatalf("Publish with a short deadline: error %v, want a deadline with an unknown outcome", err)
	}
	e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "TEXT", Text: "slow"})

	e.s.SetLatency(0)
	if st := e.status(t, tok, id); st.Status != "PUBLISHED" {
		t.Errorf("status = %+v, want PUBLISHED", st)
	}
}

func TestQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	e.s.SetQuotaUsage(ada.ID, 249)
	text := func(s string) string { return e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: s}) }
	last, over := text("250th"), text("251st")

	lastMedia, err := e.c.Publish(t.Context(), ada.ID, tok, last)
	if err != nil {
		t.Fatalf("250th post: %v", err)
	}
	_, err = e.c.Publish(t.Context(), ada.ID, tok, over)
	wantCode(t, err, 4, 0)
	if !apiErr(t, err).Temporary() || threads.IsUnknownOutcome(err) {
		t.Errorf("quota error %v: want temporary, known outcome", err)
	}
	e.wantPublished(t, ada.ID, Post{ContainerID: last, MediaType: "TEXT", Text: "250th"})
	if st := e.status(t, tok, over); st.Status != "FINISHED" {
		t.Errorf("refused container = %+v, want still FINISHED", st)
	}

	// Replies have their own quota.
	reply := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "re", ReplyToID: lastMedia})
	if _, err := e.c.Publish(t.Context(), ada.ID, tok, reply); err != nil {
		t.Fatalf("reply over the post quota: %v", err)
	}
	lim, err := e.c.PublishingLimit(t.Context(), ada.ID, tok)
	if err != nil {
		t.Fatal(err)
	}
	if lim.QuotaUsage != 250 || lim.ReplyQuotaUsage != 1 {
		t.Errorf("PublishingLimit = %+v, want usage 250 and reply usage 1", *lim)
	}

	// Lowering the usage lets the refused container through.
	e.s.SetQuotaUsage(ada.ID, 0)
	if _, err := e.c.Publish(t.Context(), ada.ID, tok, over); err != nil {
		t.Errorf("after SetQuotaUsage(0): %v", err)
	}
}

func TestRevokeToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, other := e.s.AddAccount(ada), e.s.AddAccount(ada)
	id := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "x"})
	e.s.RevokeToken(tok)

	for name, call := range map[string]func() error{
		"CreateContainer": func() error {
			_, err := e.c.CreateContainer(t.Context(), ada.ID, tok, threads.ContainerParams{MediaType: "TEXT", Text: "y"})
			return err
		},
		"Publish":         func() error { _, err := e.c.Publish(t.Context(), ada.ID, tok, id); return err },
		"ContainerStatus": func() error { _, err := e.c.ContainerStatus(t.Context(), tok, id); return err },
		"PublishingLimit": func() error { _, err := e.c.PublishingLimit(t.Context(), ada.ID, tok); return err },
		"RefreshToken":    func() error { _, err := e.c.RefreshToken(t.Context(), tok); return err },
		"Me":              func() error { _, err := e.c.Me(t.Context(), tok); return err },
	} {
		err := call()
		if ae, ok := errors.AsType[*threads.APIError](err); !ok || !ae.TokenInvalid() {
			t.Errorf("%s with a revoked token: error %v, want code 190", name, err)
		}
	}
	e.wantPublished(t, ada.ID)
	// Another token of the same user still works.
	if _, err := e.c.Publish(t.Context(), ada.ID, other, id); err != nil {
		t.Errorf("Publish with another token: %v", err)
	}
}

func TestRefreshToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.s.AddAccount(ada)
	got, err := e.c.RefreshToken(t.Context(), old)
	if err != nil {
		t.Fatalf("RefreshToken: %v", err)
	}
	if got.AccessToken == "" || got.AccessToken == old || got.TokenType != "bearer" || got.ExpiresIn != 5184000 {
		t.Errorf("RefreshToken = %+v, want a new bearer token for 60 days", *got)
	}
	if u, ok := e.s.UserOfToken(got.AccessToken); !ok || u != ada {
		t.Errorf("UserOfToken(new) = %+v, %v; want ada", u, ok)
	}
	for _, tok := range []string{old, got.AccessToken} {
		e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "x"})
	}
	if n := e.s.Calls(EndpointRefresh); n != 1 {
		t.Errorf("Calls(EndpointRefresh) = %d, want 1", n)
	}
	_, err = e.c.RefreshToken(t.Context(), "LONG-unknown")
	if !apiErr(t, err).TokenInvalid() {
		t.Errorf("unknown token: error %v, want code 190", err)
	}
}

func TestOAuthTokensPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	short, err := e.c.ExchangeCode(t.Context(), e.s.IssueCode(bob))
	if err != nil {
		t.Fatal(err)
	}
	long, err := e.c.ExchangeLongLived(t.Context(), short.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{short.AccessToken, long.AccessToken} {
		id := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "via oauth"})
		if _, err := e.c.Publish(t.Context(), short.UserID, tok, id); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	if got := len(e.s.Published(bob.ID)); got != 2 {
		t.Errorf("%d posts, want 2", got)
	}
	// Short-lived tokens cannot be refreshed.
	_, err = e.c.RefreshToken(t.Context(), short.AccessToken)
	wantCode(t, err, 100, 0)
}

func TestConcurrentPublishPostsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	id := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "race"})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := e.c.Publish(t.Context(), ada.ID, tok, id)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d publishes succeeded, want 1", ok)
	}
	e.wantPublished(t, ada.ID, Post{ContainerID: id, MediaType: "TEXT", Text: "race"})
}

// raw sends a request by hand and returns the status and the error
// envelope's code and subcode (0 on success).
func raw(t *testing.T, s *Server, method, path string, query, form url.Values) (status, code, subcode int) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := s.URL + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Error *struct {
			Code    int `json:"code"`
			Subcode int `json:"error_subcode"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	if env.Error != nil {
		return resp.StatusCode, env.Error.Code, env.Error.Subcode
	}
	return resp.StatusCode, 0, 0
}

func TestRequestsCheckedExactly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	e.s.AddAccount(bob)
	id := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "x"})
	v := func(kv ...string) url.Values {
		out := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	user := "/v1.0/" + ada.ID
	tests := []struct {
		name          string
		method, path  string
		query, form   url.Values
		code, subcode int // 0: success expected
	}{
		{"create ok", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a"), 0, 0},
		{"create with query parameters", "POST", user + "/threads", v("access_token", tok, "media_type", "TEXT", "text", "a"), nil, 0, 0},
		{"create unknown parameter", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "colour", "red"), 100, 0},
		{"create missing media_type", "POST", user + "/threads", nil, v("access_token", tok, "text", "a"), 100, 0},
		{"create parameter twice", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "text", "b"), 100, 0},
		{"create parameter in query and body", "POST", user + "/threads", v("text", "b"), v("access_token", tok, "media_type", "TEXT", "text", "a"), 100, 0},
		{"create empty parameter", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "topic_tag", ""), 100, 0},
		{"create no token", "POST", user + "/threads", nil, v("media_type", "TEXT", "text", "a"), 100, 0},
		{"create wrong token", "POST", user + "/threads", nil, v("access_token", "LONG-nope", "media_type", "TEXT", "text", "a"), 190, 0},
		{"create for another user", "POST", "/v1.0/" + bob.ID + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a"), 100, 33},
		{"create for me", "POST", "/v1.0/me/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a"), 0, 0},
		{"create bad poll JSON", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "poll_attachment", `{"option_a":"x"}`), 100, 0},
		{"create poll with unknown key", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "poll_attachment", `{"option_a":"x","option_b":"y","option_e":"z"}`), 100, 0},
		{"create poll with a key twice", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "poll_attachment", `{"option_a":"x","option_b":"y","option_b":"z"}`), 100, 0},
		{"create poll with a key in upper case", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "poll_attachment", `{"OPTION_A":"x","option_b":"y"}`), 100, 0},
		{"create poll with an option not a string", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "poll_attachment", `{"option_a":"x","option_b":2}`), 100, 0},
		{"create poll with data after it", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "poll_attachment", `{"option_a":"x","option_b":"y"} {}`), 100, 0},
		{"create poll with a null option", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "poll_attachment", `{"option_a":"x","option_b":"y","option_c":null}`), 0, 0},
		{"create poll ok", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "TEXT", "text", "a", "poll_attachment", `{"option_a":"x","option_b":"y","option_c":"z"}`), 0, 0},
		{"create bad boolean", "POST", user + "/threads", nil, v("access_token", tok, "media_type", "IMAGE", "image_url", "https://x.test/i.jpg", "is_carousel_item", "yes"), 100, 0},
		{"publish missing creation_id", "POST", user + "/threads_publish", nil, v("access_token", tok), 100, 0},
		{"publish unknown parameter", "POST", user + "/threads_publish", nil, v("access_token", tok, "creation_id", id, "force", "true"), 100, 0},
		{"publish unknown container", "POST", user + "/threads_publish", nil, v("access_token", tok, "creation_id", "17899999999999999"), 100, 33},
		{"publish another user's container", "POST", "/v1.0/" + bob.ID + "/threads_publish", nil, v("access_token", tok, "creation_id", id), 100, 33},
		{"status unknown field", "GET", "/v1.0/" + id, v("access_token", tok, "fields", "status,colour"), nil, 100, 0},
		{"status unknown parameter", "GET", "/v1.0/" + id, v("access_token", tok, "fields", "status", "x", "y"), nil, 100, 0},
		{"status without fields", "GET", "/v1.0/" + id, v("access_token", tok), nil, 0, 0},
		{"status wrong token", "GET", "/v1.0/" + id, v("access_token", "nope", "fields", "status"), nil, 190, 0},
		{"limit unknown field", "GET", user + "/threads_publishing_limit", v("access_token", tok, "fields", "quota_usage,colour"), nil, 100, 0},
		{"refresh wrong grant_type", "GET", "/refresh_access_token", v("grant_type", "th_exchange_token", "access_token", tok), nil, 100, 0},
		{"refresh missing grant_type", "GET", "/refresh_access_token", v("access_token", tok), nil, 100, 0},
		{"refresh extra client_secret", "GET", "/refresh_access_token", v("grant_type", "th_refresh_token", "access_token", tok, "client_secret", secret), nil, 100, 0},
		{"unsupported endpoint", "DELETE", "/v1.0/" + id, v("access_token", tok), nil, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, subcode := raw(t, e.s, tt.method, tt.path, tt.query, tt.form)
			wantStatus := http.StatusOK
			if tt.code != 0 {
				wantStatus = http.StatusBadRequest
			}
			if status != wantStatus || code != tt.code || subcode != tt.subcode {
				t.Errorf("answer HTTP %d code %d subcode %d, want HTTP %d code %d subcode %d",
					status, code, subcode, wantStatus, tt.code, tt.subcode)
			}
		})
	}
	if n := e.s.Calls("DELETE /v1.0/" + id); n != 1 {
		t.Errorf("unsupported endpoint counted %d times under its path, want 1", n)
	}
	e.wantPublished(t, ada.ID)
}

func TestContainerValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	link := func(i int) string { return fmt.Sprintf("https://example.test/%d", i) }
	tests := []struct {
		name string
		p    threads.ContainerParams
		ok   bool
	}{
		{name: "text of 500 bytes", p: threads.ContainerParams{MediaType: "TEXT", Text: strings.Repeat("é", 250)}, ok: true},
		{name: "text over 500 bytes", p: threads.ContainerParams{MediaType: "TEXT", Text: strings.Repeat("é", 250) + "x"}},
		{name: "TEXT without text", p: threads.ContainerParams{MediaType: "TEXT", TopicTag: "x"}},
		{name: "IMAGE without image_url", p: threads.ContainerParams{MediaType: "IMAGE", Text: "x"}},
		{name: "VIDEO without video_url", p: threads.ContainerParams{MediaType: "VIDEO", ImageURL: "https://x.test/i.jpg"}},
		{name: "unknown media type", p: threads.ContainerParams{MediaType: "AUDIO", Text: "x"}},
		{name: "image_url on TEXT", p: threads.ContainerParams{MediaType: "TEXT", Text: "x", ImageURL: "https://x.test/i.jpg"}},
		{name: "link on IMAGE", p: threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://x.test/i.jpg", LinkAttachment: link(1)}},
		{name: "poll on IMAGE", p: threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://x.test/i.jpg", Poll: &threads.PollAttachment{OptionA: "a", OptionB: "b"}}},
		{name: "poll with link", p: threads.ContainerParams{MediaType: "TEXT", Text: "x", LinkAttachment: link(1), Poll: &threads.PollAttachment{OptionA: "a", OptionB: "b"}}},
		{name: "poll of four", p: threads.ContainerParams{MediaType: "TEXT", Text: "x", Poll: &threads.PollAttachment{OptionA: "a", OptionB: "b", OptionC: "c", OptionD: "d"}}, ok: true},
		{name: "carousel item on TEXT", p: threads.ContainerParams{MediaType: "TEXT", Text: "x", IsCarouselItem: true}},
		{name: "auto publish on IMAGE", p: threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://x.test/i.jpg", Extra: map[string]string{"auto_publish_text": "true"}}},
		{name: "bad reply control", p: threads.ContainerParams{MediaType: "TEXT", Text: "x", ReplyControl: "nobody"}},
		{name: "five links", p: threads.ContainerParams{MediaType: "TEXT", Text: strings.Join([]string{link(1), link(2), link(3), link(4)}, " "), LinkAttachment: link(5)}, ok: true},
		{name: "same link twice counts once", p: threads.ContainerParams{MediaType: "TEXT", Text: strings.Join([]string{link(1), link(2), link(3), link(4), link(5)}, " "), LinkAttachment: link(5)}, ok: true},
		{name: "six links", p: threads.ContainerParams{MediaType: "TEXT", Text: strings.Join([]string{link(1), link(2), link(3), link(4), link(5)}, " "), LinkAttachment: link(6)}},
		{name: "text attachment", p: threads.ContainerParams{MediaType: "TEXT", Text: "x", TextAttachment: &threads.TextAttachment{Plaintext: "long"}}, ok: true},
		{name: "ghost post with a text attachment", p: threads.ContainerParams{MediaType: "TEXT", Text: "x", TextAttachment: &threads.TextAttachment{Plaintext: "long"}, IsGhostPost: true}},
		{name: "unknown extra field", p: threads.ContainerParams{MediaType: "TEXT", Text: "x", Extra: map[string]string{"colour": "red"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.c.CreateContainer(t.Context(), ada.ID, tok, tt.p)
			if tt.ok {
				if err != nil {
					t.Errorf("CreateContainer: %v", err)
				}
				return
			}
			wantCode(t, err, 100, 0)
		})
	}
}

// TestKnobsConcurrent turns knobs while requests run, for the race
// detector.
func TestKnobsConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			id, err := e.c.CreateContainer(t.Context(), ada.ID, tok, threads.ContainerParams{MediaType: "TEXT", Text: fmt.Sprint(i)})
			if err == nil {
				_, _ = e.c.ContainerStatus(t.Context(), tok, id)
				_, _ = e.c.Publish(t.Context(), ada.ID, tok, id)
			}
		})
		wg.Go(func() {
			e.s.SetProcessing(i % 2)
			e.s.SetQuotaUsage(bob.ID, i)
			e.s.FailNext(EndpointLimit, 1, Failure{HTTPStatus: 500, Code: 2})
			e.s.SetLatency(time.Millisecond)
			e.s.DropAnswerNext(EndpointLimit, 0)
			_ = e.s.Published(ada.ID)
			_ = e.s.Calls(EndpointCreate)
		})
	}
	wg.Wait()
	if got := len(e.s.Published(ada.ID)); got != 10 {
		t.Errorf("%d posts, want 10", got)
	}
}
