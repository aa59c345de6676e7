package textsplit_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"threadsfunctions.dev/shared/textsplit"
)

// testURLRE is the package's URL rule as a regexp: case folded in ASCII
// only, ending at any rune unicode.IsSpace reports: urlRE in url_test.go,
// which TestFindURLs and TestURLClass check against the package.
var testURLRE = regexp.MustCompile(`\b(?:[hH][tT][tT][pP][sS]?://|[wW][wW][wW]\.)[^\s\v\x{85}\p{Z}<>"]+`)

var suffixRE = regexp.MustCompile(` \((\d+)/(\d+)\)$`)

// located is a part found in the text: its bytes (suffix removed) and
// where they are.
type located struct {
	text       string
	start, end int
}

// checkParts checks every invariant of a successful Split and returns
// where each part is in text.
func checkParts(t testing.TB, text string, o textsplit.Options, parts []string) []located {
	t.Helper()
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		if len(parts) != 0 {
			t.Fatalf("blank text: got %d parts, want none", len(parts))
		}
		return nil
	}
	if len(parts) == 0 {
		t.Fatalf("got no parts for %q", text)
	}
	if len(trimmed) <= o.MaxBytes && (len(parts) != 1 || parts[0] != trimmed) {
		t.Fatalf("text fits in one part: got %q, want [%q]", parts, trimmed)
	}
	if o.MaxParts > 0 && len(parts) > o.MaxParts {
		t.Fatalf("got %d parts, MaxParts is %d", len(parts), o.MaxParts)
	}
	locs := make([]located, len(parts))
	pos := 0
	for i, p := range parts {
		if !utf8.ValidString(p) {
			t.Fatalf("part %d is not valid UTF-8: %q", i+1, p)
		}
		if len(p) > o.MaxBytes {
			t.Fatalf("part %d has %d bytes, MaxBytes is %d: %q", i+1, len(p), o.MaxBytes, p)
		}
		body := p
		if o.Number && len(parts) > 1 {
			want := fmt.Sprintf(" (%d/%d)", i+1, len(parts))
			if !strings.HasSuffix(p, want) {
				t.Fatalf("part %d lacks the suffix %q: %q", i+1, want, p)
			}
			body = strings.TrimSuffix(p, want)
		}
		if body == "" || strings.TrimSpace(body) != body {
			t.Fatalf("part %d is empty or not trimmed: %q", i+1, p)
		}
		// The part is the next stretch of the text after white space.
		skip := strings.IndexFunc(text[pos:], func(r rune) bool { return !unicode.IsSpace(r) })
		if skip < 0 || !strings.HasPrefix(text[pos+skip:], body) {
			t.Fatalf("part %d %q is not the text's next words (at byte %d: %.40q)", i+1, body, pos, text[pos:])
		}
		locs[i] = located{body, pos + skip, pos + skip + len(body)}
		pos += skip + len(body)
	}
	if strings.TrimSpace(text[pos:]) != "" {
		t.Fatalf("the parts leave out the end of the text: %q", text[pos:])
	}
	// No boundary inside a URL.
	for _, u := range testURLRE.FindAllStringIndex(text, -1) {
		for i, l := range locs {
			for _, b := range []int{l.start, l.end} {
				if u[0] < b && b < u[1] {
					t.Fatalf("part %d boundary at byte %d cuts the URL %q", i+1, b, text[u[0]:u[1]])
				}
			}
		}
	}
	return locs
}

// bodies strips the suffixes off numbered parts.
func bodies(parts []string, numbered bool) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		if numbered && len(parts) > 1 {
			p = suffixRE.ReplaceAllString(p, "")
		}
		out[i] = p
	}
	return out
}

// sameWords is the property for texts with no word longer than a part:
// the parts joined with white space hold the text's words in order.
func sameWords(t testing.TB, text string, parts []string, numbered bool) {
	t.Helper()
	got := strings.Fields(strings.Join(bodies(parts, numbered), " "))
	if want := strings.Fields(text); !slices.Equal(got, want) {
		t.Fatalf("words differ:\n got %q\nwant %q", got, want)
	}
}

func words(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = "word" + strconv.Itoa(i)
	}
	return strings.Join(ws, " ")
}

