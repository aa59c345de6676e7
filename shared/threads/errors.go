package threads

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// ErrMalformedResponse is wrapped by the error returned when Threads answers
// with a success status but a body that is not valid JSON, or that lacks a
// field the call needs (such as access_token or id). Test for it with
// errors.Is.
var ErrMalformedResponse = errors.New("threads: malformed response")

// unexpectedResponse is the Message of an APIError built from an error answer
// whose body is not Threads' error JSON. The body itself is never kept: it
// could hold anything.
const unexpectedResponse = "unexpected response"

// APIError is an error answer from Threads, whose body has the form
// {"error":{"message","type","code","error_subcode","is_transient",
// "error_user_title","error_user_msg","fbtrace_id"}}.
//
// An answer with a non-2xx status whose body is not that JSON is reported as
// an APIError too, with HTTPStatus set and Message "unexpected response".
// Callers get at it with errors.As.
type APIError struct {
	// HTTPStatus is the status code of the answer.
	HTTPStatus int
	// Message is Threads' error message (not meant for end users).
	Message string
	// Type is the error type, such as "OAuthException" or "THApiException".
	Type string
	// Code is Threads' error code, 0 if absent.
	Code int
	// Subcode is Threads' error_subcode, 0 if absent.
	Subcode int
	// IsTransient is Threads' is_transient flag.
	IsTransient bool
	// FBTraceID identifies the request at Meta; always keep it in logs.
	FBTraceID string
}

// Error describes the error, for example
// "threads: HTTP 400: code 190 subcode 460 (OAuthException): Session expired [fbtrace_id ABC]".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "threads: HTTP %d: ", e.HTTPStatus)
	if e.Code != 0 {
		fmt.Fprintf(&b, "code %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, " subcode %d", e.Subcode)
		}
	}
	if e.Type != "" {
		if e.Code != 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "(%s)", e.Type)
	}
	if e.Code != 0 || e.Type != "" {
		b.WriteString(": ")
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString("no message")
	}
	if e.FBTraceID != "" {
		fmt.Fprintf(&b, " [fbtrace_id %s]", e.FBTraceID)
	}
	return b.String()
}

// Temporary reports whether the same request may succeed later: Threads
// marked the error transient, the status is 5xx or 429, the code is a
// temporary failure (1, 2) or a rate limit (4, 17, 32, 613), or the media is
// not ready yet (see MediaNotReady); never for a Final error. Retry with backoff; beware that
// retrying a request that publishes can post twice (see IsUnknownOutcome).
func (e *APIError) Temporary() bool {
	if e.Final() {
		return false
	}
	if e.IsTransient || e.HTTPStatus >= 500 || e.HTTPStatus == 429 || e.MediaNotReady() {
		return true
	}
	switch e.Code {
	case 1, 2, 4, 17, 32, 613:
		return true
	}
	return false
}

// Subcodes Threads documents as final: retrying the same request fails the
// same way, whatever the code (1, otherwise temporary) or the flags say.
const (
	subcodeMediaUnfetchable   = 2207052 // the media at the URL could not be fetched
	subcodeActivityRestricted = 2207051
	subcodeUserRestricted     = 4279013
)

// Final reports whether the error is one Threads documents as not worth
// retrying although its code alone would say temporary: the media could
// not be fetched (2207052), or the account's activity is restricted
// (2207051, 4279013).
func (e *APIError) Final() bool {
	switch e.Subcode {
	case subcodeMediaUnfetchable, subcodeActivityRestricted, subcodeUserRestricted:
		return true
	}
	return false
}

// MediaUnfetchable reports whether Threads could not fetch the post's media
// from its URL (subcode 2207052): the URL must change, retrying does not help.
func (e *APIError) MediaUnfetchable() bool {
	return e.Subcode == subcodeMediaUnfetchable
}

// subcodeLinkPreviewFailed: Threads could not fetch the preview of the
// post's link_attachment at publish (code -1).
const subcodeLinkPreviewFailed = 4279047

