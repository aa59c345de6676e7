package publish

import (
	"errors"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"threadsfunctions.dev/shared/textsplit"
)

var gifIDRe = regexp.MustCompile(`^[0-9A-Za-z_-]{1,128}$`)

// validateFeatures checks the newer post features (long text, spoilers,
// ghost posts, GIFs, geo-gating) and how they combine with the rest.
func (r *Request) validateFeatures() error {
	media := r.ImageURL != "" || r.VideoURL != "" || len(r.Media) > 0

	if r.LongText != "" || r.LongTextLink != "" || len(r.LongTextStyles) > 0 {
		switch {
		case r.LongText == "":
			return bad(CodeInvalidLongText, "longTextLink and longTextStyles need longText")
		case !utf8.ValidString(r.LongText):
			return bad(CodeInvalidLongText, "longText is not valid UTF-8")
		case utf8.RuneCountInString(r.LongText) > MaxLongText:
			return bad(CodeInvalidLongText, "longText has %d characters; Threads allows %d", utf8.RuneCountInString(r.LongText), MaxLongText)
		case media:
			return bad(CodeConflictingFields, "longText is for text posts only")
		case r.Poll != nil:
			return bad(CodeConflictingFields, "a post cannot have both a poll and longText")
		case r.LongTextLink != "" && r.LinkAttachment != "":
			return bad(CodeConflictingFields, "use linkAttachment or longTextLink, not both")
		case r.LongTextLink != "" && !isHTTPURL(r.LongTextLink):
			return bad(CodeInvalidLongText, "longTextLink must be an absolute http(s) URL")
		}
		ranges := make([]TextRange, len(r.LongTextStyles))
		for i, st := range r.LongTextStyles {
			if len(st.Styles) == 0 {
				return bad(CodeInvalidTextStyles, "longTextStyles[%d].styles is empty", i)
			}
			for _, name := range st.Styles {
				if !slices.Contains(TextStyles, name) {
					return bad(CodeInvalidTextStyles, "longTextStyles[%d].styles: %q is not one of %s", i, name, strings.Join(TextStyles, ", "))
				}
			}
			if hasDuplicate(st.Styles) {
				return bad(CodeInvalidTextStyles, "longTextStyles[%d].styles repeats a style", i)
			}
			ranges[i] = TextRange{st.Offset, st.Length}
		}
		if err := checkRanges(CodeInvalidTextStyles, "longTextStyles", ranges, utf8.RuneCountInString(r.LongText)); err != nil {
			return err
		}
	}

	if len(r.Spoilers) > 0 {
		text := r.firstText()
		switch {
		case len(r.Spoilers) > MaxSpoilers:
			return bad(CodeInvalidSpoilers, "a post has at most %d spoilers, not %d", MaxSpoilers, len(r.Spoilers))
		case r.Split:
			return bad(CodeConflictingFields, "spoilers cannot be combined with split: the ranges would move")
		case text == "":
			return bad(CodeInvalidSpoilers, "spoilers hide ranges of the text, and there is none")
		}
		if err := checkRanges(CodeInvalidSpoilers, "spoilers", r.Spoilers, utf8.RuneCountInString(text)); err != nil {
			return err
		}
	}
	if r.SpoilerMedia && !media {
		return bad(CodeConflictingFields, "spoilerMedia is for image, video and carousel posts")
	}

	if r.Ghost {
		others := []struct {
			set  bool
			name string
		}{
			{media, "media"}, {r.ReplyToID != "", "replyToId"}, {r.QuotePostID != "", "quotePostId"},
			{r.Poll != nil, "poll"}, {r.LinkAttachment != "", "linkAttachment"}, {r.LongText != "", "longText"},
			{r.GIF != nil, "gif"}, {len(r.Thread) > 0 || r.Split, "thread or split"},
			{len(r.AllowlistedCountryCodes) > 0, "allowlistedCountryCodes"},
		}
		for _, o := range others {
			if o.set {
				return bad(CodeConflictingFields, "a ghost post is text only, with spoilers at most: not with %s", o.name)
			}
		}
	}

	if r.GIF != nil {
		switch {
		case media:
			return bad(CodeConflictingFields, "gif is for text posts only")
		case r.Poll != nil || r.LinkAttachment != "" || r.LongText != "":
			return bad(CodeConflictingFields, "gif cannot be combined with poll, linkAttachment or longText")
		case !gifIDRe.MatchString(r.GIF.ID):
			return bad(CodeInvalidGIF, "gif.id has 1 to %d letters, digits, '-' or '_'", MaxGIFID)
		case !slices.Contains(GIFProviders, r.GIF.Provider):
			return bad(CodeInvalidGIF, "gif.provider must be one of %s", strings.Join(GIFProviders, ", "))
		}
	}

	if n := len(r.AllowlistedCountryCodes); n > 0 {
		for i, c := range r.AllowlistedCountryCodes {
			if !IsCountryCode(c) {
				return bad(CodeInvalidCountry, "allowlistedCountryCodes[%d] is not an ISO 3166-1 alpha-2 code in upper case", i)
			}
		}
		if hasDuplicate(r.AllowlistedCountryCodes) {
			return bad(CodeInvalidCountry, "allowlistedCountryCodes repeats a code")
		}
	}
	return nil
}

