package threads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testContainer is a container id with more digits than a float64 holds
// exactly.
const testContainer = "17889615691921648"

// wantRequest is the exact request a call must send.
type wantRequest struct {
	method string
	path   string
	query  url.Values // nil: no query string at all
	form   url.Values // nil: no body and no Content-Type
}

// expect returns a handler that checks every request against want and
// answers status and body.
func expect(t *testing.T, want wantRequest, status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != want.method {
			t.Errorf("method = %q, want %q", r.Method, want.method)
		}
		if r.URL.Path != want.path {
			t.Errorf("path = %q, want %q", r.URL.Path, want.path)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("Accept = %q, want application/json", got)
		}
		if want.query == nil {
			if r.URL.RawQuery != "" {
				t.Errorf("query = %q, want none", r.URL.RawQuery)
			}
		} else {
			checkValues(t, "query", r.URL.Query(), want.query)
		}
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading body: %v", err)
		}
		if want.form == nil {
			if len(raw) != 0 {
				t.Errorf("body = %q, want none", raw)
			}
			if got := r.Header.Get("Content-Type"); got != "" {
				t.Errorf("Content-Type = %q, want none", got)
			}
		} else {
			if got := r.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", got)
			}
			form, err := url.ParseQuery(string(raw))
			if err != nil {
				t.Errorf("body %q is not a form: %v", raw, err)
			}
			checkValues(t, "form", form, want.form)
		}
		answer(w, status, body)
	}
}

// withToken returns v plus access_token=testToken.
func withToken(v url.Values) url.Values {
	out := url.Values{"access_token": {testToken}}
	for k, vs := range v {
		out[k] = vs
	}
	return out
}

