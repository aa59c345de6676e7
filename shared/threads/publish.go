package threads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Container statuses reported by ContainerStatus.
const (
	// StatusInProgress: Threads is still fetching or processing the media.
	StatusInProgress = "IN_PROGRESS"
	// StatusFinished: the container is ready to be published.
	StatusFinished = "FINISHED"
	// StatusPublished: the container has been published; publishing it
	// again must not be tried.
	StatusPublished = "PUBLISHED"
	// StatusError: processing failed; ErrorMessage says why.
	StatusError = "ERROR"
	// StatusExpired: the container was not published within 24 hours.
	StatusExpired = "EXPIRED"
)

// Media types of ContainerParams.MediaType.
const (
	MediaText     = "TEXT"
	MediaImage    = "IMAGE"
	MediaVideo    = "VIDEO"
	MediaCarousel = "CAROUSEL"
)

// statusFields and limitFields are the fields ContainerStatus and
// PublishingLimit ask for.
const (
	statusFields = "status,error_message"
	limitFields  = "quota_usage,config,reply_quota_usage,reply_config"
)

// PollAttachment is a container's poll_attachment: 2 to 4 options. OptionA
// and OptionB are required; OptionD needs OptionC. It is sent as the JSON
// object {"option_a":..,"option_b":..,"option_c"?:..,"option_d"?:..}.
type PollAttachment struct {
	OptionA string `json:"option_a"`
	OptionB string `json:"option_b"`
	OptionC string `json:"option_c,omitempty"`
	OptionD string `json:"option_d,omitempty"`
}

// ContainerParams are the fields of POST /v1.0/{user-id}/threads, which
// creates a media container. Empty fields are not sent.
type ContainerParams struct {
	// MediaType is media_type: MediaText, MediaImage, MediaVideo or
	// MediaCarousel. It is required.
	MediaType string
	// Text is text: at most 500 UTF-8 bytes.
	Text string
	// ImageURL is image_url, a public URL that Threads downloads.
	ImageURL string
	// VideoURL is video_url, a public URL that Threads downloads.
	VideoURL string
	// AltText is alt_text, for images and videos.
	AltText string
	// IsCarouselItem sends is_carousel_item=true: the container is a child
	// of a carousel, not a post of its own.
	IsCarouselItem bool
	// Children are the child container ids of a CAROUSEL, sent as
	// children=id1,id2,...
	Children []string
	// ReplyToID is reply_to_id: the post this one replies to.
	ReplyToID string
	// QuotePostID is quote_post_id: the post this one quotes.
	QuotePostID string
	// ReplyControl is reply_control, such as "everyone" or
	// "accounts_you_follow".
	ReplyControl string
	// LinkAttachment is link_attachment (text posts only).
	LinkAttachment string
	// TopicTag is topic_tag.
	TopicTag string
	// Poll is poll_attachment (text posts only, not with a link), sent as
	// JSON.
	Poll *PollAttachment
	// TextAttachment is text_attachment (text posts only, not with a poll):
	// long-form text under the post, sent as JSON.
	TextAttachment *TextAttachment
	// TextEntities is text_entities: spoiler ranges of Text, sent as JSON.
	TextEntities []TextEntity
	// IsSpoilerMedia sends is_spoiler_media=true (IMAGE, VIDEO, CAROUSEL).
	IsSpoilerMedia bool
	// IsGhostPost sends is_ghost_post=true (text only, not a reply).
	IsGhostPost bool
	// GIF is gif_attachment (text posts only), sent as JSON. Its shape is
	// from secondary sources (unconfirmed by Meta's reference).
	GIF *GIFAttachment
	// AllowlistedCountryCodes is allowlisted_country_codes, sent as a
	// comma-separated list of ISO 3166-1 alpha-2 codes.
	AllowlistedCountryCodes []string
	// Extra holds further container fields, sent as they are, for features
	// this struct does not name (text_attachment, text_entities,
	// is_spoiler_media, auto_publish_text, ...). A key may not be one of the
	// fields above or access_token; an entry with an empty value is not
	// sent. With auto_publish_text=true a TEXT container is published at
	// creation and CreateContainer returns the post's media id: there is
	// then no container whose status tells whether a lost answer published.
	Extra map[string]string
}