// LinkPreviewFailed reports whether Threads refused to publish because it
// could not fetch the preview of the post's link_attachment: the same post
// without link_attachment can be published (a new container).
func (e *APIError) LinkPreviewFailed() bool {
	return e.Subcode == subcodeLinkPreviewFailed
}

// RateLimited reports whether Threads refused the call for a rate or quota
// limit: HTTP 429 or codes 4, 17, 32 and 613. Temporary is true for these
// too; an account's exhausted publishing quota is among them (its exact
// answer is undocumented), which PublishingLimit tells apart.
func (e *APIError) RateLimited() bool {
	switch e.Code {
	case 4, 17, 32, 613:
		return true
	}
	return e.HTTPStatus == 429
}

// TokenInvalid reports whether the access token is expired, revoked or
// otherwise invalid (code 190). Retrying does not help: the user must
// authorize again.
func (e *APIError) TokenInvalid() bool {
	return e.Code == 190
}

// subcodeMediaNotFound is the error_subcode of "Media Not Found": a
// container published before Threads finished processing it.
const subcodeMediaNotFound = 4279009

// MediaNotReady reports whether Threads refused to publish a container
// because it is not ready yet: code 24 with subcode 4279009 ("Media Not
// Found"), or subcode 4279009 with any other code. It is transient: wait
// until the container's status is FINISHED and publish the same container
// again (creating a new one would not help).
func (e *APIError) MediaNotReady() bool {
	return e.Subcode == subcodeMediaNotFound
}

// LogAttrs returns the error's fields as slog attributes: http_status, code,
// subcode, type, is_transient, fbtrace_id and message. Threads' messages do
// not echo tokens, and any credential of the request found in them has been
// redacted already.
func (e *APIError) LogAttrs() []slog.Attr {
	return []slog.Attr{
		slog.Int("http_status", e.HTTPStatus),
		slog.Int("code", e.Code),
		slog.Int("subcode", e.Subcode),
		slog.String("type", e.Type),
		slog.Bool("is_transient", e.IsTransient),
		slog.String("fbtrace_id", e.FBTraceID),
		slog.String("message", e.Message),
	}
}

// parseAPIError reads Threads' error JSON from body. It reports false when
// the body holds no "error" object. It is lenient: a field of an unexpected
// type is left empty rather than discarding the others.
func parseAPIError(status int, body []byte) (*APIError, bool) {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil, false
	}
	raw := bytes.TrimSpace(env.Error)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var f struct {
		Message     json.RawMessage `json:"message"`
		Type        json.RawMessage `json:"type"`
		Code        json.RawMessage `json:"code"`
		Subcode     json.RawMessage `json:"error_subcode"`
		IsTransient json.RawMessage `json:"is_transient"`
		FBTraceID   json.RawMessage `json:"fbtrace_id"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return nil, false
	}
	return &APIError{
		HTTPStatus:  status,
		Message:     lenientString(f.Message),
		Type:        lenientString(f.Type),
		Code:        lenientInt(f.Code),
		Subcode:     lenientInt(f.Subcode),
		IsTransient: lenientBool(f.IsTransient),
		FBTraceID:   lenientString(f.FBTraceID),
	}, true
}

func lenientString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func lenientInt(raw json.RawMessage) int {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return 0
	}
	i, err := strconv.Atoi(n.String())
	if err != nil {
		return 0
	}
	return i
}

func lenientBool(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b, _ = strconv.ParseBool(s)
	}
	return b
}

// redactor removes the credentials of one request (app secret, code,
// tokens) from any text that is about to leave the package.
type redactor []string

func (r redactor) redact(s string) string {
	for _, v := range r {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

func (r redactor) apiError(e *APIError) *APIError {
	e.Message = r.redact(e.Message)
	e.Type = r.redact(e.Type)
	e.FBTraceID = r.redact(e.FBTraceID)
	return e
}

// wrap returns err unchanged when its text holds no credential, and
// otherwise an error with the credentials redacted from its text that still
// unwraps to err, so errors.Is and errors.As keep working.
func (r redactor) wrap(err error) error {
	msg := err.Error()
	if red := r.redact(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
