package publish_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/publish"
)

func TestValidateNewerFeatures(t *testing.T) {
	img := "https://cdn.example.com/i.jpg"
	long := strings.Repeat("x", publish.MaxLongText)
	tests := []struct {
		name string
		req  publish.Request
		code string // "" for valid
	}{
		{"long text", publish.Request{Text: "t", LongText: long}, ""},
		{"account id", publish.Request{Text: "t", AccountID: "17841400000000001"}, ""},
		{"account id Firestore reserves", publish.Request{Text: "t", AccountID: "__x__"}, publish.CodeInvalidID},
		{"account id with a slash", publish.Request{Text: "t", AccountID: "a/b"}, publish.CodeInvalidID},
		{"long text with link and styles", publish.Request{Text: "t", LongText: "hello world", LongTextLink: "https://example.com",
			LongTextStyles: []publish.TextStyle{{Offset: 0, Length: 5, Styles: []string{"bold", "italic"}}, {Offset: 6, Length: 5, Styles: []string{"highlight"}}}}, ""},
		{"long text over the limit", publish.Request{Text: "t", LongText: long + "x"}, publish.CodeInvalidLongText},
		{"long text counts characters, not bytes", publish.Request{Text: "t", LongText: strings.Repeat("é", publish.MaxLongText)}, ""},
		{"long text link without long text", publish.Request{Text: "t", LongTextLink: "https://example.com"}, publish.CodeInvalidLongText},
		{"long text link not a URL", publish.Request{Text: "t", LongText: "x", LongTextLink: "example"}, publish.CodeInvalidLongText},
		{"long text with media", publish.Request{ImageURL: img, LongText: "x"}, publish.CodeConflictingFields},
		{"long text with poll", publish.Request{Text: "?", LongText: "x", Poll: &publish.Poll{Options: []string{"a", "b"}}}, publish.CodeConflictingFields},
		{"long text link with link attachment", publish.Request{Text: "t", LongText: "x", LongTextLink: "https://a.example", LinkAttachment: "https://b.example"}, publish.CodeConflictingFields},
		{"long text link counts toward links", publish.Request{Text: "http://1.example http://2.example http://3.example http://4.example http://5.example",
			LongText: "x", LongTextLink: "https://6.example"}, publish.CodeTooManyLinks},
		{"long text link equal to a text link counts once", publish.Request{Text: "http://1.example http://2.example http://3.example http://4.example http://5.example",
			LongText: "x", LongTextLink: "http://5.example"}, ""},
		{"overlapping styles", publish.Request{Text: "t", LongText: "hello world",
			LongTextStyles: []publish.TextStyle{{Offset: 0, Length: 6, Styles: []string{"bold"}}, {Offset: 5, Length: 3, Styles: []string{"italic"}}}}, publish.CodeInvalidTextStyles},
		{"style past the end", publish.Request{Text: "t", LongText: "héllo",
			LongTextStyles: []publish.TextStyle{{Offset: 3, Length: 3, Styles: []string{"bold"}}}}, publish.CodeInvalidTextStyles},
		{"unknown style", publish.Request{Text: "t", LongText: "hello", LongTextStyles: []publish.TextStyle{{Offset: 0, Length: 1, Styles: []string{"blink"}}}}, publish.CodeInvalidTextStyles},
		{"no style", publish.Request{Text: "t", LongText: "hello", LongTextStyles: []publish.TextStyle{{Offset: 0, Length: 1}}}, publish.CodeInvalidTextStyles},
		{"repeated style", publish.Request{Text: "t", LongText: "hello", LongTextStyles: []publish.TextStyle{{Offset: 0, Length: 1, Styles: []string{"bold", "bold"}}}}, publish.CodeInvalidTextStyles},
		{"zero-length style", publish.Request{Text: "t", LongText: "hello", LongTextStyles: []publish.TextStyle{{Offset: 0, Length: 0, Styles: []string{"bold"}}}}, publish.CodeInvalidTextStyles},

		{"spoilers", publish.Request{Text: "the butler did it", Spoilers: []publish.TextRange{{Offset: 4, Length: 6}, {Offset: 11, Length: 6}}}, ""},
		{"spoiler in characters", publish.Request{Text: "ééé", Spoilers: []publish.TextRange{{Offset: 1, Length: 2}}}, ""},
		{"spoiler past the end", publish.Request{Text: "ééé", Spoilers: []publish.TextRange{{Offset: 2, Length: 2}}}, publish.CodeInvalidSpoilers},
		{"negative spoiler", publish.Request{Text: "abc", Spoilers: []publish.TextRange{{Offset: -1, Length: 2}}}, publish.CodeInvalidSpoilers},
		{"overlapping spoilers", publish.Request{Text: "abcdef", Spoilers: []publish.TextRange{{Offset: 2, Length: 2}, {Offset: 0, Length: 3}}}, publish.CodeInvalidSpoilers},
		{"eleven spoilers", publish.Request{Text: strings.Repeat("ab", 11), Spoilers: func() []publish.TextRange {
			var r []publish.TextRange
			for i := range 11 {
				r = append(r, publish.TextRange{Offset: 2 * i, Length: 1})
			}
			return r
		}()}, publish.CodeInvalidSpoilers},
		{"spoilers without text", publish.Request{ImageURL: img, Spoilers: []publish.TextRange{{Offset: 0, Length: 1}}}, publish.CodeInvalidSpoilers},
		{"spoilers with split", publish.Request{Text: "abc", Split: true, Spoilers: []publish.TextRange{{Offset: 0, Length: 1}}}, publish.CodeConflictingFields},
		{"spoilers on a thread's first part", publish.Request{Thread: []string{"abc", "def"}, Spoilers: []publish.TextRange{{Offset: 0, Length: 3}}}, ""},
		{"spoiler media", publish.Request{ImageURL: img, SpoilerMedia: true}, ""},
		{"spoiler media on a carousel", publish.Request{Media: []publish.MediaItem{{Type: "image", URL: img}, {Type: "video", URL: img}}, SpoilerMedia: true}, ""},
		{"spoiler media on text", publish.Request{Text: "t", SpoilerMedia: true}, publish.CodeConflictingFields},

		{"ghost", publish.Request{Text: "boo", Ghost: true, Spoilers: []publish.TextRange{{Offset: 0, Length: 1}}}, ""},
		{"ghost with media", publish.Request{Text: "boo", ImageURL: img, Ghost: true}, publish.CodeConflictingFields},
		{"ghost reply", publish.Request{Text: "boo", ReplyToID: "123", Ghost: true}, publish.CodeConflictingFields},
		{"ghost with poll", publish.Request{Text: "boo", Ghost: true, Poll: &publish.Poll{Options: []string{"a", "b"}}}, publish.CodeConflictingFields},
		{"ghost with link", publish.Request{Text: "boo", Ghost: true, LinkAttachment: "https://example.com"}, publish.CodeConflictingFields},
		{"ghost with long text", publish.Request{Text: "boo", Ghost: true, LongText: "x"}, publish.CodeConflictingFields},
		{"ghost thread", publish.Request{Thread: []string{"a", "b"}, Ghost: true}, publish.CodeConflictingFields},
		{"ghost with countries", publish.Request{Text: "boo", Ghost: true, AllowlistedCountryCodes: []string{"US"}}, publish.CodeConflictingFields},

		{"gif", publish.Request{Text: "lol", GIF: &publish.GIF{ID: "3o7TKtnuHOHHUjR38Y", Provider: "GIPHY"}}, ""},
		{"gif with media", publish.Request{ImageURL: img, GIF: &publish.GIF{ID: "x", Provider: "GIPHY"}}, publish.CodeConflictingFields},
		{"gif with poll", publish.Request{Text: "?", GIF: &publish.GIF{ID: "x", Provider: "GIPHY"}, Poll: &publish.Poll{Options: []string{"a", "b"}}}, publish.CodeConflictingFields},
		{"gif unknown provider", publish.Request{Text: "t", GIF: &publish.GIF{ID: "x", Provider: "TENOR"}}, publish.CodeInvalidGIF},
		{"gif bad id", publish.Request{Text: "t", GIF: &publish.GIF{ID: "a/b", Provider: "GIPHY"}}, publish.CodeInvalidGIF},
		{"gif empty id", publish.Request{Text: "t", GIF: &publish.GIF{Provider: "GIPHY"}}, publish.CodeInvalidGIF},

		{"countries", publish.Request{Text: "t", AllowlistedCountryCodes: []string{"US", "CA", "JP"}}, ""},
		{"country lower case", publish.Request{Text: "t", AllowlistedCountryCodes: []string{"us"}}, publish.CodeInvalidCountry},
		{"country unassigned", publish.Request{Text: "t", AllowlistedCountryCodes: []string{"XX"}}, publish.CodeInvalidCountry},
		{"country alpha-3", publish.Request{Text: "t", AllowlistedCountryCodes: []string{"USA"}}, publish.CodeInvalidCountry},
		{"country repeated", publish.Request{Text: "t", AllowlistedCountryCodes: []string{"FR", "FR"}}, publish.CodeInvalidCountry},

		{"thread", publish.Request{Thread: []string{"one", "two", "three"}}, ""},
		{"thread with media first", publish.Request{Thread: []string{"one", "two"}, ImageURL: img}, ""},
		{"thread of one", publish.Request{Thread: []string{"one"}}, publish.CodeInvalidThread},
		{"thread of 21", publish.Request{Thread: strings.Split(strings.Repeat("x,", 20)+"x", ",")}, publish.CodeInvalidThread},
		{"thread with text", publish.Request{Text: "t", Thread: []string{"a", "b"}}, publish.CodeConflictingFields},
		{"thread with an empty part", publish.Request{Thread: []string{"a", "  "}}, publish.CodeInvalidThread},
		{"thread part too long", publish.Request{Thread: []string{"a", strings.Repeat("é", 251)}}, publish.CodeTextTooLong},
		{"thread part with six links", publish.Request{Thread: []string{"a", "http://1.example http://2.example http://3.example http://4.example http://5.example http://6.example"}}, publish.CodeTooManyLinks},
		{"split text over the limit", publish.Request{Text: strings.Repeat("word ", 300), Split: true, NumberParts: true}, ""},
		{"split text that fits", publish.Request{Text: "short", Split: true}, ""},
		{"long text without split", publish.Request{Text: strings.Repeat("word ", 300)}, publish.CodeTextTooLong},
		{"split needing more than 20 parts", publish.Request{Text: strings.Repeat("word ", 2100), Split: true}, publish.CodeTextTooLong},
		{"numberParts without split", publish.Request{Text: "t", NumberParts: true}, publish.CodeConflictingFields},
		{"split with thread", publish.Request{Thread: []string{"a", "b"}, Split: true}, publish.CodeConflictingFields},

		{"empty", publish.Request{}, publish.CodeEmptyPost},
		{"text of one space", publish.Request{Text: " "}, publish.CodeEmptyPost},
		{"text of white space", publish.Request{Text: " \t\n\u00a0\u3000"}, publish.CodeEmptyPost},
		{"white space text with an image", publish.Request{Text: "  ", ImageURL: img}, publish.CodeEmptyPost},
		{"split white space over the limit", publish.Request{Text: strings.Repeat(" ", 600), Split: true}, publish.CodeEmptyPost},
		{"split white space, numbered", publish.Request{Text: strings.Repeat("\n", 600), Split: true, NumberParts: true}, publish.CodeEmptyPost},
		{"split white space that fits", publish.Request{Text: "   ", Split: true}, publish.CodeEmptyPost},
		{"text with white space around", publish.Request{Text: "  hi  "}, ""},
		// White space is what the spec's \s is (ECMA-262): U+FEFF too.
		{"text of a byte order mark", publish.Request{Text: "\ufeff \ufeff"}, publish.CodeEmptyPost},
		{"thread part of white space", publish.Request{Thread: []string{"a", "\ufeff\u00a0"}}, publish.CodeInvalidThread},
		{"poll option of white space", publish.Request{Text: "?", Poll: &publish.Poll{Options: []string{"a", "\ufeff "}}}, publish.CodeInvalidPoll},
		{"poll options the same but for white space", publish.Request{Text: "?", Poll: &publish.Poll{Options: []string{"a", "\ufeffA"}}}, publish.CodeInvalidPoll},
		{"topic tag of white space", publish.Request{Text: "t", TopicTag: "\ufeff"}, publish.CodeInvalidTopicTag},

		{"poll", publish.Request{Text: "?", Poll: &publish.Poll{Options: []string{"a", "b"}}}, ""},
		{"poll on a thread's first part", publish.Request{Thread: []string{"Tea or coffee?", "Vote below."}, Poll: &publish.Poll{Options: []string{"Tea", "Coffee"}}}, ""},
		{"poll on a split text", publish.Request{Text: strings.Repeat("Tea or coffee? ", 40), Split: true, Poll: &publish.Poll{Options: []string{"Tea", "Coffee"}}}, ""},
		{"poll with a thread's empty first part", publish.Request{Thread: []string{" ", "b"}, Poll: &publish.Poll{Options: []string{"a", "b"}}}, publish.CodeInvalidPoll},
		{"poll options the same once trimmed", publish.Request{Text: "?", Poll: &publish.Poll{Options: []string{"Tea", " tea "}}}, publish.CodeInvalidPoll},
		// URLs as api/openapi.yaml's HTTPSURL and HTTPURL patterns take them:
		// the scheme in lower case, no white space (\s of ECMA-262, Unicode's).
		{"image URL", publish.Request{ImageURL: "https://cdn.example.com/a%20b.jpg?w=1#top"}, ""},
		{"image URL of a host", publish.Request{ImageURL: "https://cdn.example.com"}, ""},
		{"image URL upper-case scheme", publish.Request{ImageURL: "HTTPS://cdn.example.com/a.jpg"}, publish.CodeInvalidMediaURL},
		{"image URL mixed-case scheme", publish.Request{ImageURL: "Https://cdn.example.com/a.jpg"}, publish.CodeInvalidMediaURL},
		{"image URL http", publish.Request{ImageURL: "http://cdn.example.com/a.jpg"}, publish.CodeInvalidMediaURL},
		{"image URL with credentials", publish.Request{ImageURL: "https://u:p@cdn.example.com/a.jpg"}, publish.CodeInvalidMediaURL},
		{"image URL space in the path", publish.Request{ImageURL: "https://cdn.example.com/a b.jpg"}, publish.CodeInvalidMediaURL},
		{"image URL space in the query", publish.Request{ImageURL: "https://cdn.example.com/a.jpg?q=a b"}, publish.CodeInvalidMediaURL},
		{"image URL space in the fragment", publish.Request{ImageURL: "https://cdn.example.com/a.jpg#a b"}, publish.CodeInvalidMediaURL},
		{"image URL trailing space", publish.Request{ImageURL: "https://cdn.example.com/a.jpg "}, publish.CodeInvalidMediaURL},
		{"image URL no-break space", publish.Request{ImageURL: "https://cdn.example.com/a\u00a0b.jpg"}, publish.CodeInvalidMediaURL},
		{"image URL ideographic space", publish.Request{ImageURL: "https://cdn.example.com/a\u3000b.jpg"}, publish.CodeInvalidMediaURL},
		{"image URL byte order mark", publish.Request{ImageURL: "https://cdn.example.com/a\ufeffb.jpg"}, publish.CodeInvalidMediaURL},
		{"video URL upper-case scheme", publish.Request{VideoURL: "HTTPS://cdn.example.com/v.mp4"}, publish.CodeInvalidMediaURL},
		{"carousel item URL upper-case scheme", publish.Request{Media: []publish.MediaItem{{Type: "image", URL: img}, {Type: "image", URL: "HTTPS://cdn.example.com/b.jpg"}}}, publish.CodeInvalidMediaURL},
		{"carousel item URL with a space", publish.Request{Media: []publish.MediaItem{{Type: "image", URL: "https://cdn.example.com/a b.jpg"}, {Type: "image", URL: img}}}, publish.CodeInvalidMediaURL},
		{"link attachment http", publish.Request{Text: "t", LinkAttachment: "http://example.com/a"}, ""},
		{"link attachment upper-case scheme", publish.Request{Text: "t", LinkAttachment: "HTTP://example.com/a"}, publish.CodeInvalidLink},
		{"link attachment with a space", publish.Request{Text: "t", LinkAttachment: "https://example.com/a b"}, publish.CodeInvalidLink},
		{"long text link upper-case scheme", publish.Request{Text: "t", LongText: "x", LongTextLink: "Https://example.com/a"}, publish.CodeInvalidLongText},
		{"long text link with a space", publish.Request{Text: "t", LongText: "x", LongTextLink: "https://example.com/a\u2028b"}, publish.CodeInvalidLongText},

		{"poll option of 26 characters", publish.Request{Text: "?", Poll: &publish.Poll{Options: []string{"a", strings.Repeat("é", publish.MaxPollOption+1)}}}, publish.CodeInvalidPoll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var he *httpx.Error
			if !errors.As(err, &he) || he.Status != http.StatusBadRequest || he.Code != tt.code {
				t.Fatalf("Validate = %v, want 400 %s", err, tt.code)
			}
		})
	}
}

