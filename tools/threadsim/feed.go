package main

import (
	"cmp"
	"slices"
	"strings"
)

// How the feed page shows the newer post features: text cut into segments
// (spoilers, styled ranges) that the template escapes one by one, and reply
// chains threaded.

// span is Length runes of a text from Offset.
type span struct{ offset, length int }

// piece is a piece of a text: index is the range it is (an index into the
// ranges given to split), -1 for text outside every range.
type piece struct {
	text  string
	index int
}

// split cuts text into pieces at ranges counted in runes, keeping every
// rune once and in order. A range that lies outside the text or overlaps an
// earlier one is ignored (threadstest refuses both).
func split(text string, ranges []span) []piece {
	runes := []rune(text)
	order := make([]int, len(ranges))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ranges[a].offset, ranges[b].offset) })
	var out []piece
	pos := 0
	for _, i := range order {
		r := ranges[i]
		if r.offset < pos || r.length < 1 || r.length > len(runes)-r.offset {
			continue
		}
		if r.offset > pos {
			out = append(out, piece{string(runes[pos:r.offset]), -1})
		}
		out = append(out, piece{string(runes[r.offset : r.offset+r.length]), i})
		pos = r.offset + r.length
	}
	if pos < len(runes) {
		out = append(out, piece{string(runes[pos:]), -1})
	}
	return out
}

// textSegment is a piece of a post's text, hidden as a spoiler or not.
type textSegment struct {
	Text    string
	Spoiler bool
}

// styledSegment is a piece of a text attachment with its styles, each
// rendered by its element: <strong>, <em>, <mark>, <u>, <s>.
type styledSegment struct {
	Text                                              string
	Bold, Italic, Highlight, Underline, Strikethrough bool
	// Styles names the styles, space-separated ("" if none), for the
	// page's data-styles.
	Styles string
}

// style sets the segment's styles.
func (s *styledSegment) style(styles []string) {
	for _, st := range styles {
		switch st {
		case "bold":
			s.Bold = true
		case "italic":
			s.Italic = true
		case "highlight":
			s.Highlight = true
		case "underline":
			s.Underline = true
		case "strikethrough":
			s.Strikethrough = true
		}
	}
	s.Styles = strings.Join(styles, " ")
}

// maxIndent is the deepest indentation of a reply on the page: deeper
// replies are indented as much, and still follow their parent.
const maxIndent = 4

// Indent is the post's indentation level on the page, 0 to maxIndent.
func (p feedPost) Indent() int {
	return min(p.Depth, maxIndent)
}

// compareMediaIDs orders media ids by age: the fake's ids are numbers that
// grow with each post.
func compareMediaIDs(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

// threadFeed sets each account's Thread, what its section of the page
// shows: its posts that answer no post of the feed (roots), newest first,
// each followed by its replies, of any account, oldest first and each
// followed by its own replies (depth first). A three-part chain, part 2
// answering part 1 and part 3 part 2, thus reads in order, each part one
// step deeper. A reply to another account's post is shown under that post,
// in that account's section, and counted in its author's Elsewhere.
func threadFeed(accounts []feedAccount) {
	byID := map[string]*feedPost{}
	home := map[string]int{} // media id → index of its author's account
	for i := range accounts {
		for j := range accounts[i].Posts {
			p := &accounts[i].Posts[j]
			byID[p.MediaID], home[p.MediaID] = p, i
		}
	}
	replies := map[string][]*feedPost{}
	for _, p := range byID {
		if parent := p.ReplyToID; parent != "" && parent != p.MediaID && byID[parent] != nil {
			replies[parent] = append(replies[parent], p)
		}
	}
	for _, rs := range replies {
		slices.SortFunc(rs, func(a, b *feedPost) int { return compareMediaIDs(a.MediaID, b.MediaID) })
	}
	placed := map[string]bool{}
	var walk func(section int, p *feedPost, depth int)
	walk = func(section int, p *feedPost, depth int) {
		if placed[p.MediaID] {
			return
		}
		placed[p.MediaID] = true
		shown := *p
		shown.Depth = depth
		accounts[section].Thread = append(accounts[section].Thread, shown)
		if home[p.MediaID] != section {
			accounts[home[p.MediaID]].Elsewhere++
		}
		for _, r := range replies[p.MediaID] {
			walk(section, r, depth+1)
		}
	}
	for i := range accounts {
		for j := range accounts[i].Posts {
			if p := &accounts[i].Posts[j]; p.ReplyToID == "" || byID[p.ReplyToID] == nil {
				walk(i, p, 0)
			}
		}
	}
	// Replies in a cycle (impossible: a post answers an earlier one) would
	// be left out: show them as roots rather than lose them.
	for i := range accounts {
		for j := range accounts[i].Posts {
			walk(i, &accounts[i].Posts[j], 0)
		}
	}
}
