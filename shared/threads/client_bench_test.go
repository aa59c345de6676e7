package threads_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"threadsfunctions.dev/shared/threads"
)

// Answers as the Graph API gives them (ids as strings, a 60-day token).
const (
	answerCode      = `{"access_token":"FAKE-SHORT-TOKEN-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-ABCDEFGHIJ","user_id":"17841400000000001"}`
	answerLongLived = `{"access_token":"FAKE-LONG-TOKEN-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ","token_type":"bearer","expires_in":5183944}`
	answerMe        = `{"id":"17841400000000001","username":"ada.lovelace","name":"Ada Lovelace","threads_profile_picture_url":"https://scontent.cdninstagram.com/v/t51.2885-19/ada_n.jpg?stp=dst-jpg_s320x320&_nc_ht=scontent.cdninstagram.com&oh=00_AfB&oe=6789ABCD"}`
	answerID        = `{"id":"17890000000000123"}`
	answerStatus    = `{"status":"FINISHED","id":"17890000000000123"}`
	answerLimit     = `{"data":[{"quota_usage":4,"config":{"quota_total":250,"quota_duration":86400},"reply_quota_usage":0,"reply_config":{"quota_total":1000,"quota_duration":86400}}]}`
	answerError     = `{"error":{"message":"Error validating access token: Session has expired on Monday, 05-Jan-26 10:00:00 PST.","type":"OAuthException","code":190,"error_subcode":463,"is_transient":false,"fbtrace_id":"AbCdEfGhIjKlMnOp"}}`
)

// canned answers every request with one body, without a network: the
// benchmarks then measure the client's own work (building the request,
// reading and decoding the answer, redacting errors).
type canned struct {
	status int
	body   string
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: c.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(c.body)),
		Request: r, ContentLength: int64(len(c.body)),
	}, nil
}

func cannedClient(status int, body string) *threads.Client {
	return &threads.Client{
		AppID: "1234567890", AppSecret: "bench-secret", RedirectURI: "https://app.example.com/thAuthCallback",
		GraphURL: "https://graph.threads.net",
		HTTP:     &http.Client{Transport: canned{status, body}},
	}
}

// BenchmarkDecode is each call the functions make, with its answer decoded
// (no network).
func BenchmarkDecode(b *testing.B) {
	ctx := context.Background()
	const tok = "THQVJLONG0123456789abcdefghijklmnopqrstuvwxyz"
	for _, bc := range []struct {
		name, body string
		call       func(c *threads.Client) error
	}{
		{"ExchangeCode", answerCode, func(c *threads.Client) error { _, err := c.ExchangeCode(ctx, "CODE-0123456789"); return err }},
		{"ExchangeLongLived", answerLongLived, func(c *threads.Client) error { _, err := c.ExchangeLongLived(ctx, tok); return err }},
		{"Me", answerMe, func(c *threads.Client) error { _, err := c.Me(ctx, tok); return err }},
		{"PublishingLimit", answerLimit, func(c *threads.Client) error {
			_, err := c.PublishingLimit(ctx, "17841400000000001", tok)
			return err
		}},
		{"CreateContainer", answerID, func(c *threads.Client) error {
			_, err := c.CreateContainer(ctx, "17841400000000001", tok, threads.ContainerParams{MediaType: "TEXT", Text: "Hello from the benchmark"})
			return err
		}},
		{"ContainerStatus", answerStatus, func(c *threads.Client) error {
			_, err := c.ContainerStatus(ctx, tok, "17890000000000123")
			return err
		}},
		{"Publish", answerID, func(c *threads.Client) error {
			_, err := c.Publish(ctx, "17841400000000001", tok, "17890000000000123")
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := cannedClient(http.StatusOK, bc.body)
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.call(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeError is a Threads error answer turned into a redacted
// *threads.APIError.
func BenchmarkDecodeError(b *testing.B) {
	c := cannedClient(http.StatusBadRequest, answerError)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Me(ctx, "THQVJLONG0123456789abcdefghijklmnopqrstuvwxyz"); err == nil {
			b.Fatal("no error")
		}
	}
}

// BenchmarkMeOverLoopback is Me against an httptest server on loopback: the
// client's work plus net/http on both ends, keep-alive. Compare with
// BenchmarkDecode/Me to see what the transport costs.
func BenchmarkMeOverLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answerMe)
	}))
	defer srv.Close()
	c := &threads.Client{GraphURL: srv.URL, HTTP: srv.Client()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Me(ctx, "THQVJLONG0123456789abcdefghijklmnopqrstuvwxyz"); err != nil {
			b.Fatal(err)
		}
	}
}