func TestParts(t *testing.T) {
	tests := []struct {
		name    string
		req     publish.Request
		want    int // parts; 0 for a single post
		numbers bool
		code    string // the error's code; "" for none
	}{
		{"single post", publish.Request{Text: "hello"}, 0, false, ""},
		{"split that fits stays single", publish.Request{Text: "hello", Split: true, NumberParts: true}, 0, false, ""},
		{"thread as given", publish.Request{Thread: []string{"a", "b", "c"}}, 3, false, ""},
		{"split", publish.Request{Text: strings.Repeat("A sentence of some words. ", 60), Split: true}, 4, false, ""},
		{"split and numbered", publish.Request{Text: strings.Repeat("A sentence of some words. ", 60), Split: true, NumberParts: true}, 4, true, ""},
		// Split trims the text to nothing: no parts is no post, not a single post of white space.
		{"split of white space", publish.Request{Text: strings.Repeat(" ", 600), Split: true}, 0, false, publish.CodeEmptyPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := tt.req.Parts()
			if tt.code != "" {
				var he *httpx.Error
				if !errors.As(err, &he) || he.Status != http.StatusBadRequest || he.Code != tt.code {
					t.Fatalf("Parts = %q, %v; want 400 %s", parts, err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != tt.want {
				t.Fatalf("%d parts, want %d: %q", len(parts), tt.want, parts)
			}
			for i, p := range parts {
				if len(p) > publish.MaxTextBytes {
					t.Errorf("part %d has %d bytes", i, len(p))
				}
				if suffix := " (" + strconv.Itoa(i+1) + "/" + strconv.Itoa(len(parts)) + ")"; strings.HasSuffix(p, suffix) != tt.numbers {
					t.Errorf("part %d %q: numbered %v, want %v", i, p, !tt.numbers, tt.numbers)
				}
			}
		})
	}
}

func TestScheduledAt(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		publishAt string
		want      time.Time
		code      string
	}{
		{"", time.Time{}, ""},
		{"2026-11-26T12:00:05Z", now.Add(5 * time.Second), ""},
		{"2026-11-26T13:00:00+01:00", time.Time{}, publish.CodeInvalidPublishAt}, // the same instant: not in the future
		{"2026-11-26T14:00:00+01:00", now.Add(time.Hour), ""},
		{"2026-12-26T12:00:00Z", now.Add(30 * 24 * time.Hour), ""},
		{"2026-12-26T12:00:01Z", time.Time{}, publish.CodeInvalidPublishAt},
		{"2026-11-26T11:59:59Z", time.Time{}, publish.CodeInvalidPublishAt},
		{"tomorrow", time.Time{}, publish.CodeInvalidPublishAt},
		{"2026-11-27 12:00:00", time.Time{}, publish.CodeInvalidPublishAt},
	}
	for _, tt := range tests {
		t.Run(tt.publishAt, func(t *testing.T) {
			r := publish.Request{Text: "t", PublishAt: tt.publishAt}
			got, err := r.ScheduledAt(now)
			if tt.code != "" {
				var he *httpx.Error
				if !errors.As(err, &he) || he.Code != tt.code {
					t.Fatalf("ScheduledAt = %v, %v; want %s", got, err, tt.code)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("ScheduledAt = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestIsCountryCode(t *testing.T) {
	for c, want := range map[string]bool{"US": true, "AD": true, "ZW": true, "GB": true, "UK": false, "D ": false, " A": false, "DE DJ": false, "EDJ": false, "": false, "zw": false} {
		if got := publish.IsCountryCode(c); got != want {
			t.Errorf("IsCountryCode(%q) = %v, want %v", c, got, want)
		}
	}
}
