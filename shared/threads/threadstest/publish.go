package threadstest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Endpoint names of the publishing calls and of refresh, for Fail, FailNext,
// DropAnswerNext and Calls.
const (
	EndpointCreate  = "POST /v1.0/{user}/threads"
	EndpointPublish = "POST /v1.0/{user}/threads_publish"
	EndpointStatus  = "GET /v1.0/{container}"
	EndpointLimit   = "GET /v1.0/{user}/threads_publishing_limit"
	EndpointRefresh = "GET /refresh_access_token"
)

// Publishing quotas, as threads_publishing_limit reports them.
const (
	// QuotaTotal is how many posts a user may publish per QuotaDuration.
	QuotaTotal = 250
	// ReplyQuotaTotal is how many replies a user may publish per
	// QuotaDuration.
	ReplyQuotaTotal = 1000
	// QuotaDuration is the quota window in seconds.
	QuotaDuration = 86400
)

// Container statuses.
const (
	statusInProgress = "IN_PROGRESS"
	statusFinished   = "FINISHED"
	statusPublished  = "PUBLISHED"
	statusError      = "ERROR"
	statusExpired    = "EXPIRED"
)

// Post is a post the fake published.
type Post struct {
	// MediaID is the post's id, as answered by threads_publish.
	MediaID string
	// ContainerID is the container it was published from (for
	// auto_publish_text, the container created internally).
	ContainerID string
	// MediaType and Text are the container's media_type and text.
	MediaType, Text string
	// Children are the child container ids of a carousel.
	Children []string
	// Params are every parameter the container was created with,
	// access_token excluded.
	Params url.Values

	// The fields below are Params' newer features, decoded (they were
	// checked at creation).

	// ReplyToID is reply_to_id: the media id of the post this one replies
	// to, "" if none.
	ReplyToID string
	// TextAttachment is text_attachment, nil if none.
	TextAttachment *TextAttachment
	// TextEntities are text_entities (spoiler ranges of Text), sorted by
	// offset.
	TextEntities []TextEntity
	// SpoilerMedia is is_spoiler_media=true: the media are blurred.
	SpoilerMedia bool
	// GhostPost is is_ghost_post=true.
	GhostPost bool
	// GIF is gif_attachment, nil if none.
	GIF *GIFAttachment
	// AllowlistedCountryCodes are allowlisted_country_codes, in either
	// reading (comma-separated or JSON), as given.
	AllowlistedCountryCodes []string
}

// container is a media container of the fake.
type container struct {
	id, userID, mediaType string
	params                url.Values
	carouselItem          bool
	children              []string
	status, errorMessage  string
	// features are params' newer features, decoded.
	features features
	// pollsLeft is how many more status reads answer IN_PROGRESS; the
	// container then takes finalStatus and finalMessage.
	pollsLeft                 int
	finalStatus, finalMessage string
	mediaID                   string
}

// media is a published post, with its owner.
type media struct {
	userID string
	post   Post
}

// publishing is the fake's publishing state, guarded by Server.mu.
type publishing struct {
	containers map[string]*container
	media      map[string]*media
	published  map[string][]Post // user id → posts, in order
	usage      map[string]int    // user id → quota_usage
	replyUsage map[string]int    // user id → reply_quota_usage
	processing int
	// outcome, if its status is set, is the end of the next container.
	outcomeStatus, outcomeMessage string
	lastID                        int64
}

func newPublishing() publishing {
	return publishing{
		containers: map[string]*container{}, media: map[string]*media{},
		published: map[string][]Post{}, usage: map[string]int{}, replyUsage: map[string]int{},
	}
}

// newID returns a new container or media id, shaped like Meta's.
func (p *publishing) newID() string {
	p.lastID++
	return strconv.FormatInt(17890000000000000+p.lastID, 10)
}