// reservedFields are the form fields that ContainerParams.Extra may not set.
var reservedFields = map[string]bool{
	"access_token": true, "media_type": true, "text": true, "image_url": true,
	"video_url": true, "alt_text": true, "is_carousel_item": true, "children": true,
	"reply_to_id": true, "quote_post_id": true, "reply_control": true,
	"link_attachment": true, "topic_tag": true, "poll_attachment": true,
	"text_attachment": true, "text_entities": true, "is_spoiler_media": true,
	"is_ghost_post": true, "gif_attachment": true, "allowlisted_country_codes": true,
}

// TextAttachment is a container's text_attachment: up to 10,000 characters
// of plain text, an optional link and non-overlapping styled ranges.
type TextAttachment struct {
	Plaintext         string        `json:"plaintext"`
	LinkAttachmentURL string        `json:"link_attachment_url,omitempty"`
	Styling           []TextStyling `json:"text_with_styling_info,omitempty"`
}

// TextStyling styles Length characters of a text attachment from Offset.
// Styles are "bold", "italic", "highlight", "underline", "strikethrough".
type TextStyling struct {
	Offset  int      `json:"offset"`
	Length  int      `json:"length"`
	Styling []string `json:"styling_info"`
}

// TextEntity marks a range of the post's text; EntityType is "SPOILER".
type TextEntity struct {
	EntityType string `json:"entity_type"`
	Offset     int    `json:"offset"`
	Length     int    `json:"length"`
}

// GIFAttachment is a GIF by its provider's id; Provider is "GIPHY".
type GIFAttachment struct {
	GIFID    string `json:"gif_id"`
	Provider string `json:"provider"`
}

// form returns the container fields as form values, access_token excluded.
func (p ContainerParams) form() (url.Values, error) {
	if p.MediaType == "" {
		return nil, errors.New("empty media type")
	}
	f := url.Values{}
	set := func(k, v string) {
		if v != "" {
			f.Set(k, v)
		}
	}
	flag := func(k string, on bool) {
		if on {
			f.Set(k, "true")
		}
	}
	// list sends items comma-separated; an item that is empty or holds a
	// comma would change the list's meaning.
	list := func(k, what string, items []string) error {
		for _, it := range items {
			if it == "" || strings.Contains(it, ",") {
				return fmt.Errorf("empty %s or %s with a comma", what, what)
			}
		}
		set(k, strings.Join(items, ","))
		return nil
	}
	set("media_type", p.MediaType)
	set("text", p.Text)
	set("image_url", p.ImageURL)
	set("video_url", p.VideoURL)
	set("alt_text", p.AltText)
	flag("is_carousel_item", p.IsCarouselItem)
	if err := list("children", "child id", p.Children); err != nil {
		return nil, err
	}
	set("reply_to_id", p.ReplyToID)
	set("quote_post_id", p.QuotePostID)
	set("reply_control", p.ReplyControl)
	set("link_attachment", p.LinkAttachment)
	set("topic_tag", p.TopicTag)
	if p.Poll != nil {
		if p.Poll.OptionA == "" || p.Poll.OptionB == "" {
			return nil, errors.New("poll needs option A and option B")
		}
		if p.Poll.OptionD != "" && p.Poll.OptionC == "" {
			return nil, errors.New("poll option D without option C")
		}
		js, err := json.Marshal(p.Poll)
		if err != nil {
			return nil, errors.New("poll cannot be encoded")
		}
		f.Set("poll_attachment", string(js))
	}
	for _, j := range []struct {
		key   string
		value any
		set   bool
	}{
		{"text_attachment", p.TextAttachment, p.TextAttachment != nil},
		{"text_entities", p.TextEntities, len(p.TextEntities) > 0},
		{"gif_attachment", p.GIF, p.GIF != nil},
	} {
		if !j.set {
			continue
		}
		js, err := json.Marshal(j.value)
		if err != nil {
			return nil, fmt.Errorf("%s cannot be encoded", j.key)
		}
		f.Set(j.key, string(js))
	}
	flag("is_spoiler_media", p.IsSpoilerMedia)
	flag("is_ghost_post", p.IsGhostPost)
	if err := list("allowlisted_country_codes", "country code", p.AllowlistedCountryCodes); err != nil {
		return nil, err
	}
	for k, v := range p.Extra {
		if k == "" || reservedFields[k] {
			return nil, fmt.Errorf("extra field %q is not allowed", k)
		}
		set(k, v)
	}
	return f, nil
}