// checkRanges checks that ranges lie within a text of n characters and do
// not overlap.
func checkRanges(code, field string, ranges []TextRange, n int) error {
	for i, rg := range ranges {
		if rg.Offset < 0 || rg.Length < 1 || rg.Offset > n || rg.Length > n-rg.Offset {
			return bad(code, "%s[%d] (offset %d, length %d) is not a range of the %d characters of the text", field, i, rg.Offset, rg.Length, n)
		}
	}
	sorted := slices.Clone(ranges)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Offset < sorted[j].Offset })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Offset < sorted[i-1].Offset+sorted[i-1].Length {
			return bad(code, "%s ranges overlap", field)
		}
	}
	return nil
}

func hasDuplicate(xs []string) bool {
	seen := make(map[string]bool, len(xs))
	for _, x := range xs {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

// firstText is the text of the post, or of a thread's first part.
func (r *Request) firstText() string {
	if len(r.Thread) > 0 {
		return r.Thread[0]
	}
	return r.Text
}

// Parts returns the texts of a reply chain's parts, in order: the thread
// as given, or the text split at the limit; nil for a single post. It
// checks each part as a text post.
func (r *Request) Parts() ([]string, error) {
	var parts []string
	switch {
	case len(r.Thread) > 0:
		switch {
		case r.Text != "":
			return nil, bad(CodeConflictingFields, "use text or thread, not both")
		case r.Split:
			return nil, bad(CodeConflictingFields, "split applies to text, not thread")
		case len(r.Thread) < MinThreadParts || len(r.Thread) > MaxThreadParts:
			return nil, bad(CodeInvalidThread, "a thread has %d to %d parts, not %d", MinThreadParts, MaxThreadParts, len(r.Thread))
		}
		parts = r.Thread
	case r.Split && len(r.Text) > MaxTextBytes:
		var err error
		parts, err = textsplit.Split(r.Text, textsplit.Options{MaxBytes: MaxTextBytes, MaxParts: MaxThreadParts, Number: r.NumberParts})
		switch {
		case errors.Is(err, textsplit.ErrTooLong):
			return nil, bad(CodeTextTooLong, "text needs more than %d parts of %d bytes", MaxThreadParts, MaxTextBytes)
		case err != nil:
			return nil, bad(CodeTextTooLong, "text cannot be split: %v", err)
		case len(parts) == 0:
			// All white space: not a single post of it either (Check refuses
			// such a text before; this holds for Parts called alone).
			return nil, bad(CodeEmptyPost, "text is only white space")
		}
	default:
		if r.NumberParts && !r.Split {
			return nil, bad(CodeConflictingFields, "numberParts applies with split")
		}
		if n := len(DistinctLinks(r.Text, r.LinkAttachment, r.LongTextLink)); n > MaxLinks {
			return nil, bad(CodeTooManyLinks, "the post has %d distinct links; Threads allows %d", n, MaxLinks)
		}
		return nil, nil
	}
	if r.NumberParts && !r.Split {
		return nil, bad(CodeConflictingFields, "numberParts applies with split")
	}
	for i, p := range parts {
		switch {
		case blank(p):
			return nil, bad(CodeInvalidThread, "thread[%d] is empty", i)
		case !utf8.ValidString(p):
			return nil, bad(CodeTextTooLong, "thread[%d] is not valid UTF-8", i)
		case len(p) > MaxTextBytes:
			return nil, bad(CodeTextTooLong, "thread[%d] is %d bytes of UTF-8; Threads allows %d", i, len(p), MaxTextBytes)
		}
		var links []string
		if i == 0 {
			links = DistinctLinks(p, r.LinkAttachment, r.LongTextLink)
		} else {
			links = DistinctLinks(p)
		}
		if len(links) > MaxLinks {
			return nil, bad(CodeTooManyLinks, "thread[%d] has %d distinct links; Threads allows %d", i, len(links), MaxLinks)
		}
	}
	return parts, nil
}

// ScheduledAt parses publishAt: zero when the post is not scheduled. A time
// must be in the future (after now) and at most MaxScheduleAhead away.
func (r *Request) ScheduledAt(now time.Time) (time.Time, error) {
	if r.PublishAt == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, r.PublishAt)
	if err != nil {
		return time.Time{}, bad(CodeInvalidPublishAt, "publishAt must be an RFC 3339 time, such as 2026-12-01T09:30:00Z")
	}
	switch {
	case !t.After(now):
		return time.Time{}, bad(CodeInvalidPublishAt, "publishAt is not in the future")
	case t.Sub(now) > MaxScheduleAhead:
		return time.Time{}, bad(CodeInvalidPublishAt, "publishAt is more than %d days ahead", int(MaxScheduleAhead.Hours()/24))
	}
	return t.UTC(), nil
}