func TestCreateContainerSendsEachField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params ContainerParams
		want   url.Values // without access_token
	}{
		{
			name:   "text",
			params: ContainerParams{MediaType: MediaText, Text: "Hello, Threads! é 🧵 & = + %"},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"Hello, Threads! é 🧵 & = + %"}},
		},
		{
			name:   "image with alt text",
			params: ContainerParams{MediaType: MediaImage, ImageURL: "https://cdn.example.test/a.jpg?x=1&y=2", AltText: "a cat"},
			want:   url.Values{"media_type": {"IMAGE"}, "image_url": {"https://cdn.example.test/a.jpg?x=1&y=2"}, "alt_text": {"a cat"}},
		},
		{
			name:   "video",
			params: ContainerParams{MediaType: MediaVideo, VideoURL: "https://cdn.example.test/v.mp4"},
			want:   url.Values{"media_type": {"VIDEO"}, "video_url": {"https://cdn.example.test/v.mp4"}},
		},
		{
			name:   "carousel item",
			params: ContainerParams{MediaType: MediaImage, ImageURL: "https://cdn.example.test/1.jpg", IsCarouselItem: true},
			want:   url.Values{"media_type": {"IMAGE"}, "image_url": {"https://cdn.example.test/1.jpg"}, "is_carousel_item": {"true"}},
		},
		{
			name:   "carousel children joined with commas",
			params: ContainerParams{MediaType: MediaCarousel, Text: "album", Children: []string{"111", "222", "333"}},
			want:   url.Values{"media_type": {"CAROUSEL"}, "text": {"album"}, "children": {"111,222,333"}},
		},
		{
			name:   "empty children not sent",
			params: ContainerParams{MediaType: MediaText, Text: "x", Children: []string{}},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"x"}},
		},
		{
			name:   "reply",
			params: ContainerParams{MediaType: MediaText, Text: "re", ReplyToID: "18000000000000001"},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"re"}, "reply_to_id": {"18000000000000001"}},
		},
		{
			name:   "quote",
			params: ContainerParams{MediaType: MediaText, Text: "q", QuotePostID: "18000000000000002"},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"q"}, "quote_post_id": {"18000000000000002"}},
		},
		{
			name:   "reply control",
			params: ContainerParams{MediaType: MediaText, Text: "x", ReplyControl: "accounts_you_follow"},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"x"}, "reply_control": {"accounts_you_follow"}},
		},
		{
			name:   "link attachment",
			params: ContainerParams{MediaType: MediaText, Text: "x", LinkAttachment: "https://example.test/post"},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"x"}, "link_attachment": {"https://example.test/post"}},
		},
		{
			name:   "topic tag",
			params: ContainerParams{MediaType: MediaText, Text: "x", TopicTag: "golang"},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"x"}, "topic_tag": {"golang"}},
		},
		{
			name:   "poll with two options",
			params: ContainerParams{MediaType: MediaText, Text: "?", Poll: &PollAttachment{OptionA: "yes", OptionB: "no"}},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"?"}, "poll_attachment": {`{"option_a":"yes","option_b":"no"}`}},
		},
		{
			name:   "poll with three options",
			params: ContainerParams{MediaType: MediaText, Text: "?", Poll: &PollAttachment{OptionA: "a", OptionB: "b", OptionC: "c"}},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"?"}, "poll_attachment": {`{"option_a":"a","option_b":"b","option_c":"c"}`}},
		},
		{
			name: "poll with four options, escaped",
			params: ContainerParams{MediaType: MediaText, Text: "?",
				Poll: &PollAttachment{OptionA: `"quoted"`, OptionB: "<b>", OptionC: "é", OptionD: "d&d"}},
			want: url.Values{"media_type": {"TEXT"}, "text": {"?"},
				"poll_attachment": {`{"option_a":"\"quoted\"","option_b":"\u003cb\u003e","option_c":"é","option_d":"d\u0026d"}`}},
		},
		{
			name: "extra fields, empty one dropped",
			params: ContainerParams{MediaType: MediaText, Text: "x", Extra: map[string]string{
				"enable_reply_approvals": "true", "location_id": ""}},
			want: url.Values{"media_type": {"TEXT"}, "text": {"x"}, "enable_reply_approvals": {"true"}},
		},
		{
			name: "text attachment with link and styles",
			params: ContainerParams{MediaType: MediaText, Text: "x", TextAttachment: &TextAttachment{
				Plaintext: "long <read>", LinkAttachmentURL: "https://example.com/a",
				Styling: []TextStyling{{Offset: 0, Length: 4, Styling: []string{"bold", "italic"}}}}},
			want: url.Values{"media_type": {"TEXT"}, "text": {"x"}, "text_attachment": {
				`{"plaintext":"long \u003cread\u003e","link_attachment_url":"https://example.com/a","text_with_styling_info":[{"offset":0,"length":4,"styling_info":["bold","italic"]}]}`}},
		},
		{
			name:   "text attachment, plaintext only",
			params: ContainerParams{MediaType: MediaText, Text: "x", TextAttachment: &TextAttachment{Plaintext: "long"}},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"x"}, "text_attachment": {`{"plaintext":"long"}`}},
		},
		{
			name: "spoilers and ghost",
			params: ContainerParams{MediaType: MediaText, Text: "a secret", IsGhostPost: true,
				TextEntities: []TextEntity{{EntityType: "SPOILER", Offset: 2, Length: 6}}},
			want: url.Values{"media_type": {"TEXT"}, "text": {"a secret"}, "is_ghost_post": {"true"},
				"text_entities": {`[{"entity_type":"SPOILER","offset":2,"length":6}]`}},
		},
		{
			name:   "spoiler media",
			params: ContainerParams{MediaType: MediaImage, ImageURL: "https://e.x/i.jpg", IsSpoilerMedia: true},
			want:   url.Values{"media_type": {"IMAGE"}, "image_url": {"https://e.x/i.jpg"}, "is_spoiler_media": {"true"}},
		},
		{
			name:   "gif and countries",
			params: ContainerParams{MediaType: MediaText, Text: "x", GIF: &GIFAttachment{GIFID: "abc", Provider: "GIPHY"}, AllowlistedCountryCodes: []string{"US", "CA"}},
			want: url.Values{"media_type": {"TEXT"}, "text": {"x"}, "gif_attachment": {`{"gif_id":"abc","provider":"GIPHY"}`},
				"allowlisted_country_codes": {"US,CA"}},
		},
		{
			name:   "auto publish through Extra",
			params: ContainerParams{MediaType: MediaText, Text: "now", Extra: map[string]string{"auto_publish_text": "true"}},
			want:   url.Values{"media_type": {"TEXT"}, "text": {"now"}, "auto_publish_text": {"true"}},
		},
		{
			name: "every field at once",
			params: ContainerParams{MediaType: MediaText, Text: "t", ImageURL: "i", VideoURL: "v", AltText: "a",
				IsCarouselItem: true, Children: []string{"1", "2"}, ReplyToID: "r", QuotePostID: "q",
				ReplyControl: "everyone", LinkAttachment: "l", TopicTag: "tt",
				Poll: &PollAttachment{OptionA: "A", OptionB: "B"}, Extra: map[string]string{"x_y": "z"}},
			want: url.Values{"media_type": {"TEXT"}, "text": {"t"}, "image_url": {"i"}, "video_url": {"v"},
				"alt_text": {"a"}, "is_carousel_item": {"true"}, "children": {"1,2"}, "reply_to_id": {"r"},
				"quote_post_id": {"q"}, "reply_control": {"everyone"}, "link_attachment": {"l"},
				"topic_tag": {"tt"}, "poll_attachment": {`{"option_a":"A","option_b":"B"}`}, "x_y": {"z"}},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Alternate between the id as a JSON number and as a string.
			body := `{"id":"` + testContainer + `"}`
			if i%2 == 1 {
				body = `{"id":` + testContainer + `}`
			}
			var hits atomic.Int32
			want := wantRequest{method: http.MethodPost, path: "/v1.0/" + testUserID + "/threads", form: withToken(tt.want)}
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				expect(t, want, http.StatusOK, body)(w, r)
			})
			id, err := newTestClient(srv.URL).CreateContainer(t.Context(), testUserID, testToken, tt.params)
			if err != nil {
				t.Fatalf("CreateContainer: %v", err)
			}
			if id != testContainer {
				t.Errorf("CreateContainer = %q, want %q", id, testContainer)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("server got %d requests, want 1", n)
			}
		})
	}
}

