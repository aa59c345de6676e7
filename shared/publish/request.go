// Package publish turns a publish request into exactly one Threads post.
//
// A request is validated completely before Threads is called (Validate),
// becomes a job document in Firestore (JobStore), and is carried out by the
// Engine, step by step, recording each step before the next so that a retry
// (by the caller, or by Cloud Tasks) resumes where the last attempt stopped
// and never publishes twice. See the README for the job states.
package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/store"
)

// Limits from Threads' documentation.
const (
	MaxTextBytes     = 500
	MaxLinks         = 5
	MinCarouselItems = 2
	MaxCarouselItems = 20
	MinPollOptions   = 2
	MaxPollOptions   = 4
	MaxPollOption    = 25 // characters per option
	MaxAltText       = 1000
	MaxTopicTag      = 50
	MaxIdempotentKey = 255
	MaxLongText      = 10000 // characters of a text attachment
	MaxSpoilers      = 10
	MinThreadParts   = 2
	MaxThreadParts   = 20
	MaxGIFID         = 128
	// MaxScheduleAhead is how far ahead a post may be scheduled: Cloud
	// Tasks' limit on a task's schedule time.
	MaxScheduleAhead = 30 * 24 * time.Hour
)

// Validation error codes (HTTP 400).
const (
	CodeEmptyPost          = "empty_post"
	CodeTextTooLong        = "text_too_long"
	CodeTooManyLinks       = "too_many_links"
	CodeConflictingFields  = "conflicting_fields"
	CodeInvalidMediaURL    = "invalid_media_url"
	CodeInvalidCarousel    = "invalid_carousel"
	CodeInvalidPoll        = "invalid_poll"
	CodeInvalidReplyCtrl   = "invalid_reply_control"
	CodeInvalidTopicTag    = "invalid_topic_tag"
	CodeInvalidLink        = "invalid_link_attachment"
	CodeInvalidID          = "invalid_id"
	CodeInvalidAltText     = "invalid_alt_text"
	CodeInvalidIdempotency = "invalid_idempotency_key"
	CodeInvalidLongText    = "invalid_long_text"
	CodeInvalidTextStyles  = "invalid_text_styles"
	CodeInvalidSpoilers    = "invalid_spoilers"
	CodeInvalidGIF         = "invalid_gif"
	CodeInvalidCountry     = "invalid_country_code"
	CodeInvalidThread      = "invalid_thread"
	CodeInvalidPublishAt   = "invalid_publish_at"
)

// TextStyles are the accepted longTextStyles[].styles values.
var TextStyles = []string{"bold", "italic", "highlight", "underline", "strikethrough"}

// GIFProviders are the accepted gif.provider values.
var GIFProviders = []string{"GIPHY"}

// ReplyControls are the accepted replyControl values.
var ReplyControls = []string{"everyone", "accounts_you_follow", "mentioned_only", "parent_post_author_only", "followers_only"}