// AddAccount registers a user and returns a new long-lived token for it,
// for tests that skip the OAuth dance.
func (s *Server) AddAccount(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "LONG-" + random()
	s.long[tok] = u
	s.users[u.ID] = u
	return tok
}

// Published returns the posts published for a user, oldest first: what
// exactly-once tests assert on. The result is a copy.
func (s *Server) Published(userID string) []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Post
	for _, p := range s.pub.published[userID] {
		out = append(out, copyPost(p))
	}
	return out
}

// SetProcessing makes each new IMAGE or VIDEO container (carousel items
// included) report IN_PROGRESS for polls status reads before it finishes.
// TEXT and CAROUSEL containers finish at once. The default is 0: every
// container is FINISHED (or ends as SetContainerOutcome says) at once.
func (s *Server) SetProcessing(polls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pub.processing = max(polls, 0)
}

// SetContainerOutcome makes the next container created (of any type) end in
// status "ERROR" or "EXPIRED", with errorMessage as its error_message (such
// as "FAILED_DOWNLOADING_VIDEO"), instead of FINISHED; after any processing
// polls set by SetProcessing. An empty status cancels it. Any other status
// panics.
func (s *Server) SetContainerOutcome(status, errorMessage string) {
	if status != "" && status != statusError && status != statusExpired {
		panic(fmt.Sprintf("threadstest: SetContainerOutcome: status %q is not ERROR or EXPIRED", status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pub.outcomeStatus, s.pub.outcomeMessage = status, errorMessage
}

// FailNext makes the next n calls to endpoint answer f, without any effect;
// the calls after that behave normally. It replaces an earlier FailNext for
// the same endpoint.
func (s *Server) FailNext(endpoint string, n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.failNext, endpoint)
		return
	}
	s.failNext[endpoint] = failNext{n: n, f: f}
}

// DropAnswerNext makes the next n calls to endpoint take effect (a container
// is created, a post really published), and then close the connection
// without an answer, as when an answer is lost after Threads acted.
func (s *Server) DropAnswerNext(endpoint string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext[endpoint] = max(n, 0)
}

// SetLatency delays every answer by d, after the request took effect: a
// client that gives up sooner gets no answer, though the effect happened.
// The wait ends early if the client goes away or the fake is closed.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetQuotaUsage sets how many posts the user has published in the current
// window (quota_usage); each publish adds one. At QuotaTotal, publishing
// answers code 4.
func (s *Server) SetQuotaUsage(userID string, used int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pub.usage[userID] = used
}

// RevokeToken revokes a token, as when the user removes the app: every later
// call with it answers code 190 (subcode 458).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[token] = true
}

