// Package textsplit splits a long text into the parts of a Threads reply
// chain: each part at most Options.MaxBytes UTF-8 bytes (Threads allows
// 500), optionally numbered " (i/n)".
//
// The rules:
//
//   - The text must be valid UTF-8. It is trimmed of leading and trailing
//     white space; if what is left fits in one part, it is that one part,
//     never numbered. An empty (or all white space) text has no parts.
//   - Parts are filled greedily: each takes as much of the rest of the text
//     as fits, ending at the best break point within its room. The best is
//     the last paragraph break (white space holding a blank line: two or
//     more line breaks, or U+2029), else the last sentence break, else the
//     last word break (any run of white space). A paragraph or sentence
//     break that would leave the part shorter than a third of its room is
//     passed over for the next level, so parts are not needlessly tiny.
//   - A sentence break is white space after '.', '!', '?', '…' (or '‼',
//     '⁇', '⁈', '⁉'), optionally followed by closing quotes or brackets.
//     The CJK full stops '。', '！', '？' and '｡' (again optionally
//     followed by closing brackets such as '」') end a sentence even with
//     no white space after them, so Japanese or Chinese text without spaces
//     breaks between sentences.
//   - Only a word too long for a part is cut inside, and then only between
//     runes, and where possible between grapheme clusters: never before a
//     combining mark, variation selector, ZWJ, emoji skin tone modifier or
//     tag character, never after a ZWJ, never inside a regional indicator
//     (flag) pair. A single cluster longer than a part is cut between runes.
//   - A URL, a token matching (?i)\b(?:https?://|www\.)[^\s<>"]+ (case
//     folded in ASCII only) that ends at the first Unicode white space, not
//     only ASCII white space, is never cut; a URL longer than a part's room
//     makes Split fail with ErrUnsplittable.
//   - The white space at a break is dropped; white space inside a part,
//     newlines included, is kept as it is. Each part is a substring of the
//     text, so the parts, joined with white space, hold the text's words
//     in order.
//   - With Options.Number, every part (when there is more than one) ends
//     with " (i/n)", and the suffix counts toward MaxBytes. Since its length
//     depends on n, the text is split again with room for the suffix until
//     the count is stable.
//   - More parts than Options.MaxParts (when it is not 0) is ErrTooLong.
package textsplit

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinMaxBytes is the smallest Options.MaxBytes Split accepts.
const MinMaxBytes = 50

// Options tune Split.
type Options struct {
	// MaxBytes is the most UTF-8 bytes a part may have (Threads: 500).
	// Required, >= MinMaxBytes.
	MaxBytes int
	// MaxParts is the most parts allowed (e.g. 20); 0 means no limit.
	MaxParts int
	// Number appends " (i/n)" to every part, e.g. " (2/5)"; the suffix
	// counts toward MaxBytes. A text that fits in one part is not numbered.
	Number bool
}

var (
	// ErrTooLong is wrapped by Split when the text needs more than
	// Options.MaxParts parts.
	ErrTooLong = errors.New("textsplit: text needs too many parts")
	// ErrUnsplittable is wrapped by Split when the text holds a URL
	// longer than a part, which it will not cut.
	ErrUnsplittable = errors.New("textsplit: URL longer than a part")
	// ErrInvalidUTF8 is wrapped by Split when the text is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("textsplit: text is not valid UTF-8")
	// ErrInvalidOptions is wrapped by Split when the Options are out of
	// range.
	ErrInvalidOptions = errors.New("textsplit: invalid options")
)

// Split splits text into the parts of a reply chain, following the rules
// in the package documentation. It returns no parts for a text that is
// empty or only white space.
func Split(text string, o Options) ([]string, error) {
	if o.MaxBytes < MinMaxBytes {
		return nil, fmt.Errorf("%w: MaxBytes is %d, the least is %d", ErrInvalidOptions, o.MaxBytes, MinMaxBytes)
	}
	if o.MaxParts < 0 {
		return nil, fmt.Errorf("%w: MaxParts is %d, want 0 (no limit) or more", ErrInvalidOptions, o.MaxParts)
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: bad byte at offset %d", ErrInvalidUTF8, invalidAt(text))
	}
	s := strings.TrimSpace(text)
	if s == "" {
		return nil, nil
	}
	if len(s) <= o.MaxBytes {
		return []string{s}, nil
	}

	sp := newSplitter(s)
	parts, err := sp.split(func(int) int { return o.MaxBytes })
	if err != nil {
		return nil, err
	}
	n := len(parts)
	if o.Number {
		// The unnumbered count is the first guess. Each round splits with
		// room for " (i/n)"; a count above n means n was too small. A count
		// m <= n is a valid result, numbered "/m": " (i/m)" is no longer
		// than " (i/n)". The room depends only on the number of digits in
		// n, so this takes a few rounds.
		for {
			total := n
			parts, err = sp.split(func(i int) int { return o.MaxBytes - suffixLen(i, total) })
			if err != nil {
				return nil, err
			}
			n = len(parts)
			if n <= total {
				break
			}
		}
	}
	if o.MaxParts > 0 && n > o.MaxParts {
		return nil, fmt.Errorf("%w: it needs %d parts, the limit is %d", ErrTooLong, n, o.MaxParts)
	}

	out := make([]string, n)
	for i, p := range parts {
		out[i] = s[p.start:p.end]
		if o.Number && n > 1 {
			out[i] += suffix(i+1, n)
		}
	}
	return out, nil
}

