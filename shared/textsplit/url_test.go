package textsplit

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// urlRE is what findURLs does, as a regexp (slower).
var urlRE = regexp.MustCompile(`\b(?:[hH][tT][tT][pP][sS]?://|[wW][wW][wW]\.)[^\s\v\x{85}\p{Z}<>"]+`)

func regexpURLs(s string) []span {
	var urls []span
	for _, m := range urlRE.FindAllStringIndex(s, -1) {
		urls = append(urls, span{m[0], m[1]})
	}
	return urls
}

// TestURLClass checks that urlRE's URLs stop at exactly the runes
// unicode.IsSpace reports, and at <, > and ".
func TestURLClass(t *testing.T) {
	class := regexp.MustCompile(`^[^\s\v\x{85}\p{Z}<>"]$`)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		stops := unicode.IsSpace(r) || strings.ContainsRune(`<>"`, r)
		if class.MatchString(string(r)) == stops {
			t.Fatalf("U+%04X: the regexp class and unicode.IsSpace disagree", r)
		}
	}
}

func TestFindURLs(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"see https://example.com/a?b=c#d now", []string{"https://example.com/a?b=c#d"}},
		{"HTTP://X.COM and Www.Example.org.", []string{"HTTP://X.COM", "Www.Example.org."}},
		{"(https://x.com/a)", []string{"https://x.com/a)"}},
		{`<a href="https://x.com">`, []string{"https://x.com"}},
		{"xhttps://x.com awww.x.com _www.x", nil},
		{"日本https://x.com/パス　次", []string{"https://x.com/パス"}}, // ideographic space ends it
		{"https://x.com\u00a0next", []string{"https://x.com"}},
		{"http:// https://", nil},
		{"https://a.com/https://b.com www.a.www.b", []string{"https://a.com/https://b.com", "www.a.www.b"}},
		{"httpſ://x.com", nil}, // no Unicode case folding
	}
	for _, tt := range tests {
		var got []string
		for _, u := range findURLs(tt.text) {
			got = append(got, tt.text[u.start:u.end])
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("findURLs(%q) = %q, want %q", tt.text, got, tt.want)
		}
		if re := regexpURLs(tt.text); !slices.Equal(findURLs(tt.text), re) {
			t.Errorf("findURLs(%q) and the regexp disagree: %v, %v", tt.text, findURLs(tt.text), re)
		}
	}
}

// TestFindURLsRandom compares findURLs with the regexp on random texts
// made of URL-ish pieces.
func TestFindURLsRandom(t *testing.T) {
	pieces := []string{"h", "H", "ttp", "s", "S", "://", "www", "W", ".", "x", "_", "9", " ", "\u3000", "\u00a0", "<", ">", `"`, "é", "ſ", "\n", "/"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(30) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		if got, want := findURLs(s), regexpURLs(s); !slices.Equal(got, want) {
			t.Fatalf("findURLs(%q) = %v, the regexp %v", s, got, want)
		}
	}
}