func copyPost(p Post) Post {
	p.Children = slices.Clone(p.Children)
	p.Params = cloneValues(p.Params)
	if p.TextAttachment != nil {
		ta := *p.TextAttachment
		ta.Styling = slices.Clone(ta.Styling)
		for i := range ta.Styling {
			ta.Styling[i].Styles = slices.Clone(ta.Styling[i].Styles)
		}
		p.TextAttachment = &ta
	}
	p.TextEntities = slices.Clone(p.TextEntities)
	if p.GIF != nil {
		gif := *p.GIF
		p.GIF = &gif
	}
	p.AllowlistedCountryCodes = slices.Clone(p.AllowlistedCountryCodes)
	return p
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// Errors the publishing endpoints answer.
var (
	errMediaNotFound = apiError{status: http.StatusBadRequest, code: 24, subcode: 4279009,
		msg: "Media Not Found", userTitle: "Media Not Found", userMsg: "The requested resource does not exist."}
	errQuota = apiError{status: http.StatusBadRequest, code: 4,
		msg: "Application request limit reached: publishing limit of the user reached"}
)

// badParam is a code 100 error answer.
func badParam(format string, args ...any) apiError {
	return apiError{status: http.StatusBadRequest, code: 100, typ: "THApiException",
		msg: "(#100) " + fmt.Sprintf(format, args...)}
}

// noReplyTarget is the answer to a reply_to_id that names no published
// post: the Graph API's answer for an object that does not exist.
func noReplyTarget(id string) apiError {
	return apiError{status: http.StatusBadRequest, code: 100, subcode: 33, typ: "THApiException",
		msg: fmt.Sprintf("Param reply_to_id: Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id)}
}

// noObject is the Graph API's answer for an id that does not exist or is
// not the user's.
func noObject(method, id string) apiError {
	return apiError{status: http.StatusBadRequest, code: 100, subcode: 33, typ: "THApiException",
		msg: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
			strings.ToLower(method), id)}
}

// checked is a request that passed checkRequest.
type checked struct {
	user   User
	params url.Values // every parameter but access_token, one value each
}

// checkRequest checks the parameters and the token of a request to a
// publishing endpoint or refresh: every parameter at most once and not
// empty, none outside allowed, every one of required present; the token
// valid; {user}, if in the pattern, the token's user or "me". On failure it
// writes the error answer and reports false.
func (s *Server) checkRequest(w http.ResponseWriter, r *http.Request, allowed, required []string) (checked, bool) {
	fail := func(e apiError) (checked, bool) {
		e.write(w)
		return checked{}, false
	}
	if r.Method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return fail(badParam("expected an application/x-www-form-urlencoded body, not %s", ct))
		}
	}
	if err := r.ParseForm(); err != nil {
		return fail(badParam("invalid form or query"))
	}
	keys := slices.Sorted(maps.Keys(r.Form))
	for _, k := range keys {
		if len(r.Form[k]) != 1 {
			return fail(badParam("Param %s given more than once", k))
		}
		if r.Form[k][0] == "" {
			return fail(badParam("Param %s is empty", k))
		}
	}
	tok := r.Form.Get("access_token")
	if tok == "" {
		return fail(badParam("The parameter access_token is required"))
	}
	s.mu.Lock()
	u, ok := s.userOfToken(tok)
	revoked := s.revoked[tok]
	s.mu.Unlock()
	switch {
	case revoked:
		return fail(apiError{status: http.StatusBadRequest, code: 190, subcode: 458,
			msg: "Error validating access token: The user has not authorized application."})
	case !ok:
		return fail(apiError{status: http.StatusBadRequest, code: 190, msg: "Invalid OAuth access token - Cannot parse access token"})
	}
	if pu := r.PathValue("user"); pu != "" && pu != u.ID && pu != "me" {
		return fail(noObject(r.Method, pu))
	}
	for _, k := range keys {
		if k != "access_token" && !slices.Contains(allowed, k) {
			return fail(badParam("Param %s is not a valid parameter", k))
		}
	}
	for _, k := range required {
		if r.Form.Get(k) == "" {
			return fail(badParam("The parameter %s is required", k))
		}
	}
	params := cloneValues(r.Form)
	delete(params, "access_token")
	return checked{user: u, params: params}, true
}

// writeJSON writes a 200 answer.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// createParams are the parameters of container creation.
var createParams = []string{
	"media_type", "text", "image_url", "video_url", "alt_text", "is_carousel_item", "children",
	"reply_to_id", "quote_post_id", "reply_control", "link_attachment", "topic_tag", "poll_attachment",
	"auto_publish_text", "text_attachment", "text_entities", "is_spoiler_media", "is_ghost_post",
	"gif_attachment", "allowlisted_country_codes", "location_id", "enable_reply_approvals",
}

// Parameter value sets.
var (
	boolParams    = []string{"is_carousel_item", "auto_publish_text", "is_spoiler_media", "is_ghost_post", "enable_reply_approvals"}
	textOnly      = []string{"link_attachment", "poll_attachment", "text_attachment", "gif_attachment", "auto_publish_text"}
	replyControls = []string{"everyone", "accounts_you_follow", "mentioned_only", "parent_post_author_only", "followers_only"}
	linkPattern   = regexp.MustCompile(`https?://[^\s]+`)
)