// TestCallsWire checks the exact request of every call and the answer it
// decodes, with and without a trailing slash on GraphURL.
func TestCallsWire(t *testing.T) {
	t.Parallel()
	limitQuery := withToken(url.Values{"fields": {"quota_usage,config,reply_quota_usage,reply_config"}})
	// Credentials go in the body of the code exchange, not in its query.
	codeWant := wantRequest{method: "POST", path: "/oauth/access_token", form: url.Values{
		"client_id":     {testAppID},
		"client_secret": {testSecret},
		"code":          {testCode},
		"grant_type":    {"authorization_code"},
		"redirect_uri":  {testRedirect},
	}}
	exchangeCode := func(ctx context.Context, c *Client) (any, error) {
		tok, err := c.ExchangeCode(ctx, testCode)
		return derefOrNil(tok), err
	}
	longLivedWant := wantRequest{method: "GET", path: "/access_token", query: url.Values{
		"grant_type":    {"th_exchange_token"},
		"client_secret": {testSecret},
		"access_token":  {testToken},
	}}
	exchangeLongLived := func(ctx context.Context, c *Client) (any, error) {
		tok, err := c.ExchangeLongLived(ctx, testToken)
		return derefOrNil(tok), err
	}
	meWant := wantRequest{method: "GET", path: "/v1.0/me",
		query: withToken(url.Values{"fields": {"id,username,name,threads_profile_picture_url"}})}
	me := func(ctx context.Context, c *Client) (any, error) {
		p, err := c.Me(ctx, testToken)
		return derefOrNil(p), err
	}
	tests := []struct {
		name string
		want wantRequest
		body string
		call func(context.Context, *Client) (any, error)
		out  any
	}{
		{
			name: "ExchangeCode, user_id number",
			want: codeWant,
			body: `{"access_token":"` + testToken + `","user_id":17841400000000001}`,
			call: exchangeCode,
			out:  ShortLivedToken{AccessToken: testToken, UserID: testUserID},
		},
		{
			name: "ExchangeCode, user_id string",
			want: codeWant,
			body: `{"access_token":"` + testToken + `","user_id":"17841400000000001"}`,
			call: exchangeCode,
			out:  ShortLivedToken{AccessToken: testToken, UserID: testUserID},
		},
		{
			name: "ExchangeCode, user_id absent",
			want: codeWant,
			body: `{"access_token":"` + testToken + `"}`,
			call: exchangeCode,
			out:  ShortLivedToken{AccessToken: testToken},
		},
		{
			name: "ExchangeLongLived, expires_in number",
			want: longLivedWant,
			body: `{"access_token":"` + testLong + `","token_type":"bearer","expires_in":5183944}`,
			call: exchangeLongLived,
			out:  LongLivedToken{AccessToken: testLong, TokenType: "bearer", ExpiresIn: 5183944},
		},
		{
			name: "ExchangeLongLived, expires_in string",
			want: longLivedWant,
			body: `{"access_token":"` + testLong + `","token_type":"bearer","expires_in":"5183944"}`,
			call: exchangeLongLived,
			out:  LongLivedToken{AccessToken: testLong, TokenType: "bearer", ExpiresIn: 5183944},
		},
		{
			name: "Me, id string",
			want: meWant,
			body: `{"id":"17841400000000001","username":"ada","name":"Ada L.","threads_profile_picture_url":"https://cdn.example.test/p.jpg"}`,
			call: me,
			out:  Profile{ID: testUserID, Username: "ada", Name: "Ada L.", PictureURL: "https://cdn.example.test/p.jpg"},
		},
		{
			name: "Me, id number, no name or picture",
			want: meWant,
			body: `{"id":17841400000000001,"username":"ada"}`,
			call: me,
			out:  Profile{ID: testUserID, Username: "ada"},
		},
		{
			name: "Publish, id string",
			want: wantRequest{method: "POST", path: "/v1.0/" + testUserID + "/threads_publish",
				form: withToken(url.Values{"creation_id": {testContainer}})},
			body: `{"id":"18050000000000001"}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Publish(ctx, testUserID, testToken, testContainer)
			},
			out: "18050000000000001",
		},
		{
			name: "Publish, id number, user me",
			want: wantRequest{method: "POST", path: "/v1.0/me/threads_publish",
				form: withToken(url.Values{"creation_id": {testContainer}})},
			body: `{"id":18050000000000001}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Publish(ctx, "me", testToken, testContainer)
			},
			out: "18050000000000001",
		},
		{
			name: "ContainerStatus finished",
			want: wantRequest{method: "GET", path: "/v1.0/" + testContainer,
				query: withToken(url.Values{"fields": {"status,error_message"}})},
			body: `{"status":"FINISHED","id":"` + testContainer + `"}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				st, err := c.ContainerStatus(ctx, testToken, testContainer)
				return derefOrNil(st), err
			},
			out: ContainerStatus{ID: testContainer, Status: StatusFinished},
		},
		{
			name: "ContainerStatus error, id number",
			want: wantRequest{method: "GET", path: "/v1.0/" + testContainer,
				query: withToken(url.Values{"fields": {"status,error_message"}})},
			body: `{"status":"ERROR","id":17889615691921648,"error_message":"FAILED_DOWNLOADING_VIDEO"}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				st, err := c.ContainerStatus(ctx, testToken, testContainer)
				return derefOrNil(st), err
			},
			out: ContainerStatus{ID: testContainer, Status: StatusError, ErrorMessage: "FAILED_DOWNLOADING_VIDEO"},
		},
		{
			name: "ContainerStatus without id in the answer",
			want: wantRequest{method: "GET", path: "/v1.0/" + testContainer,
				query: withToken(url.Values{"fields": {"status,error_message"}})},
			body: `{"status":"IN_PROGRESS"}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				st, err := c.ContainerStatus(ctx, testToken, testContainer)
				return derefOrNil(st), err
			},
			out: ContainerStatus{ID: testContainer, Status: StatusInProgress},
		},
		{
			name: "PublishingLimit full",
			want: wantRequest{method: "GET", path: "/v1.0/" + testUserID + "/threads_publishing_limit", query: limitQuery},
			body: `{"data":[{"quota_usage":4,"config":{"quota_total":250,"quota_duration":86400},` +
				`"reply_quota_usage":7,"reply_config":{"quota_total":1000,"quota_duration":86400}}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				l, err := c.PublishingLimit(ctx, testUserID, testToken)
				return derefOrNil(l), err
			},
			out: PublishingLimit{QuotaUsage: 4, QuotaTotal: 250, QuotaDuration: 86400,
				ReplyQuotaUsage: 7, ReplyQuotaTotal: 1000, ReplyQuotaDuration: 86400},
		},
		{
			name: "PublishingLimit without reply fields, numbers as strings",
			want: wantRequest{method: "GET", path: "/v1.0/" + testUserID + "/threads_publishing_limit", query: limitQuery},
			body: `{"data":[{"quota_usage":"0","config":{"quota_total":"250","quota_duration":"86400"}}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				l, err := c.PublishingLimit(ctx, testUserID, testToken)
				return derefOrNil(l), err
			},
			out: PublishingLimit{QuotaTotal: 250, QuotaDuration: 86400},
		},
		{
			name: "RefreshToken",
			want: wantRequest{method: "GET", path: "/refresh_access_token",
				query: withToken(url.Values{"grant_type": {"th_refresh_token"}})},
			body: `{"access_token":"` + testLong + `","token_type":"bearer","expires_in":5183944}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				tok, err := c.RefreshToken(ctx, testToken)
				return derefOrNil(tok), err
			},
			out: LongLivedToken{AccessToken: testLong, TokenType: "bearer", ExpiresIn: 5183944},
		},
	}
	for _, tt := range tests {
		// A trailing slash on GraphURL is tolerated.
		for _, suffix := range []string{"", "/"} {
			t.Run(tt.name+"/GraphURL"+suffix, func(t *testing.T) {
				t.Parallel()
				var hits atomic.Int32
				srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					expect(t, tt.want, http.StatusOK, tt.body)(w, r)
				})
				got, err := tt.call(t.Context(), newTestClient(srv.URL+suffix))
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				if got != tt.out {
					t.Errorf("call = %+v, want %+v", got, tt.out)
				}
				if n := hits.Load(); n != 1 {
					t.Errorf("server got %d requests, want 1", n)
				}
			})
		}
	}
}