// invalidAt is the offset of the first byte of s that is not UTF-8.
func invalidAt(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return len(s)
}

// suffix is the numbering of part i of n.
func suffix(i, n int) string {
	return " (" + strconv.Itoa(i) + "/" + strconv.Itoa(n) + ")"
}

// suffixLen is len(suffix(i, n)).
func suffixLen(i, n int) int {
	return len(" (/)") + digits(i) + digits(n)
}

func digits(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// breakKind ranks break points; higher is better.
type breakKind uint8

const (
	breakWord breakKind = iota + 1
	breakSentence
	breakParagraph
)

// breakPoint is a place the text may be split: the part before it ends at
// end and the next part begins at next (after the white space between).
type breakPoint struct {
	end, next int
	kind      breakKind
}

// span is the byte range [start, end) of the text.
type span struct{ start, end int }

// splitter holds a trimmed text's break points and URLs, which do not
// depend on the room in a part, so numbering rounds reuse them.
type splitter struct {
	s      string
	breaks []breakPoint // ordered by end
	urls   []span       // ordered, disjoint
}

func newSplitter(s string) *splitter {
	// About one break point (white space) per word.
	sp := &splitter{s: s, urls: findURLs(s), breaks: make([]breakPoint, 0, len(s)/6)}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			start := i
			lines, para := 0, false
			for i < len(s) {
				r, size := utf8.DecodeRuneInString(s[i:])
				if !unicode.IsSpace(r) {
					break
				}
				switch r {
				case '\n', '\u0085', '\u2028':
					lines++
				case '\r':
					if i+1 >= len(s) || s[i+1] != '\n' {
						lines++
					}
				case '\u2029':
					para = true
				}
				i += size
			}
			// s is trimmed, so the white space has text on both sides.
			if next, _ := utf8.DecodeRuneInString(s[i:]); isExtender(next) {
				// A mark on a space: keep the cluster whole.
				continue
			}
			kind := breakWord
			if para || lines >= 2 {
				kind = breakParagraph
			} else if endsSentence(s[:start]) {
				kind = breakSentence
			}
			sp.breaks = append(sp.breaks, breakPoint{end: start, next: i, kind: kind})
		case isCJKStop(r):
			i += size
			for i < len(s) {
				r, size := utf8.DecodeRuneInString(s[i:])
				if !isCloser(r) {
					break
				}
				i += size
			}
			if i == len(s) {
				continue
			}
			next, _ := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(next) || isExtender(next) || sp.inURL(i) {
				// White space is its own (sentence) break.
				continue
			}
			sp.breaks = append(sp.breaks, breakPoint{end: i, next: i, kind: breakSentence})
		default:
			i += size
		}
	}
	return sp
}

// findURLs returns the URLs in s: the matches of
//
//	\b(?:https?://|www\.)[^\s<>"]+
//
// with the letters matched case-insensitively (in ASCII) and \s any rune
// unicode.IsSpace reports, so a URL never holds a break point. It is the
// same as a regexp.FindAllStringIndex, several times faster.
func findURLs(s string) []span {
	var urls []span
	for i := 0; i < len(s); i++ {
		j := urlStart(s, i)
		if j < 0 {
			continue
		}
		k := j
		for k < len(s) {
			r, size := utf8.DecodeRuneInString(s[k:])
			if unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' {
				break
			}
			k += size
		}
		if k > j {
			urls = append(urls, span{i, k})
			i = k - 1
		}
	}
	return urls
}

// urlStart returns the offset after "http://", "https://" or "www." at
// s[i], at a word boundary, or -1.
func urlStart(s string, i int) int {
	if c := s[i] | 0x20; c != 'h' && c != 'w' {
		return -1
	}
	if i > 0 && isWordByte(s[i-1]) {
		return -1
	}
	for _, prefix := range []string{"https://", "http://", "www."} {
		if hasPrefixFold(s[i:], prefix) {
			return i + len(prefix)
		}
	}
	return -1
}

// isWordByte reports whether c is an ASCII word character, as \b sees it.
// (A byte of a multi-byte rune is not.)
func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z'
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case; prefix is lower
// case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c |= 0x20
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// inURL reports whether offset p is strictly inside a URL.
func (sp *splitter) inURL(p int) bool {
	k := sort.Search(len(sp.urls), func(k int) bool { return sp.urls[k].end > p })
	return k < len(sp.urls) && sp.urls[k].start < p
}