// Request is thPublish's JSON body.
type Request struct {
	Text           string      `json:"text,omitempty"`
	ImageURL       string      `json:"imageUrl,omitempty"`
	VideoURL       string      `json:"videoUrl,omitempty"`
	AltText        string      `json:"altText,omitempty"`
	Media          []MediaItem `json:"media,omitempty"`
	ReplyToID      string      `json:"replyToId,omitempty"`
	QuotePostID    string      `json:"quotePostId,omitempty"`
	ReplyControl   string      `json:"replyControl,omitempty"`
	LinkAttachment string      `json:"linkAttachment,omitempty"`
	TopicTag       string      `json:"topicTag,omitempty"`
	Poll           *Poll       `json:"poll,omitempty"`
	// LongText is a text attachment: long-form text under the post.
	LongText       string      `json:"longText,omitempty"`
	LongTextLink   string      `json:"longTextLink,omitempty"`
	LongTextStyles []TextStyle `json:"longTextStyles,omitempty"`
	// Spoilers hide ranges of the text; SpoilerMedia blurs the media.
	Spoilers     []TextRange `json:"spoilers,omitempty"`
	SpoilerMedia bool        `json:"spoilerMedia,omitempty"`
	// Ghost posts are archived by Threads after 24 hours.
	Ghost bool `json:"ghost,omitempty"`
	GIF   *GIF `json:"gif,omitempty"`
	// AllowlistedCountryCodes limits who sees the post (ISO 3166-1 alpha-2).
	AllowlistedCountryCodes []string `json:"allowlistedCountryCodes,omitempty"`
	// Thread publishes a reply chain: each part replies to the one before.
	// The post's other fields go with the first part.
	Thread []string `json:"thread,omitempty"`
	// Split turns a text over the limit into a reply chain; NumberParts
	// suffixes each part with " (i/n)".
	Split       bool `json:"split,omitempty"`
	NumberParts bool `json:"numberParts,omitempty"`
	// PublishAt schedules the post (RFC 3339).
	PublishAt string `json:"publishAt,omitempty"`

	AccountID      string `json:"accountId,omitempty"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// TextRange is a range of characters (Unicode code points) of a text.
type TextRange struct {
	Offset int `json:"offset"`
	Length int `json:"length"`
}

// TextStyle styles a range of the long text.
type TextStyle struct {
	Offset int      `json:"offset"`
	Length int      `json:"length"`
	Styles []string `json:"styles"`
}

// GIF is a GIF attached to a text post, by its provider's id.
type GIF struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
}

// MediaItem is one carousel item.
type MediaItem struct {
	Type    string `json:"type"` // "image" or "video"
	URL     string `json:"url"`
	AltText string `json:"altText,omitempty"`
}

// Poll is a poll attached to a text post.
type Poll struct {
	Options []string `json:"options"`
}

// Kind is what a request publishes.
type Kind string

// Kinds of post.
const (
	KindText     Kind = "TEXT"
	KindImage    Kind = "IMAGE"
	KindVideo    Kind = "VIDEO"
	KindCarousel Kind = "CAROUSEL"
)

// Kind reports what the (valid) request publishes.
func (r *Request) Kind() Kind {
	switch {
	case len(r.Media) > 0:
		return KindCarousel
	case r.ImageURL != "":
		return KindImage
	case r.VideoURL != "":
		return KindVideo
	}
	return KindText
}

func bad(code, format string, args ...any) error {
	return httpx.Errorf(http.StatusBadRequest, code, format, args...)
}

var idRe = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// Validate checks everything that can be checked without Threads. The
// error is an *httpx.Error with a precise code.
func (r *Request) Validate() error {
	_, err := r.Check()
	return err
}

// Check is Validate that also returns the request's parts (see Parts), so
// that a long text is split only once.
func (r *Request) Check() ([]string, error) {
	if r.Text == "" && r.ImageURL == "" && r.VideoURL == "" && len(r.Media) == 0 && len(r.Thread) == 0 {
		return nil, bad(CodeEmptyPost, "a post needs text, thread, imageUrl, videoUrl or media")
	}
	if r.Text != "" && blank(r.Text) {
		// Threads refuses it, and split would trim it to no parts at all.
		return nil, bad(CodeEmptyPost, "text is only white space")
	}
	if !utf8.ValidString(r.Text) {
		return nil, bad(CodeTextTooLong, "text is not valid UTF-8")
	}
	if n := len(r.Text); n > MaxTextBytes && !r.Split {
		return nil, bad(CodeTextTooLong, "text is %d bytes of UTF-8; Threads allows %d (or set split to post it as a thread)", n, MaxTextBytes)
	}

	media := 0
	for _, set := range []bool{r.ImageURL != "", r.VideoURL != "", len(r.Media) > 0} {
		if set {
			media++
		}
	}
	if media > 1 {
		return nil, bad(CodeConflictingFields, "use only one of imageUrl, videoUrl and media")
	}
	if r.AltText != "" && r.ImageURL == "" && r.VideoURL == "" {
		return nil, bad(CodeConflictingFields, "altText describes imageUrl or videoUrl; carousel items carry their own altText")
	}
	if r.ReplyToID != "" && r.QuotePostID != "" {
		return nil, bad(CodeConflictingFields, "a post cannot both reply (replyToId) and quote (quotePostId)")
	}
	if r.LinkAttachment != "" && media > 0 {
		return nil, bad(CodeConflictingFields, "linkAttachment is for text posts only")
	}
	if r.Poll != nil && media > 0 {
		return nil, bad(CodeConflictingFields, "poll is for text posts only")
	}
	if r.Poll != nil && r.LinkAttachment != "" {
		return nil, bad(CodeConflictingFields, "a post cannot have both a poll and a linkAttachment")
	}

	for _, u := range []struct{ field, value string }{{"imageUrl", r.ImageURL}, {"videoUrl", r.VideoURL}} {
		if u.value != "" && !isHTTPS(u.value) {
			return nil, bad(CodeInvalidMediaURL, "%s must be an absolute https URL", u.field)
		}
	}
	if err := checkAltText("altText", r.AltText); err != nil {
		return nil, err
	}
	if len(r.Media) > 0 {
		if n := len(r.Media); n < MinCarouselItems || n > MaxCarouselItems {
			return nil, bad(CodeInvalidCarousel, "a carousel has %d to %d items, not %d", MinCarouselItems, MaxCarouselItems, n)
		}
		for i, m := range r.Media {
			if m.Type != "image" && m.Type != "video" {
				return nil, bad(CodeInvalidCarousel, "media[%d].type must be \"image\" or \"video\"", i)
			}
			if !isHTTPS(m.URL) {
				return nil, bad(CodeInvalidMediaURL, "media[%d].url must be an absolute https URL", i)
			}
			if err := checkAltText("media[].altText", m.AltText); err != nil {
				return nil, err
			}
		}
	}

	if r.Poll != nil {
		if n := len(r.Poll.Options); n < MinPollOptions || n > MaxPollOptions {
			return nil, bad(CodeInvalidPoll, "a poll has %d to %d options, not %d", MinPollOptions, MaxPollOptions, n)
		}
		seen := map[string]bool{}
		for i, o := range r.Poll.Options {
			t := trimSpace(o)
			if t == "" || utf8.RuneCountInString(t) > MaxPollOption {
				return nil, bad(CodeInvalidPoll, "poll.options[%d] must have 1 to %d characters", i, MaxPollOption)
			}
			if seen[strings.ToLower(t)] {
				return nil, bad(CodeInvalidPoll, "poll options must differ")
			}
			seen[strings.ToLower(t)] = true
		}
		// The poll goes with the post, or with a thread's first part.
		if blank(r.firstText()) {
			return nil, bad(CodeInvalidPoll, "a poll needs text (the question): text, or thread's first part")
		}
	}

	if r.LinkAttachment != "" && !isHTTPURL(r.LinkAttachment) {
		return nil, bad(CodeInvalidLink, "linkAttachment must be an absolute http(s) URL")
	}
	if r.ReplyControl != "" && !slices.Contains(ReplyControls, r.ReplyControl) {
		return nil, bad(CodeInvalidReplyCtrl, "replyControl must be one of %s", strings.Join(ReplyControls, ", "))
	}
	if r.TopicTag != "" {
		n := utf8.RuneCountInString(r.TopicTag)
		if n > MaxTopicTag || strings.ContainsAny(r.TopicTag, ".&") || blank(r.TopicTag) {
			return nil, bad(CodeInvalidTopicTag, "topicTag has 1 to %d characters and no '.' or '&'", MaxTopicTag)
		}
	}
	for _, id := range []struct{ field, value string }{{"replyToId", r.ReplyToID}, {"quotePostId", r.QuotePostID}} {
		if id.value != "" && !idRe.MatchString(id.value) {
			return nil, bad(CodeInvalidID, "%s is not a Threads id", id.field)
		}
	}
	if r.AccountID != "" && !store.ValidAccountID(r.AccountID) {
		return nil, bad(CodeInvalidID, "accountId is not a Threads id")
	}
	if err := r.validateFeatures(); err != nil {
		return nil, err
	}
	parts, err := r.Parts()
	if err != nil {
		return nil, err
	}
	if k := r.IdempotencyKey; k != "" {
		if len(k) > MaxIdempotentKey || strings.IndexFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
			return nil, bad(CodeInvalidIdempotency, "the idempotency key has 1 to %d printable ASCII characters", MaxIdempotentKey)
		}
	}
	return parts, nil
}

func checkAltText(field, s string) error {
	if utf8.RuneCountInString(s) > MaxAltText {
		return bad(CodeInvalidAltText, "%s has at most %d characters", field, MaxAltText)
	}
	return nil
}

// isHTTPS accepts what api/openapi.yaml's HTTPSURL pattern does,
// ^https://[^/?#@\s]+(?:[/?#]\S*)?$, of at most 2048 bytes, and what
// url.Parse takes: the scheme in lower case, a host, no credentials, no
// white space.
func isHTTPS(raw string) bool {
	u, ok := parseURL(raw, "https://")
	return ok && u.User == nil
}

// isHTTPURL accepts what api/openapi.yaml's HTTPURL pattern does,
// ^https?://[^/?#\s]+(?:[/?#]\S*)?$, of at most 2048 bytes, and what
// url.Parse takes.
func isHTTPURL(raw string) bool {
	_, ok := parseURL(raw, "https://", "http://")
	return ok
}

// parseURL parses an absolute URL of at most 2048 bytes that starts with
// one of prefixes (case matters, as in the spec's patterns), has a host and
// holds no white space.
func parseURL(raw string, prefixes ...string) (*url.URL, bool) {
	if len(raw) > 2048 || strings.IndexFunc(raw, isPatternSpace) >= 0 ||
		!slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(raw, p) }) {
		return nil, false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, false
	}
	return u, true
}

// isPatternSpace reports whether r is white space: what \s matches in the
// spec's patterns (JSON Schema patterns are ECMA-262 regular expressions,
// whose \s is Unicode white space and U+FEFF), and U+0085, which
// unicode.IsSpace adds. A value the spec refuses as white space, Check
// refuses too.
func isPatternSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\ufeff'
}

// trimSpace trims s of white space (isPatternSpace) at both ends.
func trimSpace(s string) string { return strings.TrimFunc(s, isPatternSpace) }

// blank reports whether s is empty or only white space (isPatternSpace).
func blank(s string) bool { return trimSpace(s) == "" }

// linkRe finds what Threads counts as links: URLs with a scheme, and
// www. addresses.
var linkRe = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"]+`)

// DistinctLinks returns the distinct links of a post: those in its text and
// its link attachment, compared without case in the host, a trailing slash
// or trailing punctuation.
func DistinctLinks(text string, extra ...string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		s = strings.TrimRight(s, ".,;:!?)]}'")
		k := normaliseLink(s)
		if k == "" || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, s)
	}
	for _, m := range linkRe.FindAllString(text, -1) {
		add(m)
	}
	for _, e := range extra {
		if e != "" {
			add(e)
		}
	}
	return out
}

func normaliseLink(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	host := strings.TrimPrefix(strings.ToLower(u.Host), "www.")
	return host + strings.TrimSuffix(u.EscapedPath(), "/") + "?" + u.RawQuery
}

// Hash is a stable digest of the request's content (without the idempotency
// key), to tell a repeated request from a different one under the same key.
func (r *Request) Hash() string {
	c := *r
	c.IdempotencyKey = ""
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// JobIDFor derives a job id from a caller's idempotency key, scoped to the
// user: the same key from two users names two jobs.
func JobIDFor(uid, key string) string {
	sum := sha256.Sum256([]byte("threads-publish\x00" + uid + "\x00" + key))
	return "k" + hex.EncodeToString(sum[:16])
}