// derefOrNil returns *p, or nil when p is nil.
func derefOrNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// publishCalls runs each publishing call with the test credentials, for
// tests that check every call behaves alike.
var publishCalls = []struct {
	name string
	call func(context.Context, *Client) error
}{
	{"CreateContainer", func(ctx context.Context, c *Client) error {
		_, err := c.CreateContainer(ctx, testUserID, testToken, ContainerParams{MediaType: MediaText, Text: "hi"})
		return err
	}},
	{"Publish", func(ctx context.Context, c *Client) error {
		_, err := c.Publish(ctx, testUserID, testToken, testContainer)
		return err
	}},
	{"ContainerStatus", func(ctx context.Context, c *Client) error {
		_, err := c.ContainerStatus(ctx, testToken, testContainer)
		return err
	}},
	{"PublishingLimit", func(ctx context.Context, c *Client) error {
		_, err := c.PublishingLimit(ctx, testUserID, testToken)
		return err
	}},
	{"RefreshToken", func(ctx context.Context, c *Client) error {
		_, err := c.RefreshToken(ctx, testToken)
		return err
	}},
}

// allCalls are calls and publishCalls.
var allCalls = append(slices.Clone(calls), publishCalls...)

func TestMediaNotReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  APIError
		want bool
	}{
		{err: APIError{HTTPStatus: 400, Code: 24, Subcode: 4279009}, want: true},
		{err: APIError{HTTPStatus: 400, Code: 100, Subcode: 4279009}, want: true},
		{err: APIError{HTTPStatus: 400, Subcode: 4279009}, want: true},
		{err: APIError{HTTPStatus: 400, Code: 24}},
		{err: APIError{HTTPStatus: 400, Code: 24, Subcode: 4279013}},
		{err: APIError{HTTPStatus: 400, Code: 100}},
		{err: APIError{HTTPStatus: 400, Code: 190}},
		{err: APIError{HTTPStatus: 500}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.err.Code, tt.err.Subcode), func(t *testing.T) {
			if got := tt.err.MediaNotReady(); got != tt.want {
				t.Errorf("MediaNotReady() = %v, want %v", got, tt.want)
			}
			if tt.want && !tt.err.Temporary() {
				t.Errorf("Temporary() = false for a media-not-ready error, want true")
			}
		})
	}
}