func TestSplit(t *testing.T) {
	para1 := "First paragraph. It has two sentences that run on for a while."
	para2 := "Second paragraph. It is long enough to need a part of its own."
	longWord := strings.Repeat("a", 120)
	url := "https://example.com/some/fairly/long/path?with=query&and=more#frag"

	tests := []struct {
		name  string
		text  string
		o     textsplit.Options
		want  []string // nil: check only the invariants
		check func(t *testing.T, parts []string)
	}{
		{
			name: "short text is one part",
			text: "  Hello, Threads!\n",
			o:    textsplit.Options{MaxBytes: 500},
			want: []string{"Hello, Threads!"},
		},
		{
			name: "one part is never numbered",
			text: "Hello, Threads!",
			o:    textsplit.Options{MaxBytes: 500, MaxParts: 1, Number: true},
			want: []string{"Hello, Threads!"},
		},
		{
			name: "exactly MaxBytes is one part",
			text: strings.Repeat("x", 50),
			o:    textsplit.Options{MaxBytes: 50},
			want: []string{strings.Repeat("x", 50)},
		},
		{
			name: "blank text has no parts",
			text: " \n\t ",
			o:    textsplit.Options{MaxBytes: 50},
			want: []string{},
		},
		{
			name: "paragraph break preferred over a later sentence break",
			// para1 and the first sentence of para2 would fit in 100
			// bytes, but the part ends at the paragraph.
			text: para1 + "\n\n" + para2,
			o:    textsplit.Options{MaxBytes: 100},
			want: []string{para1, para2},
		},
		{
			name: "blank line with spaces and CRLF is a paragraph break",
			text: "Alpha beta gamma delta epsilon zeta eta theta\r\n  \r\nIota kappa. Lambda mu nu xi omicron pi rho sigma tau",
			o:    textsplit.Options{MaxBytes: 70},
			want: []string{"Alpha beta gamma delta epsilon zeta eta theta", "Iota kappa. Lambda mu nu xi omicron pi rho sigma tau"},
		},
		{
			name: "newlines inside a part are kept",
			text: "line one\nline two\nline three. " + strings.Repeat("filler ", 10),
			o:    textsplit.Options{MaxBytes: 50},
			want: []string{"line one\nline two\nline three.", "filler filler filler filler filler filler filler", "filler filler filler"},
		},
		{
			name: "sentence break preferred over a later word break",
			text: "The quick brown fox jumps. Over the lazy dog it goes again and again and again.",
			o:    textsplit.Options{MaxBytes: 50},
			want: []string{"The quick brown fox jumps.", "Over the lazy dog it goes again and again and", "again."},
		},
		{
			name: "sentence ends before closing quotes and brackets",
			text: `He said "Stop right there!" and then (as one does.) nothing else happened at all today.`,
			o:    textsplit.Options{MaxBytes: 60},
			want: []string{`He said "Stop right there!" and then (as one does.)`, "nothing else happened at all today."},
		},
		{
			name: "question, exclamation and ellipsis end sentences",
			text: "Why? Because… it works! Then what comes next after this one is anyone's guess",
			o:    textsplit.Options{MaxBytes: 50},
			want: []string{"Why? Because… it works!", "Then what comes next after this one is anyone's", "guess"},
		},
		{
			name: "a sentence break too early gives way to a word break",
			// "Hi." is under a third of the part: fill it instead.
			text: "Hi. the rest of this text has no sentence end until much later on",
			o:    textsplit.Options{MaxBytes: 60},
			want: []string{"Hi. the rest of this text has no sentence end until much", "later on"},
		},
		{
			name: "a paragraph break too early gives way to a sentence break",
			text: "Title\n\nThe body starts here. It goes on and on for quite a while longer",
			o:    textsplit.Options{MaxBytes: 60},
			want: []string{"Title\n\nThe body starts here.", "It goes on and on for quite a while longer"},
		},
		{
			name: "word break",
			text: words(20),
			o:    textsplit.Options{MaxBytes: 50},
			want: []string{
				"word0 word1 word2 word3 word4 word5 word6 word7",
				"word8 word9 word10 word11 word12 word13 word14",
				"word15 word16 word17 word18 word19",
			},
		},
		{
			name: "long word is cut as a last resort",
			text: "short " + longWord + " end",
			o:    textsplit.Options{MaxBytes: 50},
			want: []string{"short", longWord[:50], longWord[50:100], longWord[100:] + " end"},
		},
		{
			name: "Japanese without spaces is cut between runes",
			text: strings.Repeat("日本語の文章", 10), // 180 bytes, 3 per rune
			o:    textsplit.Options{MaxBytes: 50},
			check: func(t *testing.T, parts []string) {
				for i, p := range parts[:len(parts)-1] {
					if len(p) != 48 {
						t.Errorf("part %d has %d bytes, want 48 (16 runes)", i+1, len(p))
					}
				}
			},
		},
		{
			name: "Japanese breaks after a full stop",
			text: "今日はいい天気です。明日も晴れるでしょう。「そうですね。」と彼は言った。",
			o:    textsplit.Options{MaxBytes: 60},
			want: []string{"今日はいい天気です。", "明日も晴れるでしょう。「そうですね。」", "と彼は言った。"},
		},
		{
			name: "URL kept whole",
			text: "Read the write-up at " + url + " today", // the URL has 66 bytes
			o:    textsplit.Options{MaxBytes: 75},
			want: []string{"Read the write-up at", url + " today"},
		},
		{
			name: "URL inside a long word is not cut",
			text: strings.Repeat("z", 30) + "(" + url + ")",
			o:    textsplit.Options{MaxBytes: 80},
			want: []string{strings.Repeat("z", 30) + "(", url + ")"},
		},
		{
			name: "www URL kept whole",
			text: "See www.example.org/a/rather/long/path/to/a/page/that/goes/on and more words",
			o:    textsplit.Options{MaxBytes: 60},
			want: []string{"See", "www.example.org/a/rather/long/path/to/a/page/that/goes/on", "and more words"},
		},
		{
			name: "numbered parts",
			text: words(20),
			o:    textsplit.Options{MaxBytes: 50, Number: true},
			want: []string{
				"word0 word1 word2 word3 word4 word5 word6 (1/4)",
				"word7 word8 word9 word10 word11 word12 (2/4)",
				"word13 word14 word15 word16 word17 word18 (3/4)",
				"word19 (4/4)",
			},
		},
		{
			name: "MaxParts exactly met",
			text: words(20),
			o:    textsplit.Options{MaxBytes: 50, MaxParts: 3},
			check: func(t *testing.T, parts []string) {
				if len(parts) != 3 {
					t.Errorf("got %d parts, want 3", len(parts))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := textsplit.Split(tt.text, tt.o)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			checkParts(t, tt.text, tt.o, parts)
			if tt.want != nil && !slices.Equal(parts, tt.want) {
				t.Errorf("got  %q\nwant %q", parts, tt.want)
			}
			if tt.check != nil {
				tt.check(t, parts)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	longURL := "https://example.com/" + strings.Repeat("p", 60)
	tests := []struct {
		name string
		text string
		o    textsplit.Options
		want error
	}{
		{"invalid UTF-8", "hello \xff world", textsplit.Options{MaxBytes: 50}, textsplit.ErrInvalidUTF8},
		{"truncated rune", "caf\xc3", textsplit.Options{MaxBytes: 50}, textsplit.ErrInvalidUTF8},
		{"MaxBytes too small", "hi", textsplit.Options{MaxBytes: 49}, textsplit.ErrInvalidOptions},
		{"MaxBytes unset", "hi", textsplit.Options{}, textsplit.ErrInvalidOptions},
		{"negative MaxParts", "hi", textsplit.Options{MaxBytes: 50, MaxParts: -1}, textsplit.ErrInvalidOptions},
		{"too many parts", words(20), textsplit.Options{MaxBytes: 50, MaxParts: 2}, textsplit.ErrTooLong},
		{"too many numbered parts", words(20), textsplit.Options{MaxBytes: 50, MaxParts: 3, Number: true}, textsplit.ErrTooLong},
		{"URL longer than a part", "see " + longURL + " now", textsplit.Options{MaxBytes: 50}, textsplit.ErrUnsplittable},
		{"URL longer than a part with its suffix", "see " + longURL[:48] + " and then some more words", textsplit.Options{MaxBytes: 50, Number: true}, textsplit.ErrUnsplittable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := textsplit.Split(tt.text, tt.o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %q, %v; want error %v", parts, err, tt.want)
			}
			if parts != nil {
				t.Errorf("got parts %q with the error", parts)
			}
		})
	}
}

// TestSplitGraphemes splits runs of emoji and combined characters with no
// spaces at many sizes: every part boundary must fall between clusters.
func TestSplitGraphemes(t *testing.T) {
	clusters := []string{
		"👨‍👩‍👧‍👦", // family: ZWJ sequence
		"👍🏽",      // skin tone modifier
		"👩🏽‍💻",    // modifier and ZWJ
		"🇯🇵",      // flag: regional indicator pair
		"🇫🇷",
		"1️⃣", // keycap: variation selector and enclosing mark
		"❤️",  // variation selector
		"🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", // Scotland: tag sequence
		"e\u0301", // combining acute
		"x",
		"日",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var b strings.Builder
		bounds := map[int]bool{0: true}
		for range 80 {
			b.WriteString(clusters[rng.IntN(len(clusters))])
			bounds[b.Len()] = true
		}
		text := b.String()
		for _, number := range []bool{false, true} {
			o := textsplit.Options{MaxBytes: 50 + round, Number: number}
			parts, err := textsplit.Split(text, o)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			for i, l := range checkParts(t, text, o, parts) {
				if !bounds[l.start] || !bounds[l.end] {
					t.Fatalf("round %d: part %d [%d, %d) cuts a cluster: %q", round, i+1, l.start, l.end, l.text)
				}
			}
		}
	}
}

// TestSplitLongCluster: a single cluster longer than a part is cut, but
// between runes.
func TestSplitLongCluster(t *testing.T) {
	text := "e" + strings.Repeat("\u0301", 100)
	o := textsplit.Options{MaxBytes: 50}
	parts, err := textsplit.Split(text, o)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, text, o, parts)
	if len(parts) != 5 {
		t.Errorf("got %d parts, want 5", len(parts))
	}
}

// TestSplitNumbering splits texts of many lengths, so the count crosses
// 9→10 (and 99→100), and checks the numbering of each. Texts of one-letter
// words fill parts to the last byte or one short of it.
func TestSplitNumbering(t *testing.T) {
	seen := map[int]bool{}
	grew := false // numbering added a part, crossing from 9 to 10
	for n := 40; n <= 1000; n += 3 {
		for _, text := range []string{words(n), strings.TrimSpace(strings.Repeat("x ", 2*n))} {
			o := textsplit.Options{MaxBytes: 50, Number: true}
			parts, err := textsplit.Split(text, o)
			if err != nil {
				t.Fatalf("%d words: %v", n, err)
			}
			checkParts(t, text, o, parts)
			sameWords(t, text, parts, true)
			seen[len(parts)] = true
			plain, err := textsplit.Split(text, textsplit.Options{MaxBytes: 50})
			if err != nil {
				t.Fatal(err)
			}
			if len(plain) == 9 && len(parts) >= 10 {
				grew = true
			}
			// With MaxParts at the count, the same parts; one fewer fails.
			o.MaxParts = len(parts)
			if again, err := textsplit.Split(text, o); err != nil || !slices.Equal(again, parts) {
				t.Fatalf("%d words, MaxParts %d: %v", n, o.MaxParts, err)
			}
			o.MaxParts--
			if _, err := textsplit.Split(text, o); !errors.Is(err, textsplit.ErrTooLong) {
				t.Fatalf("%d words, MaxParts %d: got %v, want ErrTooLong", n, o.MaxParts, err)
			}
		}
	}
	for _, n := range []int{9, 10, 99, 100} {
		if !seen[n] {
			t.Errorf("no text split into %d parts", n)
		}
	}
	if !grew {
		t.Error("no text needed 9 parts unnumbered and 10 or more numbered")
	}
}

// TestSplitProperty splits random texts of words, sentences, paragraphs
// and URLs: the invariants hold, and the words come back in order.
func TestSplitProperty(t *testing.T) {
	vocab := []string{
		"a", "the", "Threads", "reply", "chain", "naïve", "café", "日本語", "👍🏽", "👨‍👩‍👧",
		"end.", "stop!", "why?", "so…", `"quoted."`, "(aside.)", "https://example.com/x?y=1",
		"www.example.org", "longish-hyphenated-word",
	}
	seps := []string{" ", " ", " ", " ", "\n", "\n\n", "  \n \n", "\t"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		var b strings.Builder
		for range 5 + rng.IntN(200) {
			b.WriteString(vocab[rng.IntN(len(vocab))])
			b.WriteString(seps[rng.IntN(len(seps))])
		}
		text := b.String()
		o := textsplit.Options{MaxBytes: 50 + rng.IntN(500), Number: rng.IntN(2) == 0}
		parts, err := textsplit.Split(text, o)
		if err != nil {
			t.Fatalf("Split(%q, %+v): %v", text, o, err)
		}
		checkParts(t, text, o, parts)
		sameWords(t, text, parts, o.Number)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("Hello, Threads!", uint16(0), uint8(0), false)
	f.Add("First paragraph.\n\nSecond one, a bit longer than the first. Third sentence here!", uint16(0), uint8(0), true)
	f.Add(strings.Repeat("日本語の文章。", 20), uint16(10), uint8(5), true)
	f.Add(strings.Repeat("👨‍👩‍👧‍👦👍🏽🇯🇵e\u0301", 20), uint16(0), uint8(0), false)
	f.Add("see https://example.com/"+strings.Repeat("p", 80)+" now", uint16(10), uint8(0), true)
	f.Add(words(300), uint16(0), uint8(0), true)
	f.Add("bad \xff utf8", uint16(0), uint8(0), false)
	// Small integer types: the fuzzer minimizes an integer by counting
	// down from it, one at a time.
	f.Fuzz(func(t *testing.T, text string, extraBytes uint16, maxParts uint8, number bool) {
		o := textsplit.Options{
			MaxBytes: textsplit.MinMaxBytes + int(extraBytes)%500,
			MaxParts: int(maxParts) % 30,
			Number:   number,
		}
		parts, err := textsplit.Split(text, o)
		switch {
		case !utf8.ValidString(text):
			if !errors.Is(err, textsplit.ErrInvalidUTF8) {
				t.Fatalf("invalid UTF-8: got %v", err)
			}
			return
		case errors.Is(err, textsplit.ErrTooLong):
			all, err := textsplit.Split(text, textsplit.Options{MaxBytes: o.MaxBytes, Number: o.Number})
			if err != nil || o.MaxParts == 0 || len(all) <= o.MaxParts {
				t.Fatalf("ErrTooLong with MaxParts %d, but unlimited: %d parts, %v", o.MaxParts, len(all), err)
			}
			return
		case errors.Is(err, textsplit.ErrUnsplittable):
			// Only for a URL longer than a part's room, which the suffix
			// " (i/n)" (n < len(text)) may shrink.
			room := o.MaxBytes
			if o.Number {
				room -= len(" (/)") + 2*len(strconv.Itoa(len(text)))
			}
			for _, u := range testURLRE.FindAllString(text, -1) {
				if len(u) > room {
					return
				}
			}
			t.Fatalf("ErrUnsplittable but no URL longer than %d bytes: %v", room, err)
		case err != nil:
			t.Fatalf("Split: %v", err)
		}
		checkParts(t, text, o, parts)
		// The words (runs of non-space) in order: words cut apart come
		// back by concatenation.
		got := strings.Join(strings.Fields(strings.Join(bodies(parts, o.Number), "")), "")
		want := strings.Join(strings.Fields(text), "")
		if got != want {
			t.Fatalf("non-space text differs:\n got %q\nwant %q", got, want)
		}
	})
}

// benchText is about 5,000 characters of prose: paragraphs, sentences, a
// URL, a little Japanese and emoji.
func benchText() string {
	para := "Threads lets a post run to 500 characters, so a longer thought becomes a chain of replies. " +
		"Each part should end where a reader would pause: at a paragraph, else a sentence, else a word. " +
		"Links like https://example.com/articles/2024/splitting-text?ref=threads must stay whole! " +
		"日本語の文章も途中で切れないように。Emoji too 👩🏽‍💻🇯🇵 — and that is the whole idea.\n\n"
	var b strings.Builder
	for utf8.RuneCountInString(b.String()) < 5000 {
		b.WriteString(para)
	}
	return b.String()
}

func BenchmarkSplit(b *testing.B) {
	text := benchText()
	o := textsplit.Options{MaxBytes: 500, Number: true}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := textsplit.Split(text, o); err != nil {
			b.Fatal(err)
		}
	}
}