const (
	maxTextBytes = 500
	maxLinks     = 5
	minChildren  = 2
	maxChildren  = 20
)

// createContainer is POST /v1.0/{user}/threads.
func (s *Server) createContainer(w http.ResponseWriter, r *http.Request) {
	req, ok := s.checkRequest(w, r, createParams, []string{"media_type"})
	if !ok {
		return
	}
	p := req.params
	feats, e, bad := validateContainer(p)
	if bad {
		e.write(w)
		return
	}
	var children []string
	if p.Get("children") != "" {
		children = strings.Split(p.Get("children"), ",")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range children {
		c, ok := s.pub.containers[id]
		switch {
		case !ok || c.userID != req.user.ID:
			badParam("Invalid children: container %s does not exist", id).write(w)
			return
		case !c.carouselItem:
			badParam("Invalid children: container %s is not a carousel item", id).write(w)
			return
		case c.status == statusInProgress:
			errMediaNotFound.write(w)
			return
		case c.status != statusFinished:
			badParam("Invalid children: container %s is %s", id, c.status).write(w)
			return
		}
	}

	// A reply answers a published post, of any user.
	if id := p.Get("reply_to_id"); id != "" {
		if _, ok := s.pub.media[id]; !ok {
			noReplyTarget(id).write(w)
			return
		}
	}

	c := &container{
		id: s.pub.newID(), userID: req.user.ID, mediaType: p.Get("media_type"), params: p,
		carouselItem: p.Get("is_carousel_item") == "true", children: children,
		finalStatus: statusFinished, features: feats,
	}
	if s.pub.outcomeStatus != "" {
		c.finalStatus, c.finalMessage = s.pub.outcomeStatus, s.pub.outcomeMessage
		s.pub.outcomeStatus, s.pub.outcomeMessage = "", ""
	}
	if c.mediaType == "IMAGE" || c.mediaType == "VIDEO" {
		c.pollsLeft = s.pub.processing
	}
	if c.pollsLeft > 0 {
		c.status = statusInProgress
	} else {
		c.status, c.errorMessage = c.finalStatus, c.finalMessage
	}
	s.pub.containers[c.id] = c

	if p.Get("auto_publish_text") == "true" {
		mediaID, e, bad := s.publishLocked(c)
		if bad {
			e.write(w)
			return
		}
		writeJSON(w, map[string]string{"id": mediaID})
		return
	}
	writeJSON(w, map[string]string{"id": c.id})
}

// validateContainer checks the container parameters that do not depend on
// other containers or posts, and returns the newer features decoded.
func validateContainer(p url.Values) (features, apiError, bool) {
	e, bad := validateParams(p)
	if bad {
		return features{}, e, true
	}
	return validateFeatures(p)
}

// validateParams checks the parameters of validateContainer but the newer
// features' (see validateFeatures).
func validateParams(p url.Values) (apiError, bool) {
	mt := p.Get("media_type")
	has := func(k string) bool { return p.Get(k) != "" }
	for _, k := range boolParams {
		if v := p.Get(k); v != "" && v != "true" && v != "false" {
			return badParam("Param %s must be a boolean", k), true
		}
	}
	if text := p.Get("text"); len(text) > maxTextBytes {
		return badParam("Param text must be at most %d characters long", maxTextBytes), true
	}
	switch mt {
	case "TEXT":
		if !has("text") {
			return badParam("The parameter text is required for TEXT"), true
		}
	case "IMAGE":
		if !has("image_url") {
			return badParam("The parameter image_url is required for IMAGE"), true
		}
	case "VIDEO":
		if !has("video_url") {
			return badParam("The parameter video_url is required for VIDEO"), true
		}
	case "CAROUSEL":
		if !has("children") {
			return badParam("The parameter children is required for CAROUSEL"), true
		}
	default:
		return badParam("Param media_type must be one of TEXT, IMAGE, VIDEO, CAROUSEL"), true
	}
	if has("image_url") && mt != "IMAGE" {
		return badParam("Param image_url is only for IMAGE"), true
	}
	if has("video_url") && mt != "VIDEO" {
		return badParam("Param video_url is only for VIDEO"), true
	}
	if has("children") {
		if mt != "CAROUSEL" {
			return badParam("Param children is only for CAROUSEL"), true
		}
		ids := strings.Split(p.Get("children"), ",")
		if len(ids) < minChildren || len(ids) > maxChildren {
			return badParam("Param children must list %d to %d containers", minChildren, maxChildren), true
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if id == "" || seen[id] {
				return badParam("Param children holds an empty or repeated id"), true
			}
			seen[id] = true
		}
	}
	if p.Get("is_carousel_item") == "true" && mt != "IMAGE" && mt != "VIDEO" {
		return badParam("Param is_carousel_item is only for IMAGE and VIDEO"), true
	}
	for _, k := range textOnly {
		if has(k) && mt != "TEXT" {
			return badParam("Param %s is only for TEXT", k), true
		}
	}
	if rc := p.Get("reply_control"); rc != "" && !slices.Contains(replyControls, rc) {
		return badParam("Param reply_control must be one of %s", strings.Join(replyControls, ", ")), true
	}
	if has("poll_attachment") {
		if has("link_attachment") {
			return badParam("A poll cannot have a link attachment"), true
		}
		if has("text_attachment") {
			return badParam("A poll cannot have a text attachment"), true
		}
		if err := validatePoll(p.Get("poll_attachment")); err != "" {
			return badParam("Param poll_attachment %s", err), true
		}
	}
	return apiError{}, false
}

// ghostExclusive are the parameters a ghost post may not have: text
// spoilers are the only other feature allowed with it (topic_tag and
// reply_control are not features).
var ghostExclusive = []string{"reply_to_id", "quote_post_id", "poll_attachment", "link_attachment", "text_attachment", "gif_attachment"}

// validateFeatures checks the newer features (text_attachment,
// text_entities, is_spoiler_media, is_ghost_post, gif_attachment,
// allowlisted_country_codes) and the link limit, once validateParams
// passed, and returns them decoded.
func validateFeatures(p url.Values) (features, apiError, bool) {
	mt := p.Get("media_type")
	has := func(k string) bool { return p.Get(k) != "" }
	fail := func(format string, args ...any) (features, apiError, bool) {
		return features{}, badParam(format, args...), true
	}
	if p.Get("is_spoiler_media") == "true" && mt != "IMAGE" && mt != "VIDEO" && mt != "CAROUSEL" {
		return fail("Param is_spoiler_media is only for IMAGE, VIDEO and CAROUSEL")
	}
	if p.Get("is_ghost_post") == "true" {
		if mt != "TEXT" {
			return fail("Param is_ghost_post is only for TEXT")
		}
		for _, k := range ghostExclusive {
			if has(k) {
				return fail("A ghost post cannot have %s", k)
			}
		}
	}
	if has("gif_attachment") {
		for _, k := range []string{"poll_attachment", "link_attachment", "text_attachment"} {
			if has(k) {
				return fail("A GIF cannot go with %s", k)
			}
		}
	}
	f, e, bad := parseFeatures(p)
	if bad {
		return features{}, e, true
	}
	attachmentLink := ""
	if f.textAttachment != nil {
		attachmentLink = f.textAttachment.LinkAttachmentURL
	}
	if attachmentLink != "" && has("link_attachment") {
		return fail("Param text_attachment cannot have a link_attachment_url when the post has a link_attachment")
	}
	links := map[string]bool{}
	for _, l := range linkPattern.FindAllString(p.Get("text"), -1) {
		links[l] = true
	}
	for _, l := range []string{p.Get("link_attachment"), attachmentLink} {
		if l != "" {
			links[l] = true
		}
	}
	if len(links) > maxLinks {
		return features{}, apiError{status: http.StatusBadRequest, code: 100, typ: "THApiException",
			msg: "THREADS_API__LINK_LIMIT_EXCEEDED"}, true
	}
	return f, apiError{}, false
}

// validatePoll checks a poll_attachment and says what is wrong with it, ""
// if nothing. It is decoded strictly, as every JSON parameter (strictJSON):
// keys match exactly and none is given twice. A null option is absent.
func validatePoll(js string) string {
	const shape = "must be a JSON object of option_a to option_d"
	v, err := strictJSON(js)
	if err != nil {
		return shape
	}
	obj, err := object(v, nil, []string{"option_a", "option_b", "option_c", "option_d"})
	if err != nil {
		return shape
	}
	opt := map[string]*string{}
	for k, val := range obj {
		if val == nil {
			continue
		}
		s, ok := val.(string)
		if !ok {
			return shape
		}
		opt[k] = &s
	}
	a, b, c, d := opt["option_a"], opt["option_b"], opt["option_c"], opt["option_d"]
	set := func(s *string) bool { return s != nil && *s != "" }
	if !set(a) || !set(b) {
		return "needs option_a and option_b"
	}
	if (c != nil && *c == "") || (d != nil && *d == "") {
		return "has an empty option"
	}
	if set(d) && !set(c) {
		return "has option_d without option_c"
	}
	return ""
}

// publish is POST /v1.0/{user}/threads_publish.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	req, ok := s.checkRequest(w, r, []string{"creation_id"}, []string{"creation_id"})
	if !ok {
		return
	}
	id := req.params.Get("creation_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.pub.containers[id]
	if !ok || c.userID != req.user.ID {
		noObject(r.Method, id).write(w)
		return
	}
	mediaID, e, bad := s.publishLocked(c)
	if bad {
		e.write(w)
		return
	}
	writeJSON(w, map[string]string{"id": mediaID})
}

// publishLocked publishes c, or returns the error answer. s.mu must be held.
func (s *Server) publishLocked(c *container) (string, apiError, bool) {
	if c.carouselItem {
		return "", badParam("A carousel item is published through its carousel"), true
	}
	switch c.status {
	case statusFinished:
	case statusInProgress:
		return "", errMediaNotFound, true
	case statusPublished:
		return "", badParam("The media container %s has already been published", c.id), true
	default:
		return "", badParam("The media container %s cannot be published: its status is %s", c.id, c.status), true
	}
	reply := c.params.Get("reply_to_id") != ""
	if (reply && s.pub.replyUsage[c.userID] >= ReplyQuotaTotal) || (!reply && s.pub.usage[c.userID] >= QuotaTotal) {
		return "", errQuota, true
	}
	if reply {
		s.pub.replyUsage[c.userID]++
	} else {
		s.pub.usage[c.userID]++
	}
	c.status, c.mediaID = statusPublished, s.pub.newID()
	post := copyPost(Post{
		MediaID: c.mediaID, ContainerID: c.id, MediaType: c.mediaType, Text: c.params.Get("text"),
		Children: c.children, Params: c.params,
		ReplyToID:      c.params.Get("reply_to_id"),
		TextAttachment: c.features.textAttachment, TextEntities: c.features.textEntities,
		SpoilerMedia: c.params.Get("is_spoiler_media") == "true", GhostPost: c.params.Get("is_ghost_post") == "true",
		GIF: c.features.gif, AllowlistedCountryCodes: c.features.countries,
	})
	s.pub.media[c.mediaID] = &media{userID: c.userID, post: post}
	s.pub.published[c.userID] = append(s.pub.published[c.userID], copyPost(post))
	return c.mediaID, apiError{}, false
}

// status is GET /v1.0/{container}: a container's status, or a few fields of
// a published post.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	req, ok := s.checkRequest(w, r, []string{"fields"}, nil)
	if !ok {
		return
	}
	id := r.PathValue("container")
	fields := []string{"id"}
	if f := req.params.Get("fields"); f != "" {
		fields = strings.Split(f, ",")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.pub.media[id]; ok && m.userID == req.user.ID {
		out := map[string]string{}
		for _, f := range fields {
			switch f {
			case "id":
				out["id"] = id
			case "media_type":
				out["media_type"] = m.post.MediaType
			case "text":
				out["text"] = m.post.Text
			default:
				badParam("Tried accessing nonexisting field (%s) on node type (ThreadsMedia)", f).write(w)
				return
			}
		}
		writeJSON(w, out)
		return
	}
	c, ok := s.pub.containers[id]
	if !ok || c.userID != req.user.ID {
		noObject(r.Method, id).write(w)
		return
	}
	for _, f := range fields {
		if f != "id" && f != "status" && f != "error_message" {
			badParam("Tried accessing nonexisting field (%s) on node type (ThreadsMediaContainer)", f).write(w)
			return
		}
	}
	st, msg := c.status, c.errorMessage
	if c.status == statusInProgress {
		c.pollsLeft--
		if c.pollsLeft <= 0 {
			c.status, c.errorMessage = c.finalStatus, c.finalMessage
		}
	}
	out := map[string]string{"id": id}
	if slices.Contains(fields, "status") {
		out["status"] = st
	}
	if slices.Contains(fields, "error_message") && msg != "" {
		out["error_message"] = msg
	}
	writeJSON(w, out)
}

// limit is GET /v1.0/{user}/threads_publishing_limit.
func (s *Server) limit(w http.ResponseWriter, r *http.Request) {
	req, ok := s.checkRequest(w, r, []string{"fields"}, nil)
	if !ok {
		return
	}
	fields := []string{"quota_usage"}
	if f := req.params.Get("fields"); f != "" {
		fields = strings.Split(f, ",")
	}
	s.mu.Lock()
	usage, replyUsage := s.pub.usage[req.user.ID], s.pub.replyUsage[req.user.ID]
	s.mu.Unlock()
	config := func(total int) map[string]int {
		return map[string]int{"quota_total": total, "quota_duration": QuotaDuration}
	}
	out := map[string]any{}
	for _, f := range fields {
		switch f {
		case "quota_usage":
			out[f] = usage
		case "config":
			out[f] = config(QuotaTotal)
		case "reply_quota_usage":
			out[f] = replyUsage
		case "reply_config":
			out[f] = config(ReplyQuotaTotal)
		default:
			badParam("Tried accessing nonexisting field (%s) on node type (ThreadsPublishingLimit)", f).write(w)
			return
		}
	}
	writeJSON(w, map[string]any{"data": []any{out}})
}

// refresh is GET /refresh_access_token.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	req, ok := s.checkRequest(w, r, []string{"grant_type"}, []string{"grant_type"})
	if !ok {
		return
	}
	if gt := req.params.Get("grant_type"); gt != "th_refresh_token" {
		badParam("Param grant_type must be th_refresh_token").write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, long := s.long[r.Form.Get("access_token")]; !long {
		badParam("Only long-lived tokens can be refreshed").write(w)
		return
	}
	tok := "LONG-" + random()
	s.long[tok] = req.user
	writeJSON(w, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 5184000})
}

// String describes a post, for test failure messages.
func (p Post) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s from %s", p.MediaType, p.MediaID, p.ContainerID)
	if p.Text != "" {
		fmt.Fprintf(&b, " %q", p.Text)
	}
	if len(p.Children) > 0 {
		fmt.Fprintf(&b, " children %s", strings.Join(p.Children, ","))
	}
	if p.ReplyToID != "" {
		fmt.Fprintf(&b, " replying to %s", p.ReplyToID)
	}
	return b.String()
}
