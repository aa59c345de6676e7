// Package signedrequest verifies the signed_request that Meta posts to an
// app's deauthorize and data-deletion callbacks:
//
//	signed_request = base64url(signature) "." base64url(payload)
//	signature      = HMAC-SHA256(key = app secret, message = the encoded payload, as received)
//	payload        = {"algorithm": "HMAC-SHA256", "user_id": "...", "issued_at": 1700000000, ...}
//
// Every way a request can be wrong has a stable code; the payload is only
// decoded once its signature has been checked, in constant time.
package signedrequest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"threadsfunctions.dev/shared/httpx"
)

// Error codes (all HTTP 400).
const (
	CodeMissing     = "missing_signed_request"
	CodeMalformed   = "malformed_signed_request"
	CodeBadSig      = "invalid_signature"
	CodeAlgorithm   = "unsupported_algorithm"
	CodeStale       = "stale_signed_request"
	CodeNoUser      = "missing_user_id"
	DefaultMaxAge   = time.Hour
	maxSignedLength = 8 << 10
)

// Payload is a verified signed_request's content.
type Payload struct {
	Algorithm string
	// UserID is the user the request is about, as a string whether Meta
	// sent a JSON number or a string.
	UserID   string
	IssuedAt time.Time
}

func bad(code, msg string) error { return httpx.Errorf(http.StatusBadRequest, code, "%s", msg) }

// Verify checks signed against the app secret and returns its payload. A
// request issued more than maxAge ago (or more than a minute in the
// future) is stale (CodeStale); one only too old comes with its payload all
// the same, its signature checked, for a caller that may still act on an
// old request it has seen before (thDataDeletion's retries by Meta).
func Verify(signed string, secret []byte, now time.Time, maxAge time.Duration) (*Payload, error) {
	if signed == "" {
		return nil, bad(CodeMissing, "the signed_request form field is required")
	}
	if len(signed) > maxSignedLength {
		return nil, bad(CodeMalformed, "signed_request is too long")
	}
	encSig, encPayload, ok := strings.Cut(signed, ".")
	if !ok || encSig == "" || encPayload == "" || strings.Contains(encPayload, ".") {
		return nil, bad(CodeMalformed, "signed_request must be <signature>.<payload>")
	}
	sig, err := decode(encSig)
	if err != nil {
		return nil, bad(CodeMalformed, "the signature is not base64url")
	}
	raw, err := decode(encPayload)
	if err != nil {
		return nil, bad(CodeMalformed, "the payload is not base64url")
	}
	if len(secret) == 0 {
		// Anyone can sign with the empty key: a misconfiguration, never a pass.
		return nil, httpx.Errorf(http.StatusInternalServerError, httpx.CodeMisconfigured, "the app secret is not configured")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(encPayload))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, bad(CodeBadSig, "the signature does not match")
	}

	var body struct {
		Algorithm string          `json:"algorithm"`
		UserID    json.RawMessage `json:"user_id"`
		IssuedAt  json.Number     `json:"issued_at"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, bad(CodeMalformed, "the payload is not a JSON object")
	}
	if !strings.EqualFold(body.Algorithm, "HMAC-SHA256") {
		return nil, bad(CodeAlgorithm, "only HMAC-SHA256 is accepted")
	}
	uid, err := flexID(body.UserID)
	if err != nil || uid == "" {
		return nil, bad(CodeNoUser, "the payload has no usable user_id")
	}
	secs, err := strconv.ParseInt(body.IssuedAt.String(), 10, 64)
	if err != nil {
		return nil, bad(CodeMalformed, "issued_at must be a Unix time")
	}
	issued := time.Unix(secs, 0)
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	p := &Payload{Algorithm: body.Algorithm, UserID: uid, IssuedAt: issued}
	switch {
	case issued.Sub(now) > time.Minute:
		return nil, bad(CodeStale, "the request's issue time is in the future")
	case now.Sub(issued) > maxAge:
		return p, bad(CodeStale, "the request was issued too long ago")
	}
	return p, nil
}

// decode reads base64url, padded or not; padding, when present, must be
// exactly right, and unused bits must be zero.
func decode(s string) ([]byte, error) {
	if strings.Contains(s, "=") {
		return base64.URLEncoding.Strict().DecodeString(s)
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// flexID accepts a JSON string or a non-negative JSON integer, keeping
// every digit.
func flexID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("user_id is neither a string nor an integer")
		}
	}
	return string(raw), nil
}

// Sign builds a signed_request for payload with secret, as Meta does. The
// Threads simulator and tests use it.
func Sign(payload map[string]any, secret []byte) (string, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding.EncodeToString(b)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(enc))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + enc, nil
}

// maxForm bounds a callback's form body.
const maxForm = 16 << 10

// VerifyRequest reads a callback's signed_request form field and verifies
// it: what Meta's deauthorize and data-deletion callbacks both do first.
//
// As with Verify, a stale request's error may come with its payload: act
// on the payload only when the error is nil, unless acting on an old
// request is what the caller means to do.
func VerifyRequest(r *http.Request, secret []byte, now time.Time, maxAge time.Duration) (*Payload, error) {
	signed, err := FromRequest(r)
	if err != nil {
		return nil, err
	}
	return Verify(signed, secret, now, maxAge)
}

// FromRequest reads the signed_request field of a form POST (at most 16 KiB).
func FromRequest(r *http.Request) (string, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return "", bad(CodeMalformed, "the body must be a form (application/x-www-form-urlencoded) of at most 16 KiB")
	}
	return r.PostForm.Get("signed_request"), nil
}