// CreateContainer creates a media container for userID (a Threads user id,
// or "me"): POST {graph}/v1.0/{userID}/threads with a form body holding
// access_token and the fields of p. It returns the container's id, to pass
// to ContainerStatus and Publish (with auto_publish_text=true in p.Extra,
// the published post's media id instead).
//
// Creating a container has no visible effect, so repeating it after an
// unknown outcome (see IsUnknownOutcome) is harmless, unless p asks for
// auto_publish_text.
func (c *Client) CreateContainer(ctx context.Context, userID, token string, p ContainerParams) (string, error) {
	const opName = http.MethodPost + " /" + apiVersion + "/{user-id}/threads"
	if err := checkArgs(opName, arg{"user ID", userID}, arg{"access token", token}); err != nil {
		return "", err
	}
	form, err := p.form()
	if err != nil {
		return "", notSent(fmt.Errorf("threads: %s: %w", opName, err))
	}
	form.Set("access_token", token)
	path := "/" + apiVersion + "/" + url.PathEscape(userID) + "/threads"
	return c.postForID(ctx, path, form, redactor{token})
}

// Publish publishes a FINISHED container: POST
// {graph}/v1.0/{userID}/threads_publish with the form fields
// creation_id=containerID and access_token. It returns the post's media id.
//
// Publishing too early fails with an *APIError whose MediaNotReady is true:
// wait until ContainerStatus reports FINISHED and publish the same container
// again. When IsUnknownOutcome(err) is true the post may have been
// published: read ContainerStatus before trying again (PUBLISHED means it
// was), never retry blindly.
func (c *Client) Publish(ctx context.Context, userID, token, containerID string) (string, error) {
	const opName = http.MethodPost + " /" + apiVersion + "/{user-id}/threads_publish"
	if err := checkArgs(opName, arg{"user ID", userID}, arg{"access token", token}, arg{"container ID", containerID}); err != nil {
		return "", err
	}
	form := url.Values{"creation_id": {containerID}, "access_token": {token}}
	path := "/" + apiVersion + "/" + url.PathEscape(userID) + "/threads_publish"
	return c.postForID(ctx, path, form, redactor{token})
}

// postForID sends a form and returns the "id" of the answer.
func (c *Client) postForID(ctx context.Context, path string, form url.Values, red redactor) (string, error) {
	var out struct {
		ID flexID `json:"id"`
	}
	if err := c.send(ctx, http.MethodPost, path, nil, form, red, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("threads: %s %s: %w: no id", http.MethodPost, path, ErrMalformedResponse)
	}
	return string(out.ID), nil
}

// ContainerStatus is the publishing status of a media container.
type ContainerStatus struct {
	// ID is the container's id.
	ID string
	// Status is StatusInProgress, StatusFinished, StatusPublished,
	// StatusError or StatusExpired (or a status newer than this package).
	Status string
	// ErrorMessage says why processing failed, such as
	// "FAILED_DOWNLOADING_VIDEO"; usually empty unless Status is
	// StatusError.
	ErrorMessage string
}

// ContainerStatus reads a container's status: GET
// {graph}/v1.0/{containerID}?fields=status,error_message&access_token=...
// Asking it of a published post's media id (not a container) is an error
// (code 100). Meta advises polling about once a minute, for 5 minutes at
// most.
func (c *Client) ContainerStatus(ctx context.Context, token, containerID string) (*ContainerStatus, error) {
	const opName = http.MethodGet + " /" + apiVersion + "/{container-id}"
	if err := checkArgs(opName, arg{"access token", token}, arg{"container ID", containerID}); err != nil {
		return nil, err
	}
	path := "/" + apiVersion + "/" + url.PathEscape(containerID)
	query := url.Values{"fields": {statusFields}, "access_token": {token}}
	var out struct {
		ID           flexID `json:"id"`
		Status       string `json:"status"`
		ErrorMessage string `json:"error_message"`
	}
	if err := c.send(ctx, http.MethodGet, path, query, nil, redactor{token}, &out); err != nil {
		return nil, err
	}
	if out.Status == "" {
		return nil, fmt.Errorf("threads: %s %s: %w: no status", http.MethodGet, path, ErrMalformedResponse)
	}
	st := &ContainerStatus{ID: string(out.ID), Status: out.Status, ErrorMessage: out.ErrorMessage}
	if st.ID == "" {
		st.ID = containerID
	}
	return st, nil
}