// split fills parts greedily; room(i) is the most bytes part i (from 1)
// may hold.
func (sp *splitter) split(room func(i int) int) ([]span, error) {
	s := sp.s
	var parts []span
	bi := 0 // the first break point ending after pos
	for pos := 0; pos < len(s); {
		b := room(len(parts) + 1)
		limit := pos + b
		end, next := len(s), len(s)
		if limit < len(s) {
			for bi < len(sp.breaks) && sp.breaks[bi].end <= pos {
				bi++
			}
			hi := bi
			for hi < len(sp.breaks) && sp.breaks[hi].end <= limit {
				hi++
			}
			if bp, ok := best(sp.breaks[bi:hi], pos, b/3); ok {
				end, next = bp.end, bp.next
			} else {
				cut, err := sp.cutWord(pos, limit)
				if err != nil {
					return nil, err
				}
				end, next = cut, cut
			}
		}
		// Break points never leave white space at a part's ends, but a
		// forced cut next to white space that was not a break point
		// (before a combining mark) might.
		if p := trim(s, pos, end); p.start < p.end {
			parts = append(parts, p)
		}
		pos = next
	}
	return parts, nil
}

// best picks the break point for a part starting at pos from the ones that
// fit (window): the last paragraph break, else the last sentence (or
// paragraph) break, else the last break of any kind. A paragraph or
// sentence break leaving fewer than minLen bytes is passed over.
func best(window []breakPoint, pos, minLen int) (breakPoint, bool) {
	for _, kind := range []breakKind{breakParagraph, breakSentence} {
		for k := len(window) - 1; k >= 0; k-- {
			if window[k].kind >= kind {
				if window[k].end-pos >= minLen {
					return window[k], true
				}
				break
			}
		}
	}
	if len(window) > 0 {
		return window[len(window)-1], true
	}
	return breakPoint{}, false
}

// cutWord is the last resort, for a word longer than the part's room
// (limit-pos bytes): the last offset in (pos, limit] that is not inside a
// URL and, if there is one, not inside a grapheme cluster.
func (sp *splitter) cutWord(pos, limit int) (int, error) {
	s := sp.s
	ui := sort.Search(len(sp.urls), func(k int) bool { return sp.urls[k].end > pos })
	cluster, anyRune := -1, -1
	prev := noRune
	ris := 0 // regional indicators just before p
	for p := pos; p <= limit; {
		r, size := utf8.DecodeRuneInString(s[p:])
		if p > pos {
			for ui < len(sp.urls) && sp.urls[ui].end <= p {
				ui++
			}
			if ui == len(sp.urls) || sp.urls[ui].start >= p {
				anyRune = p
				if !isExtender(r) && prev != zwj && (!isRegional(r) || ris%2 == 0) {
					cluster = p
				}
			}
		}
		if isRegional(r) {
			ris++
		} else {
			ris = 0
		}
		prev = r
		p += size
	}
	switch {
	case cluster >= 0:
		return cluster, nil
	case anyRune >= 0:
		return anyRune, nil
	}
	// Every offset is inside a URL, so one starts at pos.
	u := sp.urls[ui]
	url := s[u.start:u.end]
	if len(url) > 60 {
		k := 57
		for !utf8.RuneStart(url[k]) {
			k--
		}
		url = url[:k] + "..."
	}
	return 0, fmt.Errorf("%w: the URL %q has %d bytes, a part has room for %d", ErrUnsplittable, url, u.end-u.start, limit-pos)
}

// trim narrows [start, end) to exclude white space at either end.
func trim(s string, start, end int) span {
	t := strings.TrimSpace(s[start:end])
	if t == "" {
		return span{start, start}
	}
	start += strings.Index(s[start:end], t)
	return span{start, start + len(t)}
}

const (
	zwj    = '\u200d'
	noRune = rune(-1)
)

// isExtender reports whether r belongs with the rune before it: a
// combining mark (variation selectors and the keycap mark are marks), a
// ZWJ, an emoji skin tone modifier or a tag character (subdivision flags).
func isExtender(r rune) bool {
	switch {
	case r < 0x300:
		return false
	case r == zwj,
		r >= 0x1f3fb && r <= 0x1f3ff,
		r >= 0xe0020 && r <= 0xe007f:
		return true
	}
	return unicode.Is(unicode.M, r)
}

func isRegional(r rune) bool { return r >= 0x1f1e6 && r <= 0x1f1ff }

// endsSentence reports whether s ends with sentence-final punctuation,
// possibly followed by closing quotes or brackets.
func endsSentence(s string) bool {
	for s != "" {
		r, size := utf8.DecodeLastRuneInString(s)
		switch {
		case isCloser(r):
			s = s[:len(s)-size]
		case isSentenceEnd(r):
			return true
		default:
			return false
		}
	}
	return false
}

func isSentenceEnd(r rune) bool {
	switch r {
	case '.', '!', '?', '…', '‼', '⁇', '⁈', '⁉':
		return true
	}
	return isCJKStop(r)
}

func isCJKStop(r rune) bool {
	return r == '。' || r == '！' || r == '？' || r == '｡'
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '}', '»', '›', '”', '’',
		'」', '』', '）', '］', '｝', '】', '〕', '〗', '〙', '〛', '〉', '》', '｣':
		return true
	}
	return false
}
