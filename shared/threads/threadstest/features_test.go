package threadstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"threadsfunctions.dev/shared/threads"
)

// featuresOf are a post's decoded newer features, for comparison.
type featuresOf struct {
	ReplyToID      string
	TextAttachment *TextAttachment
	TextEntities   []TextEntity
	SpoilerMedia   bool
	GhostPost      bool
	GIF            *GIFAttachment
	Countries      []string
}

func featuresOfPost(p Post) featuresOf {
	return featuresOf{
		ReplyToID: p.ReplyToID, TextAttachment: p.TextAttachment, TextEntities: p.TextEntities,
		SpoilerMedia: p.SpoilerMedia, GhostPost: p.GhostPost, GIF: p.GIF, Countries: p.AllowlistedCountryCodes,
	}
}

// rawCreate posts a container creation form by hand (access_token added)
// and returns the answer's status, error code and subcode, and id.
func rawCreate(t *testing.T, s *Server, tok string, form url.Values) (status, code, subcode int, id string) {
	t.Helper()
	form.Set("access_token", tok)
	resp, err := s.Client().PostForm(s.URL+"/v1.0/me/threads", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		ID    string `json:"id"`
		Error *struct {
			Code    int    `json:"code"`
			Subcode int    `json:"error_subcode"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	if body.Error != nil {
		t.Logf("answer: %s", body.Error.Message)
		return resp.StatusCode, body.Error.Code, body.Error.Subcode, ""
	}
	return resp.StatusCode, 0, 0, body.ID
}

// form builds form values from pairs.
func form(kv ...string) url.Values {
	out := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

// textForm is a TEXT container's form with more pairs.
func textForm(text string, kv ...string) url.Values {
	return form(append([]string{"media_type", "TEXT", "text", text}, kv...)...)
}

func TestNewerFeatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, tokB := e.s.AddAccount(ada), e.s.AddAccount(bob)
	publish := func(tok, user string, p threads.ContainerParams) string {
		t.Helper()
		id, err := e.c.Publish(t.Context(), user, tok, e.create(t, tok, p))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	parent := publish(tok, ada.ID, threads.ContainerParams{MediaType: "TEXT", Text: "parent"})
	bobsPost := publish(tokB, bob.ID, threads.ContainerParams{MediaType: "TEXT", Text: "bob's"})
	unpublished := e.create(t, tok, threads.ContainerParams{MediaType: "TEXT", Text: "not yet"})
	item := func() string {
		return e.create(t, tok, threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://cdn.example.test/i.jpg", IsCarouselItem: true})
	}
	item1, item2 := item(), item()

	link := func(i int) string { return fmt.Sprintf("https://example.test/%d", i) }
	links := func(from, to int) string {
		var l []string
		for i := from; i <= to; i++ {
			l = append(l, link(i))
		}
		return strings.Join(l, " ")
	}
	// "héllo wörld" is 11 runes but 13 bytes: ranges are counted in runes.
	const hello = "héllo wörld"
	ta := func(plaintext string, more string) string {
		js, _ := json.Marshal(plaintext)
		return `{"plaintext":` + string(js) + more + `}`
	}
	styles := func(ranges ...string) string {
		return ta(hello, `,"text_with_styling_info":[`+strings.Join(ranges, ",")+`]`)
	}
	spoiler := func(off, length int) string {
		return fmt.Sprintf(`{"entity_type":"SPOILER","offset":%d,"length":%d}`, off, length)
	}
	spoilers := func(s ...string) string { return "[" + strings.Join(s, ",") + "]" }
	var ten []string
	for i := range 11 {
		ten = append(ten, spoiler(i, 1))
	}
	codes := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, string(rune('A'+i/26))+string(rune('A'+i%26)))
		}
		return out
	}
	image := func(kv ...string) url.Values {
		return form(append([]string{"media_type", "IMAGE", "image_url", "https://cdn.example.test/a.jpg"}, kv...)...)
	}
	const secret = "a secret here" // 13 runes

	tests := []struct {
		name string
		form url.Values
		// code and subcode of the refusal; 0 if accepted.
		code, subcode int
		// want are the features of the post published from an accepted
		// container (not checked for carousel items, never published).
		want featuresOf
	}{
		// text_attachment
		{name: "text attachment plaintext only", form: textForm("x", "text_attachment", `{"plaintext":"long"}`),
			want: featuresOf{TextAttachment: &TextAttachment{Plaintext: "long"}}},
		{name: "text attachment with link and styles", form: textForm("x", "text_attachment",
			`{"plaintext":"héllo wörld","link_attachment_url":"https://example.test/read","text_with_styling_info":[`+
				`{"offset":6,"length":5,"styling_info":["italic","underline"]},{"offset":0,"length":5,"styling_info":["bold","highlight","strikethrough"]}]}`),
			want: featuresOf{TextAttachment: &TextAttachment{Plaintext: hello, LinkAttachmentURL: "https://example.test/read",
				Styling: []TextStyling{{0, 5, []string{"bold", "highlight", "strikethrough"}}, {6, 5, []string{"italic", "underline"}}}}}},
		{name: "text attachment adjacent styles", form: textForm("x", "text_attachment",
			styles(`{"offset":0,"length":5,"styling_info":["bold"]}`, `{"offset":5,"length":6,"styling_info":["italic"]}`)),
			want: featuresOf{TextAttachment: &TextAttachment{Plaintext: hello,
				Styling: []TextStyling{{0, 5, []string{"bold"}}, {5, 6, []string{"italic"}}}}}},
		{name: "text attachment of 10000 characters", form: textForm("x", "text_attachment", ta(strings.Repeat("é", 10000), "")),
			want: featuresOf{TextAttachment: &TextAttachment{Plaintext: strings.Repeat("é", 10000)}}},
		{name: "text attachment with the post's link_attachment", form: textForm("x", "link_attachment", link(1), "text_attachment", `{"plaintext":"long"}`),
			want: featuresOf{TextAttachment: &TextAttachment{Plaintext: "long"}}},
		{name: "text attachment on a reply", form: textForm("x", "reply_to_id", parent, "text_attachment", `{"plaintext":"long"}`),
			want: featuresOf{ReplyToID: parent, TextAttachment: &TextAttachment{Plaintext: "long"}}},
		{name: "text attachment over 10000 characters", form: textForm("x", "text_attachment", ta(strings.Repeat("é", 10001), "")), code: 100},
		{name: "text attachment empty plaintext", form: textForm("x", "text_attachment", `{"plaintext":""}`), code: 100},
		{name: "text attachment without plaintext", form: textForm("x", "text_attachment", `{"link_attachment_url":"https://example.test/"}`), code: 100},
		{name: "text attachment plaintext not a string", form: textForm("x", "text_attachment", `{"plaintext":5}`), code: 100},
		{name: "text attachment plaintext null", form: textForm("x", "text_attachment", `{"plaintext":null}`), code: 100},
		{name: "text attachment unknown key", form: textForm("x", "text_attachment", `{"plaintext":"x","colour":"red"}`), code: 100},
		{name: "text attachment key in another case", form: textForm("x", "text_attachment", `{"Plaintext":"x"}`), code: 100},
		{name: "text attachment key twice", form: textForm("x", "text_attachment", `{"plaintext":"x","plaintext":"y"}`), code: 100},
		{name: "text attachment data after the object", form: textForm("x", "text_attachment", `{"plaintext":"x"}{}`), code: 100},
		{name: "text attachment not JSON", form: textForm("x", "text_attachment", `plaintext=x`), code: 100},
		{name: "text attachment null", form: textForm("x", "text_attachment", `null`), code: 100},
		{name: "text attachment a list", form: textForm("x", "text_attachment", `[{"plaintext":"x"}]`), code: 100},
		{name: "text attachment link not http", form: textForm("x", "text_attachment", ta("x", `,"link_attachment_url":"ftp://example.test/"`)), code: 100},
		{name: "text attachment link relative", form: textForm("x", "text_attachment", ta("x", `,"link_attachment_url":"example.test/x"`)), code: 100},
		{name: "text attachment link empty", form: textForm("x", "text_attachment", ta("x", `,"link_attachment_url":""`)), code: 100},
		{name: "text attachment link with link_attachment", form: textForm("x", "link_attachment", link(1), "text_attachment", ta("x", `,"link_attachment_url":"`+link(1)+`"`)), code: 100},
		{name: "text attachment style past the end in runes", form: textForm("x", "text_attachment", styles(`{"offset":10,"length":2,"styling_info":["bold"]}`)), code: 100},
		{name: "text attachment style offset past the end", form: textForm("x", "text_attachment", styles(`{"offset":12,"length":1,"styling_info":["bold"]}`)), code: 100},
		{name: "text attachment overlapping styles", form: textForm("x", "text_attachment",
			styles(`{"offset":0,"length":5,"styling_info":["bold"]}`, `{"offset":4,"length":2,"styling_info":["italic"]}`)), code: 100},
		{name: "text attachment nested styles", form: textForm("x", "text_attachment",
			styles(`{"offset":0,"length":11,"styling_info":["bold"]}`, `{"offset":2,"length":2,"styling_info":["italic"]}`)), code: 100},
		{name: "text attachment negative offset", form: textForm("x", "text_attachment", styles(`{"offset":-1,"length":2,"styling_info":["bold"]}`)), code: 100},
		{name: "text attachment zero length", form: textForm("x", "text_attachment", styles(`{"offset":0,"length":0,"styling_info":["bold"]}`)), code: 100},
		{name: "text attachment fractional offset", form: textForm("x", "text_attachment", styles(`{"offset":1.5,"length":2,"styling_info":["bold"]}`)), code: 100},
		{name: "text attachment offset as a string", form: textForm("x", "text_attachment", styles(`{"offset":"1","length":2,"styling_info":["bold"]}`)), code: 100},
		{name: "text attachment style without styling_info", form: textForm("x", "text_attachment", styles(`{"offset":0,"length":2}`)), code: 100},
		{name: "text attachment empty styling_info", form: textForm("x", "text_attachment", styles(`{"offset":0,"length":2,"styling_info":[]}`)), code: 100},
		{name: "text attachment unknown style", form: textForm("x", "text_attachment", styles(`{"offset":0,"length":2,"styling_info":["blink"]}`)), code: 100},
		{name: "text attachment style in upper case", form: textForm("x", "text_attachment", styles(`{"offset":0,"length":2,"styling_info":["BOLD"]}`)), code: 100},
		{name: "text attachment style twice", form: textForm("x", "text_attachment", styles(`{"offset":0,"length":2,"styling_info":["bold","bold"]}`)), code: 100},
		{name: "text attachment style with an unknown key", form: textForm("x", "text_attachment", styles(`{"offset":0,"length":2,"styling_info":["bold"],"colour":"red"}`)), code: 100},
		{name: "text attachment empty styling list", form: textForm("x", "text_attachment", styles()), code: 100},
		{name: "text attachment null styling list", form: textForm("x", "text_attachment", ta("x", `,"text_with_styling_info":null`)), code: 100},
		{name: "text attachment on IMAGE", form: image("text_attachment", `{"plaintext":"long"}`), code: 100},
		{name: "text attachment with a poll", form: textForm("x", "text_attachment", `{"plaintext":"long"}`, "poll_attachment", `{"option_a":"a","option_b":"b"}`), code: 100},

		// the link limit counts the attachment's link
		{name: "four links and the attachment's", form: textForm(links(1, 4), "text_attachment", ta("x", `,"link_attachment_url":"`+link(5)+`"`)),
			want: featuresOf{TextAttachment: &TextAttachment{Plaintext: "x", LinkAttachmentURL: link(5)}}},
		{name: "five links and the attachment's, the same", form: textForm(links(1, 5), "text_attachment", ta("x", `,"link_attachment_url":"`+link(3)+`"`)),
			want: featuresOf{TextAttachment: &TextAttachment{Plaintext: "x", LinkAttachmentURL: link(3)}}},
		{name: "five links and the attachment's, another", form: textForm(links(1, 5), "text_attachment", ta("x", `,"link_attachment_url":"`+link(6)+`"`)), code: 100},
		{name: "four links, link_attachment and the attachment's", form: textForm(links(1, 4), "link_attachment", link(5), "text_attachment", ta("x", `,"link_attachment_url":"`+link(6)+`"`)), code: 100},

		// text_entities
		{name: "one spoiler", form: textForm(secret, "text_entities", spoilers(spoiler(2, 6))),
			want: featuresOf{TextEntities: []TextEntity{{"SPOILER", 2, 6}}}},
		{name: "spoilers counted in runes", form: textForm("ünï spoiler", "text_entities", spoilers(spoiler(4, 7), spoiler(0, 3))),
			want: featuresOf{TextEntities: []TextEntity{{"SPOILER", 0, 3}, {"SPOILER", 4, 7}}}},
		{name: "ten spoilers", form: textForm(secret, "text_entities", spoilers(ten[:10]...)),
			want: featuresOf{TextEntities: []TextEntity{{"SPOILER", 0, 1}, {"SPOILER", 1, 1}, {"SPOILER", 2, 1}, {"SPOILER", 3, 1}, {"SPOILER", 4, 1},
				{"SPOILER", 5, 1}, {"SPOILER", 6, 1}, {"SPOILER", 7, 1}, {"SPOILER", 8, 1}, {"SPOILER", 9, 1}}}},
		{name: "spoiler of the whole text", form: textForm(secret, "text_entities", spoilers(spoiler(0, 13))),
			want: featuresOf{TextEntities: []TextEntity{{"SPOILER", 0, 13}}}},
		{name: "spoiler in an image's text", form: image("text", secret, "text_entities", spoilers(spoiler(2, 6))),
			want: featuresOf{TextEntities: []TextEntity{{"SPOILER", 2, 6}}}},
		{name: "eleven spoilers", form: textForm(secret, "text_entities", spoilers(ten...)), code: 100},
		{name: "no spoilers", form: textForm(secret, "text_entities", `[]`), code: 100},
		{name: "spoilers not a list", form: textForm(secret, "text_entities", spoiler(2, 6)), code: 100},
		{name: "spoiler past the end in runes", form: textForm("ünï spoiler", "text_entities", spoilers(spoiler(4, 8))), code: 100},
		{name: "spoiler offset past the end", form: textForm(secret, "text_entities", spoilers(spoiler(14, 1))), code: 100},
		{name: "spoiler without text", form: image("text_entities", spoilers(spoiler(0, 1))), code: 100},
		{name: "overlapping spoilers", form: textForm(secret, "text_entities", spoilers(spoiler(0, 3), spoiler(2, 2))), code: 100},
		{name: "same spoiler twice", form: textForm(secret, "text_entities", spoilers(spoiler(0, 3), spoiler(0, 3))), code: 100},
		{name: "spoiler negative offset", form: textForm(secret, "text_entities", spoilers(spoiler(-1, 3))), code: 100},
		{name: "spoiler zero length", form: textForm(secret, "text_entities", spoilers(spoiler(1, 0))), code: 100},
		{name: "spoiler lower case type", form: textForm(secret, "text_entities", `[{"entity_type":"spoiler","offset":0,"length":1}]`), code: 100},
		{name: "spoiler other type", form: textForm(secret, "text_entities", `[{"entity_type":"LINK","offset":0,"length":1}]`), code: 100},
		{name: "spoiler without type", form: textForm(secret, "text_entities", `[{"offset":0,"length":1}]`), code: 100},
		{name: "spoiler without length", form: textForm(secret, "text_entities", `[{"entity_type":"SPOILER","offset":0}]`), code: 100},
		{name: "spoiler unknown key", form: textForm(secret, "text_entities", `[{"entity_type":"SPOILER","offset":0,"length":1,"colour":"red"}]`), code: 100},
		{name: "spoiler exponent length", form: textForm(secret, "text_entities", `[{"entity_type":"SPOILER","offset":0,"length":1e0}]`), code: 100},

		// is_spoiler_media
		{name: "spoiler image", form: image("is_spoiler_media", "true"), want: featuresOf{SpoilerMedia: true}},
		{name: "spoiler video", form: form("media_type", "VIDEO", "video_url", "https://cdn.example.test/v.mp4", "is_spoiler_media", "true"),
			want: featuresOf{SpoilerMedia: true}},
		{name: "spoiler carousel", form: form("media_type", "CAROUSEL", "children", item1+","+item2, "is_spoiler_media", "true"),
			want: featuresOf{SpoilerMedia: true}},
		{name: "spoiler carousel item", form: image("is_carousel_item", "true", "is_spoiler_media", "true")},
		{name: "not a spoiler text", form: textForm("x", "is_spoiler_media", "false"), want: featuresOf{}},
		{name: "spoiler media on TEXT", form: textForm("x", "is_spoiler_media", "true"), code: 100},
		{name: "spoiler media not a boolean", form: image("is_spoiler_media", "yes"), code: 100},

		// is_ghost_post
		{name: "ghost post", form: textForm("boo", "is_ghost_post", "true"), want: featuresOf{GhostPost: true}},
		{name: "ghost post with spoilers and a topic", form: textForm(secret, "is_ghost_post", "true", "topic_tag", "boo", "text_entities", spoilers(spoiler(2, 6))),
			want: featuresOf{GhostPost: true, TextEntities: []TextEntity{{"SPOILER", 2, 6}}}},
		{name: "not a ghost post with a poll", form: textForm("x", "is_ghost_post", "false", "poll_attachment", `{"option_a":"a","option_b":"b"}`), want: featuresOf{}},
		{name: "ghost post on IMAGE", form: image("is_ghost_post", "true"), code: 100},
		{name: "ghost post replying", form: textForm("x", "is_ghost_post", "true", "reply_to_id", parent), code: 100},
		{name: "ghost post quoting", form: textForm("x", "is_ghost_post", "true", "quote_post_id", parent), code: 100},
		{name: "ghost post with a poll", form: textForm("x", "is_ghost_post", "true", "poll_attachment", `{"option_a":"a","option_b":"b"}`), code: 100},
		{name: "ghost post with a link", form: textForm("x", "is_ghost_post", "true", "link_attachment", link(1)), code: 100},
		{name: "ghost post with a text attachment", form: textForm("x", "is_ghost_post", "true", "text_attachment", `{"plaintext":"long"}`), code: 100},
		{name: "ghost post with a GIF", form: textForm("x", "is_ghost_post", "true", "gif_attachment", `{"gif_id":"g1","provider":"GIPHY"}`), code: 100},
		{name: "ghost post not a boolean", form: textForm("x", "is_ghost_post", "1"), code: 100},

		// gif_attachment
		{name: "GIF", form: textForm("x", "gif_attachment", `{"gif_id":"xT9IgG50Fb7Mi0prBC","provider":"GIPHY"}`),
			want: featuresOf{GIF: &GIFAttachment{GIFID: "xT9IgG50Fb7Mi0prBC", Provider: "GIPHY"}}},
		{name: "GIF keys in another order", form: textForm("x", "gif_attachment", `{ "provider": "GIPHY", "gif_id": "g1" }`),
			want: featuresOf{GIF: &GIFAttachment{GIFID: "g1", Provider: "GIPHY"}}},
		{name: "GIF provider in lower case", form: textForm("x", "gif_attachment", `{"gif_id":"g1","provider":"giphy"}`), code: 100},
		{name: "GIF other provider", form: textForm("x", "gif_attachment", `{"gif_id":"g1","provider":"TENOR"}`), code: 100},
		{name: "GIF without provider", form: textForm("x", "gif_attachment", `{"gif_id":"g1"}`), code: 100},
		{name: "GIF empty id", form: textForm("x", "gif_attachment", `{"gif_id":"","provider":"GIPHY"}`), code: 100},
		{name: "GIF numeric id", form: textForm("x", "gif_attachment", `{"gif_id":5,"provider":"GIPHY"}`), code: 100},
		{name: "GIF unknown key", form: textForm("x", "gif_attachment", `{"gif_id":"g1","provider":"GIPHY","url":"https://giphy.test/g1"}`), code: 100},
		{name: "GIF not JSON", form: textForm("x", "gif_attachment", `g1`), code: 100},
		{name: "GIF on IMAGE", form: image("gif_attachment", `{"gif_id":"g1","provider":"GIPHY"}`), code: 100},
		{name: "GIF with a poll", form: textForm("x", "gif_attachment", `{"gif_id":"g1","provider":"GIPHY"}`, "poll_attachment", `{"option_a":"a","option_b":"b"}`), code: 100},
		{name: "GIF with a link", form: textForm("x", "gif_attachment", `{"gif_id":"g1","provider":"GIPHY"}`, "link_attachment", link(1)), code: 100},
		{name: "GIF with a text attachment", form: textForm("x", "gif_attachment", `{"gif_id":"g1","provider":"GIPHY"}`, "text_attachment", `{"plaintext":"long"}`), code: 100},

		// allowlisted_country_codes
		{name: "countries comma-separated", form: textForm("x", "allowlisted_country_codes", "US,CA"), want: featuresOf{Countries: []string{"US", "CA"}}},
		{name: "countries as JSON", form: textForm("x", "allowlisted_country_codes", `["US","CA"]`), want: featuresOf{Countries: []string{"US", "CA"}}},
		{name: "one country", form: image("allowlisted_country_codes", "FR"), want: featuresOf{Countries: []string{"FR"}}},
		{name: "fifty countries", form: textForm("x", "allowlisted_country_codes", strings.Join(codes(50), ",")), want: featuresOf{Countries: codes(50)}},
		{name: "fifty countries as JSON", form: textForm("x", "allowlisted_country_codes", `["`+strings.Join(codes(50), `","`)+`"]`), want: featuresOf{Countries: codes(50)}},
		{name: "fifty-one countries", form: textForm("x", "allowlisted_country_codes", strings.Join(codes(51), ",")), code: 100},
		{name: "fifty-one countries as JSON", form: textForm("x", "allowlisted_country_codes", `["`+strings.Join(codes(51), `","`)+`"]`), code: 100},
		{name: "country in lower case", form: textForm("x", "allowlisted_country_codes", "us"), code: 100},
		{name: "country of three letters", form: textForm("x", "allowlisted_country_codes", "USA"), code: 100},
		{name: "country with a digit", form: textForm("x", "allowlisted_country_codes", "U1"), code: 100},
		{name: "country not ASCII", form: textForm("x", "allowlisted_country_codes", "ÜS"), code: 100},
		{name: "countries with a space", form: textForm("x", "allowlisted_country_codes", "US, CA"), code: 100},
		{name: "countries with an empty entry", form: textForm("x", "allowlisted_country_codes", "US,,CA"), code: 100},
		{name: "countries ending with a comma", form: textForm("x", "allowlisted_country_codes", "US,"), code: 100},
		{name: "country twice", form: textForm("x", "allowlisted_country_codes", "US,CA,US"), code: 100},
		{name: "country twice as JSON", form: textForm("x", "allowlisted_country_codes", `["US","US"]`), code: 100},
		{name: "no countries as JSON", form: textForm("x", "allowlisted_country_codes", `[]`), code: 100},
		{name: "country not a string", form: textForm("x", "allowlisted_country_codes", `["US",5]`), code: 100},
		{name: "country in lower case as JSON", form: textForm("x", "allowlisted_country_codes", `["us"]`), code: 100},
		{name: "countries invalid JSON", form: textForm("x", "allowlisted_country_codes", `[US]`), code: 100},
		{name: "countries JSON with data after", form: textForm("x", "allowlisted_country_codes", `["US"]x`), code: 100},
		{name: "countries as a JSON object", form: textForm("x", "allowlisted_country_codes", `{"US":true}`), code: 100},

		// reply_to_id
		{name: "reply to one's own post", form: textForm("re", "reply_to_id", parent), want: featuresOf{ReplyToID: parent}},
		{name: "reply to another user's post", form: textForm("re", "reply_to_id", bobsPost), want: featuresOf{ReplyToID: bobsPost}},
		{name: "reply to an unknown post", form: textForm("re", "reply_to_id", "17899999999999999"), code: 100, subcode: 33},
		{name: "reply to a container", form: textForm("re", "reply_to_id", unpublished), code: 100, subcode: 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.s.Published(ada.ID))
			status, code, subcode, id := rawCreate(t, e.s, tok, tt.form)
			if tt.code != 0 {
				if status != http.StatusBadRequest || code != tt.code || subcode != tt.subcode {
					t.Errorf("answer HTTP %d code %d subcode %d, want HTTP 400 code %d subcode %d", status, code, subcode, tt.code, tt.subcode)
				}
				return
			}
			if status != http.StatusOK || id == "" {
				t.Fatalf("answer HTTP %d code %d subcode %d, want a container", status, code, subcode)
			}
			if tt.form.Get("is_carousel_item") == "true" {
				if c, ok := e.s.Container(id); !ok || c.Params.Get("is_spoiler_media") != "true" {
					t.Errorf("Container(%s) = %+v, %v", id, c, ok)
				}
				return
			}
			mediaID, err := e.c.Publish(t.Context(), ada.ID, tok, id)
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			posts := e.s.Published(ada.ID)
			if len(posts) != before+1 || posts[before].MediaID != mediaID {
				t.Fatalf("Published = %v, want one more post, %s", posts, mediaID)
			}
			if got := featuresOfPost(posts[before]); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("post features = %+v\nwant %+v", got, tt.want)
			}
			tt.form.Del("access_token")
			if got := posts[before].Params; !reflect.DeepEqual(got, tt.form) {
				t.Errorf("post params = %v, want %v", got, tt.form)
			}
		})
	}
}

// TestNewerFeaturesFromClient checks that what the real client sends for
// the newer features is accepted and reads back the same.
func TestNewerFeaturesFromClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.s.AddAccount(ada)
	publish := func(p threads.ContainerParams) Post {
		t.Helper()
		if _, err := e.c.Publish(t.Context(), ada.ID, tok, e.create(t, tok, p)); err != nil {
			t.Fatalf("Publish(%+v): %v", p, err)
		}
		posts := e.s.Published(ada.ID)
		return posts[len(posts)-1]
	}
	first := publish(threads.ContainerParams{MediaType: "TEXT", Text: "part 1: a secret",
		TextAttachment: &threads.TextAttachment{Plaintext: "the long part", LinkAttachmentURL: "https://example.test/more",
			Styling: []threads.TextStyling{{Offset: 4, Length: 4, Styling: []string{"bold", "italic"}}}},
		TextEntities:            []threads.TextEntity{{EntityType: "SPOILER", Offset: 10, Length: 6}},
		AllowlistedCountryCodes: []string{"US", "CA"},
	})
	second := publish(threads.ContainerParams{MediaType: "TEXT", Text: "part 2", ReplyToID: first.MediaID,
		GIF: &threads.GIFAttachment{GIFID: "g1", Provider: "GIPHY"}})
	ghost := publish(threads.ContainerParams{MediaType: "TEXT", Text: "boo", IsGhostPost: true,
		TextEntities: []threads.TextEntity{{EntityType: "SPOILER", Offset: 0, Length: 3}}})
	img := publish(threads.ContainerParams{MediaType: "IMAGE", ImageURL: "https://cdn.example.test/a.jpg", IsSpoilerMedia: true})

	wantFirst := featuresOf{
		TextAttachment: &TextAttachment{Plaintext: "the long part", LinkAttachmentURL: "https://example.test/more",
			Styling: []TextStyling{{Offset: 4, Length: 4, Styles: []string{"bold", "italic"}}}},
		TextEntities: []TextEntity{{"SPOILER", 10, 6}}, Countries: []string{"US", "CA"}}
	for _, c := range []struct {
		name string
		got  Post
		want featuresOf
	}{
		{"first", first, wantFirst},
		{"second", second, featuresOf{ReplyToID: first.MediaID, GIF: &GIFAttachment{GIFID: "g1", Provider: "GIPHY"}}},
		{"ghost", ghost, featuresOf{GhostPost: true, TextEntities: []TextEntity{{"SPOILER", 0, 3}}}},
		{"image", img, featuresOf{SpoilerMedia: true}},
	} {
		if got := featuresOfPost(c.got); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: features %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if !strings.Contains(second.String(), "replying to "+first.MediaID) {
		t.Errorf("String() = %q, want the post replied to", second.String())
	}

	// Published returns copies: changing one changes nothing in the fake.
	p := e.s.Published(ada.ID)[0]
	p.TextAttachment.Styling[0].Styles[0] = "changed"
	p.TextAttachment.Plaintext = "changed"
	p.TextEntities[0].Offset = 99
	p.AllowlistedCountryCodes[0] = "XX"
	if again := featuresOfPost(e.s.Published(ada.ID)[0]); !reflect.DeepEqual(again, wantFirst) {
		t.Errorf("Published shares memory with the fake: %+v", again)
	}
}
