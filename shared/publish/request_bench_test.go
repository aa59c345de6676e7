package publish_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/publish"
)

// benchBodies are valid thPublish bodies, one per kind of post.
var benchBodies = []struct{ name, body string }{
	{"text", `{"text":"Shipping the Go port of our Threads functions today: smaller, faster, cheaper. https://example.com/blog/go-port #golang"}`},
	{"text_poll_reply", `{"text":"Which runtime next?","poll":{"options":["Go","Rust","Zig"]},"replyControl":"accounts_you_follow","topicTag":"runtimes","replyToId":"17890000000000123"}`},
	{"image", `{"text":"Sunset over the bay","imageUrl":"https://cdn.example.com/photos/2026/sunset-bay-1920.jpg","altText":"An orange sun setting over calm water"}`},
	{"video", `{"text":"Launch recap","videoUrl":"https://cdn.example.com/videos/launch-recap.mp4","altText":"Highlights of the launch event"}`},
	{"carousel", `{"text":"Ten photos from the trip","media":[` +
		strings.TrimSuffix(strings.Repeat(`{"type":"image","url":"https://cdn.example.com/trip/photo.jpg","altText":"A photo from the trip"},`, 10), ",") + `]}`},
	{"features", `{"text":"The ending (spoiler!) is wild","spoilers":[{"offset":4,"length":6}],"longText":"` + strings.Repeat("A long review, sentence after sentence. ", 50) +
		`","longTextLink":"https://example.com/review","longTextStyles":[{"offset":0,"length":6,"styles":["bold"]}],"allowlistedCountryCodes":["US","CA","GB"]}`},
	{"thread", `{"thread":["Part one of the story.","Part two, where it turns.","Part three: the end."]}`},
	{"split", `{"split":true,"numberParts":true,"text":"` + strings.Repeat("A sentence that goes on for a while, as long texts do. ", 40) + `"}`},
}

// BenchmarkDecodeAndValidate is thPublish's request parsing: the JSON body
// through httpx.DecodeJSON (size limit, unknown fields refused), then
// Request.Validate, then the request hash for idempotency.
func BenchmarkDecodeAndValidate(b *testing.B) {
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			header := http.Header{"Content-Type": {"application/json"}}
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				r := &http.Request{Method: http.MethodPost, Header: header, Body: io.NopCloser(strings.NewReader(bb.body))}
				var req publish.Request
				if err := httpx.DecodeJSON(r, &req, 64<<10, false); err != nil {
					b.Fatal(err)
				}
				if err := req.Validate(); err != nil {
					b.Fatal(err)
				}
				_ = req.Hash()
			}
		})
	}
}

// BenchmarkValidate is Request.Validate alone, on decoded requests.
func BenchmarkValidate(b *testing.B) {
	for _, bb := range benchBodies {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(bb.body))
		var req publish.Request
		if err := httpx.DecodeJSON(r, &req, 64<<10, false); err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := req.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