// PublishingLimit is a user's API publishing usage over the rolling window
// (normally 250 posts and 1000 replies per 86400 seconds).
type PublishingLimit struct {
	// QuotaUsage is how many posts were published in the window.
	QuotaUsage int64
	// QuotaTotal is how many posts the window allows.
	QuotaTotal int64
	// QuotaDuration is the window's length in seconds.
	QuotaDuration int64
	// ReplyQuotaUsage is how many replies were published in the window.
	ReplyQuotaUsage int64
	// ReplyQuotaTotal is how many replies the window allows; 0 if Threads
	// did not say.
	ReplyQuotaTotal int64
	// ReplyQuotaDuration is the reply window's length in seconds; 0 if
	// Threads did not say.
	ReplyQuotaDuration int64
}

// PublishingLimit reads a user's publishing quota: GET
// {graph}/v1.0/{userID}/threads_publishing_limit?fields=quota_usage,config,reply_quota_usage,reply_config&access_token=...
// An answer without "data" or without config.quota_total wraps
// ErrMalformedResponse; the reply fields are 0 when absent.
func (c *Client) PublishingLimit(ctx context.Context, userID, token string) (*PublishingLimit, error) {
	const opName = http.MethodGet + " /" + apiVersion + "/{user-id}/threads_publishing_limit"
	if err := checkArgs(opName, arg{"user ID", userID}, arg{"access token", token}); err != nil {
		return nil, err
	}
	path := "/" + apiVersion + "/" + url.PathEscape(userID) + "/threads_publishing_limit"
	query := url.Values{"fields": {limitFields}, "access_token": {token}}
	type config struct {
		QuotaTotal    flexInt64 `json:"quota_total"`
		QuotaDuration flexInt64 `json:"quota_duration"`
	}
	var out struct {
		Data []struct {
			QuotaUsage      flexInt64 `json:"quota_usage"`
			Config          *config   `json:"config"`
			ReplyQuotaUsage flexInt64 `json:"reply_quota_usage"`
			ReplyConfig     *config   `json:"reply_config"`
		} `json:"data"`
	}
	if err := c.send(ctx, http.MethodGet, path, query, nil, redactor{token}, &out); err != nil {
		return nil, err
	}
	if len(out.Data) == 0 || out.Data[0].Config == nil || out.Data[0].Config.QuotaTotal <= 0 {
		return nil, fmt.Errorf("threads: %s %s: %w: no data or no quota_total", http.MethodGet, path, ErrMalformedResponse)
	}
	d := out.Data[0]
	lim := &PublishingLimit{
		QuotaUsage:      int64(d.QuotaUsage),
		QuotaTotal:      int64(d.Config.QuotaTotal),
		QuotaDuration:   int64(d.Config.QuotaDuration),
		ReplyQuotaUsage: int64(d.ReplyQuotaUsage),
	}
	if d.ReplyConfig != nil {
		lim.ReplyQuotaTotal = int64(d.ReplyConfig.QuotaTotal)
		lim.ReplyQuotaDuration = int64(d.ReplyConfig.QuotaDuration)
	}
	return lim, nil
}