// dropAnswer reads the whole request, then closes the connection without
// answering, as when an answer is lost after Threads acted on the request.
func dropAnswer(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		conn.Close()
	}
}

// cutShort answers 200 with a Content-Length longer than the body it sends,
// then closes the connection.
func cutShort(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":\"1")
		buf.Flush()
		conn.Close()
	}
}

func TestIsUnknownOutcome(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: no request expected unless graph is set
		edit    func(*Client)
		// clientTimeout gives the client an http.Client timing out after the
		// timer (below).
		clientTimeout bool
		// ctx derives the call's context; timer is how long a case that
		// times out waits: 100 ms, and 8 times as long again while its
		// request did not reach the server before the timer fired (the
		// case is about a request sent).
		ctx func(ctx context.Context, timer time.Duration) (context.Context, context.CancelFunc)
		// cancelOnArrival cancels the call's context once the server has
		// its request (a timer could fire before it is sent).
		cancelOnArrival bool
		call            func(context.Context, *Client) error // nil: every publishing call
		want            bool
		check           func(*testing.T, error)
	}{
		{
			name:    "answer lost after the request was read",
			handler: dropAnswer(t),
			want:    true,
		},
		{
			name:    "answer body cut short",
			handler: cutShort(t),
			want:    true,
		},
		{
			name:    "context deadline while waiting",
			handler: func(w http.ResponseWriter, r *http.Request) { hang(r) },
			ctx: func(ctx context.Context, timer time.Duration) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, timer)
			},
			want: true,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error = %v, want context.DeadlineExceeded", err)
				}
			},
		},
		{
			name:            "context cancelled while waiting",
			handler:         func(w http.ResponseWriter, r *http.Request) { hang(r) },
			cancelOnArrival: true,
			want:            true,
		},
		{
			name:          "http.Client timeout",
			handler:       func(w http.ResponseWriter, r *http.Request) { hang(r) },
			clientTimeout: true,
			want:          true,
		},
		{
			name:    "malformed 2xx answer",
			handler: func(w http.ResponseWriter, r *http.Request) { answer(w, http.StatusOK, `{"nope":1}`) },
			want:    true,
		},
		{
			name: "5xx answer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				answer(w, http.StatusServiceUnavailable, `{"error":{"message":"down","code":2,"is_transient":true}}`)
			},
			want: true,
		},
		{
			name: "4xx answer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				answer(w, http.StatusBadRequest, `{"error":{"message":"Invalid parameter","code":100}}`)
			},
			want: false,
		},
		{
			name:    "429 without JSON",
			handler: func(w http.ResponseWriter, r *http.Request) { answer(w, http.StatusTooManyRequests, "slow down") },
			want:    false,
		},
		{
			name: "connection refused",
			edit: func(c *Client) { c.GraphURL = closedURL },
			want: false,
		},
		{
			name: "context done before the call",
			ctx: func(ctx context.Context, _ time.Duration) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx, cancel
			},
			want: false,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error = %v, want context.Canceled", err)
				}
			},
		},
		{
			name: "no GraphURL",
			edit: func(c *Client) { c.GraphURL = "" },
			want: false,
		},
		{
			name: "GraphURL without http scheme",
			edit: func(c *Client) { c.GraphURL = "ftp://graph.example.test" },
			want: false,
		},
		{
			name: "GraphURL unparsable",
			edit: func(c *Client) { c.GraphURL = "http://[::1" },
			want: false,
		},
		{
			name: "empty user ID",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Publish(ctx, "", testToken, testContainer)
				return err
			},
		},
		{
			name: "invalid params",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateContainer(ctx, testUserID, testToken, ContainerParams{})
				return err
			},
		},
	}
	for _, tt := range tests {
		calls := publishCalls
		if tt.call != nil {
			calls = []struct {
				name string
				call func(context.Context, *Client) error
			}{{"call", tt.call}}
		}
		for _, call := range calls {
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				t.Parallel()
				h := tt.handler
				if h == nil {
					h = func(w http.ResponseWriter, r *http.Request) {
						t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
					}
				}
				attempt := func(timer time.Duration) (int32, error) {
					var hits atomic.Int32
					arrived := make(chan struct{})
					srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
						if hits.Add(1) == 1 {
							close(arrived)
						}
						h(w, r)
					})
					c := newTestClient(srv.URL)
					if tt.edit != nil {
						tt.edit(c)
					}
					if tt.clientTimeout {
						c.HTTP = &http.Client{Timeout: timer}
					}
					ctx := t.Context()
					if tt.ctx != nil {
						var cancel context.CancelFunc
						ctx, cancel = tt.ctx(ctx, timer)
						defer cancel()
					}
					if tt.cancelOnArrival {
						var cancel context.CancelFunc
						ctx, cancel = context.WithCancel(ctx)
						defer cancel()
						go func() {
							select {
							case <-arrived:
								cancel()
							case <-ctx.Done():
							}
						}()
					}
					err := call.call(ctx, c)
					return hits.Load(), err
				}
				var (
					hits int32
					err  error
				)
				for _, timer := range []time.Duration{100 * time.Millisecond, 800 * time.Millisecond, 6400 * time.Millisecond} {
					hits, err = attempt(timer)
					timed := tt.clientTimeout || tt.ctx != nil
					if !timed || tt.handler == nil || hits != 0 {
						break
					}
				}
				checkNoSecrets(t, err)
				if got := IsUnknownOutcome(err); got != tt.want {
					t.Errorf("IsUnknownOutcome(%v) = %v, want %v", err, got, tt.want)
				}
				if tt.handler != nil && hits != 1 {
					t.Errorf("server got %d requests, want 1", hits)
				}
				if tt.check != nil {
					tt.check(t, err)
				}
			})
		}
	}

	t.Run("plain values", func(t *testing.T) {
		t.Parallel()
		values := []struct {
			err  error
			want bool
		}{
			{nil, false},
			{errors.New("some other error"), true},
			{&APIError{HTTPStatus: 400, Code: 100}, false},
			{fmt.Errorf("wrapped: %w", &APIError{HTTPStatus: 400, Code: 24, Subcode: 4279009}), false},
			{fmt.Errorf("wrapped: %w", &APIError{HTTPStatus: 502}), true},
			{fmt.Errorf("wrapped: %w", ErrMalformedResponse), true},
			{context.DeadlineExceeded, true},
		}
		for _, v := range values {
			if got := IsUnknownOutcome(v.err); got != v.want {
				t.Errorf("IsUnknownOutcome(%v) = %v, want %v", v.err, got, v.want)
			}
		}
	})
}

