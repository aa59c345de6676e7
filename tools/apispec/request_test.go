package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"threadsfunctions.dev/shared/publish"
)

// TestPublishRequestSchemaAgreesWithValidate sends bodies to both the
// spec's PublishRequest schema and thPublish's validation
// (publish.Request, decoded as the function decodes it, then Validate and
// ScheduledAt). The schema must never refuse what the code accepts; and
// for every rule JSON Schema can say, it must refuse what the code
// refuses. Rules it cannot say (bytes, distinct links, ranges within the
// text, times relative to now) are marked codeOnly.
func TestPublishRequestSchemaAgreesWithValidate(t *testing.T) {
	s, _ := loadRepoSpec(t)
	schema := s.Doc.Components.Schemas["PublishRequest"].Value
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	long := strings.Repeat("word ", 130) // 650 bytes
	cases := []struct {
		name     string
		body     string
		valid    bool // what the code says
		codeOnly bool // invalid, but JSON Schema cannot say why
	}{
		{name: "text", body: `{"text":"hi"}`, valid: true},
		{name: "image with alt text", body: `{"imageUrl":"https://x.example/a.jpg","altText":"a","spoilerMedia":true}`, valid: true},
		{name: "video", body: `{"videoUrl":"https://x.example/a.mp4","text":"look"}`, valid: true},
		{name: "carousel", body: `{"media":[{"type":"image","url":"https://x.example/1.jpg","altText":"one"},{"type":"video","url":"https://x.example/2.mp4"}]}`, valid: true},
		{name: "poll", body: `{"text":"Tea or coffee?","poll":{"options":["Tea","Coffee"]}}`, valid: true},
		{name: "long text", body: `{"text":"short","longText":"the long version","longTextLink":"https://x.example/","longTextStyles":[{"offset":4,"length":4,"styles":["bold","italic"]}]}`, valid: true},
		{name: "thread", body: `{"thread":["one","two"],"replyControl":"mentioned_only"}`, valid: true},
		{name: "split", body: `{"text":"` + long + `","split":true,"numberParts":true}`, valid: true},
		{name: "split, fits", body: `{"text":"short","split":true}`, valid: true},
		{name: "ghost with spoilers", body: `{"text":"boo","ghost":true,"spoilers":[{"offset":0,"length":3}]}`, valid: true},
		{name: "gif", body: `{"text":"ha","gif":{"id":"abc-123","provider":"GIPHY"}}`, valid: true},
		{name: "countries", body: `{"text":"hi","allowlistedCountryCodes":["GB","IE"]}`, valid: true},
		{name: "scheduled", body: `{"text":"hi","publishAt":"2026-12-01T09:30:00Z"}`, valid: true},
		{name: "reply", body: `{"text":"hi","replyToId":"18028000000000001","topicTag":"news"}`, valid: true},
		{name: "quote, link", body: `{"text":"hi","quotePostId":"18028000000000001","linkAttachment":"http://x.example/"}`, valid: true},
		{name: "false flags", body: `{"text":"hi","spoilerMedia":false,"ghost":false,"split":false,"numberParts":false}`, valid: true},
		{name: "keys", body: `{"text":"hi","accountId":"17841400000000001","idempotencyKey":"post-1"}`, valid: true},

		{name: "empty", body: `{}`},
		{name: "text too long", body: `{"text":"` + strings.Repeat("a", 501) + `"}`},
		{name: "image and video", body: `{"imageUrl":"https://x.example/a.jpg","videoUrl":"https://x.example/a.mp4"}`},
		{name: "image and carousel", body: `{"imageUrl":"https://x.example/a.jpg","media":[{"type":"image","url":"https://x.example/1.jpg"},{"type":"image","url":"https://x.example/2.jpg"}]}`},
		{name: "alt text without media", body: `{"text":"hi","altText":"a"}`},
		{name: "reply and quote", body: `{"text":"hi","replyToId":"1","quotePostId":"2"}`},
		{name: "link on an image", body: `{"imageUrl":"https://x.example/a.jpg","linkAttachment":"https://x.example/"}`},
		{name: "poll on an image", body: `{"imageUrl":"https://x.example/a.jpg","text":"q","poll":{"options":["a","b"]}}`},
		{name: "poll and link", body: `{"text":"q","poll":{"options":["a","b"]},"linkAttachment":"https://x.example/"}`},
		{name: "poll on a thread", body: `{"thread":["a","b"],"poll":{"options":["a","b"]}}`, valid: true},
		{name: "poll without a question", body: `{"imageUrl":"https://x.example/a.jpg","poll":{"options":["a","b"]}}`},
		{name: "text of white space", body: `{"text":"  ","imageUrl":"https://x.example/a.jpg"}`},
		{name: "image URL in upper case", body: `{"imageUrl":"HTTPS://x.example/a.jpg"}`},
		{name: "image URL with a space", body: `{"imageUrl":"https://x.example/a b.jpg"}`},
		{name: "link attachment in upper case", body: `{"text":"t","linkAttachment":"HTTP://x.example/"}`},
		{name: "poll of one", body: `{"text":"q","poll":{"options":["a"]}}`},
		{name: "poll option too long", body: `{"text":"q","poll":{"options":["a","` + strings.Repeat("b", 26) + `"]}}`},
		{name: "long text link alone", body: `{"text":"hi","longTextLink":"https://x.example/"}`},
		{name: "long text and poll", body: `{"text":"q","longText":"more","poll":{"options":["a","b"]}}`},
		{name: "long text link and link", body: `{"text":"q","longText":"more","longTextLink":"https://a.example/","linkAttachment":"https://b.example/"}`},
		{name: "long text on video", body: `{"videoUrl":"https://x.example/a.mp4","longText":"more"}`},
		{name: "gif and long text", body: `{"text":"q","longText":"more","gif":{"id":"a","provider":"GIPHY"}}`},
		{name: "gif of another provider", body: `{"text":"q","gif":{"id":"a","provider":"TENOR"}}`},
		{name: "thread and text", body: `{"text":"q","thread":["a","b"]}`},
		{name: "thread and split", body: `{"thread":["a","b"],"split":true}`},
		{name: "thread of one", body: `{"thread":["a"]}`},
		{name: "blank thread part", body: `{"thread":["a","  "]}`},
		{name: "spoilers and split", body: `{"text":"hello","split":true,"spoilers":[{"offset":0,"length":2}]}`},
		{name: "numberParts without split", body: `{"text":"hello","numberParts":true}`},
		{name: "spoilerMedia on text", body: `{"text":"hello","spoilerMedia":true}`},
		{name: "ghost image", body: `{"imageUrl":"https://x.example/a.jpg","ghost":true}`},
		{name: "ghost reply", body: `{"text":"boo","ghost":true,"replyToId":"1"}`},
		{name: "ghost thread", body: `{"thread":["a","b"],"ghost":true}`},
		{name: "ghost geo-gated", body: `{"text":"boo","ghost":true,"allowlistedCountryCodes":["GB"]}`},
		{name: "reply control", body: `{"text":"hi","replyControl":"nobody"}`},
		{name: "topic tag with a dot", body: `{"text":"hi","topicTag":"a.b"}`},
		{name: "http image", body: `{"imageUrl":"http://x.example/a.jpg"}`},
		{name: "lower-case country", body: `{"text":"hi","allowlistedCountryCodes":["gb"]}`},
		{name: "unassigned country", body: `{"text":"hi","allowlistedCountryCodes":["XX"]}`},
		{name: "repeated country", body: `{"text":"hi","allowlistedCountryCodes":["GB","GB"]}`},
		{name: "idempotency key with a space", body: `{"text":"hi","idempotencyKey":"a b"}`},
		{name: "bad id", body: `{"text":"hi","replyToId":"a/b"}`},
		{name: "carousel item type", body: `{"media":[{"type":"gif","url":"https://x.example/1.gif"},{"type":"image","url":"https://x.example/2.jpg"}]}`},
		{name: "eleven spoilers", body: `{"text":"` + strings.Repeat("a", 30) + `","spoilers":[` + strings.TrimSuffix(strings.Repeat(`{"offset":0,"length":1},`, 11), ",") + `]}`},
		{name: "unknown style", body: `{"text":"t","longText":"more","longTextStyles":[{"offset":0,"length":1,"styles":["blink"]}]}`},
		{name: "repeated style", body: `{"text":"t","longText":"more","longTextStyles":[{"offset":0,"length":1,"styles":["bold","bold"]}]}`},
		{name: "zero-length spoiler", body: `{"text":"hello","spoilers":[{"offset":0,"length":0}]}`},
		{name: "publishAt not RFC 3339", body: `{"text":"hi","publishAt":"tomorrow"}`},

		{name: "six links", codeOnly: true, body: `{"text":"https://a.example/1 https://b.example https://c.example https://d.example https://e.example https://f.example"}`},
		{name: "500 characters over 500 bytes", codeOnly: true, body: `{"text":"` + strings.Repeat("é", 300) + `"}`},
		{name: "spoiler past the text", codeOnly: true, body: `{"text":"hello","spoilers":[{"offset":3,"length":5}]}`},
		{name: "overlapping styles", codeOnly: true, body: `{"text":"t","longText":"more text","longTextStyles":[{"offset":0,"length":3,"styles":["bold"]},{"offset":2,"length":3,"styles":["italic"]}]}`},
		{name: "publishAt in the past", codeOnly: true, body: `{"text":"hi","publishAt":"2026-11-01T09:30:00Z"}`},
		{name: "publishAt too far", codeOnly: true, body: `{"text":"hi","publishAt":"2027-01-30T09:30:00Z"}`},
		{name: "poll options differ only in case", codeOnly: true, body: `{"text":"q","poll":{"options":["Tea","tea"]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codeErr := validateAsThPublish(tc.body, now)
			if (codeErr == nil) != tc.valid {
				t.Fatalf("the code says %v, the test expects valid=%v: fix the case", codeErr, tc.valid)
			}
			var v any
			if err := json.Unmarshal([]byte(tc.body), &v); err != nil {
				t.Fatal(err)
			}
			specErr := schema.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.EnableFormatValidation())
			switch {
			case specErr != nil && codeErr == nil:
				t.Errorf("the spec refuses what the code accepts: %.400s", specErr)
			case specErr == nil && codeErr != nil && !tc.codeOnly:
				t.Errorf("the spec accepts what the code refuses (%v)", codeErr)
			case specErr != nil && tc.codeOnly:
				t.Errorf("marked codeOnly, but the spec refuses it too: %.200s", specErr)
			}
		})
	}
}

// validateAsThPublish decodes and checks body as thPublish does.
func validateAsThPublish(body string, now time.Time) error {
	var req publish.Request
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	_, err := req.ScheduledAt(now)
	return err
}