// RefreshToken exchanges a long-lived token for a new one, valid for about
// 60 days from now: GET
// {graph}/refresh_access_token?grant_type=th_refresh_token&access_token=...
// Threads allows it only for a token at least 24 hours old and not expired;
// an expired token cannot be refreshed (code 190: the user must authorize
// again).
func (c *Client) RefreshToken(ctx context.Context, token string) (*LongLivedToken, error) {
	const path = "/refresh_access_token"
	op := http.MethodGet + " " + path
	if err := checkArgs(op, arg{"access token", token}); err != nil {
		return nil, err
	}
	query := url.Values{"grant_type": {"th_refresh_token"}, "access_token": {token}}
	var out struct {
		AccessToken string    `json:"access_token"`
		TokenType   string    `json:"token_type"`
		ExpiresIn   flexInt64 `json:"expires_in"`
	}
	if err := c.send(ctx, http.MethodGet, path, query, nil, redactor{token}, &out); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, fmt.Errorf("threads: %s: %w: no access_token", op, ErrMalformedResponse)
	}
	return &LongLivedToken{AccessToken: out.AccessToken, TokenType: out.TokenType, ExpiresIn: int64(out.ExpiresIn)}, nil
}

// arg is an argument a call needs: its name and value.
type arg struct{ name, value string }

// checkArgs reports the first of args that is empty, as an error that
// IsUnknownOutcome knows was not sent.
func checkArgs(op string, args ...arg) error {
	for _, a := range args {
		if a.value == "" {
			return notSent(fmt.Errorf("threads: %s: empty %s", op, a.name))
		}
	}
	return nil
}

// send is do for the publishing calls: every error found before the
// request is handed to the HTTP client (no context, missing or unusable
// GraphURL, context already done) is marked as not sent, so that any other
// error arises after the request was handed to the HTTP client. The request
// is built once, and its URL is the one checked.
func (c *Client) send(ctx context.Context, method, path string, query, form url.Values, red redactor, out any) error {
	op := method + " " + path
	if ctx == nil {
		return notSent(fmt.Errorf("threads: %s: nil context", op))
	}
	req, err := c.newRequest(ctx, op, method, path, query, form)
	if err != nil {
		return notSent(red.wrap(err))
	}
	if u := req.URL; (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return notSent(fmt.Errorf("threads: %s: bad GraphURL: want an http or https URL with a host", op))
	}
	if err := ctx.Err(); err != nil {
		return notSent(fmt.Errorf("threads: %s: %w", op, err))
	}
	return c.roundTrip(req, op, red, out)
}

// notSentError marks an error found before a request was sent.
type notSentError struct{ err error }

func notSent(err error) error         { return &notSentError{err: err} }
func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// IsUnknownOutcome reports whether err leaves it unknown whether the request
// reached Threads and took effect: for Publish (or CreateContainer with
// auto_publish_text), whether the post was published. Such a call must not
// be repeated blindly, since that can post twice: read the container's
// status first (PUBLISHED means the first call published).
//
// It is true for:
//   - transport errors after the request was handed to the HTTP client:
//     timeouts (http.Client.Timeout, a context deadline or cancellation
//     while the request was in flight), a connection reset or closed (EOF)
//     before the whole answer arrived, an answer body cut short;
//   - an *APIError with HTTPStatus 500 or more: Threads may have acted
//     before failing;
//   - a 2xx answer whose body could not be used (ErrMalformedResponse):
//     Threads accepted the request, but its answer is lost;
//   - any error that did not come from this package's calls: the predicate
//     errs on the side of "may have happened", the safe side against
//     duplicates.
//
// It is false for nil and for:
//   - an *APIError with HTTPStatus below 500 (4xx, or Threads' error JSON
//     in a 2xx): Threads answered and refused, so the request had no effect;
//   - errors detected before sending: an empty argument, invalid
//     ContainerParams, a missing or unusable Client.GraphURL, a context
//     already done when the call began;
//   - a failure to connect (a *net.OpError whose Op is "dial", such as
//     connection refused or an unknown host): no byte of the request left.
//     Go's transport replays a POST on a new connection only when nothing
//     of it was written on the old one, so a dial error never hides a
//     request that was sent.
func IsUnknownOutcome(err error) bool {
	if err == nil {
		return false
	}
	if apiErr, ok := errors.AsType[*APIError](err); ok {
		return apiErr.HTTPStatus >= 500
	}
	if _, ok := errors.AsType[*notSentError](err); ok {
		return false
	}
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Op == "dial" {
		return false
	}
	return true
}