// TestPublishingInputChecked checks that invalid input fails without
// sending anything.
func TestPublishingInputChecked(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
	})
	text := func(edit func(*ContainerParams)) ContainerParams {
		p := ContainerParams{MediaType: MediaText, Text: "x"}
		edit(&p)
		return p
	}
	tests := []struct {
		name string
		call func(context.Context, *Client) error
		want string
	}{
		{"CreateContainer empty user", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, "", testToken, text(func(*ContainerParams) {}))
			return err
		}, "empty user ID"},
		{"CreateContainer empty token", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, "", text(func(*ContainerParams) {}))
			return err
		}, "empty access token"},
		{"no media type", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, ContainerParams{Text: "x"})
			return err
		}, "empty media type"},
		{"poll with one option", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, text(func(p *ContainerParams) { p.Poll = &PollAttachment{OptionA: "a"} }))
			return err
		}, "option B"},
		{"poll option D without C", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, text(func(p *ContainerParams) {
				p.Poll = &PollAttachment{OptionA: "a", OptionB: "b", OptionD: "d"}
			}))
			return err
		}, "option D without option C"},
		{"empty child", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, ContainerParams{MediaType: MediaCarousel, Children: []string{"1", ""}})
			return err
		}, "child id"},
		{"child with comma", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, ContainerParams{MediaType: MediaCarousel, Children: []string{"1,2", "3"}})
			return err
		}, "child id"},
		{"extra overrides text", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, text(func(p *ContainerParams) { p.Extra = map[string]string{"text": "y"} }))
			return err
		}, `extra field "text"`},
		{"extra overrides access_token", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, text(func(p *ContainerParams) {
				p.Extra = map[string]string{"access_token": "OTHER"}
			}))
			return err
		}, `extra field "access_token"`},
		{"extra overrides unset poll", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, text(func(p *ContainerParams) {
				p.Extra = map[string]string{"poll_attachment": "{}"}
			}))
			return err
		}, `extra field "poll_attachment"`},
		{"extra overrides a typed field", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, text(func(p *ContainerParams) {
				p.Extra = map[string]string{"text_entities": "[]"}
			}))
			return err
		}, `extra field "text_entities"`},
		{"country code with a comma", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, text(func(p *ContainerParams) { p.AllowlistedCountryCodes = []string{"US,CA"} }))
			return err
		}, "country code"},
		{"extra empty key", func(ctx context.Context, c *Client) error {
			_, err := c.CreateContainer(ctx, testUserID, testToken, text(func(p *ContainerParams) { p.Extra = map[string]string{"": "v"} }))
			return err
		}, `extra field ""`},
		{"Publish empty container", func(ctx context.Context, c *Client) error {
			_, err := c.Publish(ctx, testUserID, testToken, "")
			return err
		}, "empty container ID"},
		{"Publish empty token", func(ctx context.Context, c *Client) error {
			_, err := c.Publish(ctx, testUserID, "", testContainer)
			return err
		}, "empty access token"},
		{"ContainerStatus empty container", func(ctx context.Context, c *Client) error {
			_, err := c.ContainerStatus(ctx, testToken, "")
			return err
		}, "empty container ID"},
		{"ContainerStatus empty token", func(ctx context.Context, c *Client) error {
			_, err := c.ContainerStatus(ctx, "", testContainer)
			return err
		}, "empty access token"},
		{"PublishingLimit empty user", func(ctx context.Context, c *Client) error {
			_, err := c.PublishingLimit(ctx, "", testToken)
			return err
		}, "empty user ID"},
		{"RefreshToken empty token", func(ctx context.Context, c *Client) error {
			_, err := c.RefreshToken(ctx, "")
			return err
		}, "empty access token"},
		{"nil context", func(_ context.Context, c *Client) error {
			_, err := c.Publish(nil, testUserID, testToken, testContainer)
			return err
		}, "nil context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context(), newTestClient(srv.URL))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
			if IsUnknownOutcome(err) {
				t.Errorf("IsUnknownOutcome(%v) = true for an error found before sending", err)
			}
			checkNoSecrets(t, err)
		})
	}
}

func TestPublishingErrorsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{
			name: "API error echoing the token",
			handler: func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				tok := r.Form.Get("access_token")
				answer(w, http.StatusBadRequest, `{"error":{"message":"bad token `+tok+`","type":"OAuthException `+tok+
					`","code":190,"fbtrace_id":"`+tok+`"}}`)
			},
		},
		{
			name: "non-JSON error echoing the request",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				io.WriteString(w, echo(r))
			},
		},
		{
			name: "malformed 200 echoing the request",
			handler: func(w http.ResponseWriter, r *http.Request) {
				answer(w, http.StatusOK, `{"id": `+echo(r))
			},
		},
		{
			name: "wrong types quoting the token",
			handler: func(w http.ResponseWriter, r *http.Request) {
				answer(w, http.StatusOK, `{"id":["TOKEN-123"],"status":["TOKEN-123"],"data":"TOKEN-123","access_token":["TOKEN-123"]}`)
			},
		},
		{
			name:    "answer lost",
			handler: dropAnswer(t),
		},
	}
	for _, tt := range tests {
		for _, call := range publishCalls {
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				t.Parallel()
				err := call.call(t.Context(), newTestClient(serve(t, tt.handler).URL))
				checkNoSecrets(t, err)
				if apiErr, ok := errors.AsType[*APIError](err); ok {
					for _, a := range apiErr.LogAttrs() {
						if strings.Contains(a.Value.String(), testToken) {
							t.Errorf("log attribute %s = %q contains the token", a.Key, a.Value)
						}
					}
				}
			})
		}
	}
}

// TestPublishingConcurrentUse runs publishing calls on one Client from many
// goroutines, for the race detector.
func TestPublishingConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, `{"id":"1","status":"FINISHED","access_token":"x",`+
			`"data":[{"quota_usage":1,"config":{"quota_total":250,"quota_duration":86400}}]}`)
	})
	c := newTestClient(srv.URL)
	errs := make(chan error, 25)
	for i := range cap(errs) {
		go func() { errs <- publishCalls[i%len(publishCalls)].call(t.Context(), c) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
