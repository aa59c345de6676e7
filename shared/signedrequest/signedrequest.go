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

// Verify checks signed against the app secret and returns its payload; a
// request issued more than maxAge ago (or more than a minute in the
// future) is stale (CodeStale: see CheckAge).
func Verify(signed string, secret []byte, now time.Time, maxAge time.Duration) (*Payload, error) {
	p, err := Parse(signed, secret)
	if err != nil {
		return nil, err
	}
	if err := p.CheckAge(now, maxAge); err != nil {
		return nil, err
	}
	return p, nil
}

// Parse checks signed against the app secret and returns its payload,
// whatever its age: for a caller that may still act on an old request it
// has seen before (thDataDeletion's retries by Meta), which checks the age
// itself (CheckAge).
func Parse(signed string, secret []byte) (*Payload, error) {
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
	return &Payload{Algorithm: body.Algorithm, UserID: uid, IssuedAt: time.Unix(secs, 0)}, nil
}

// CheckAge reports a request issued more than maxAge before now
// (DefaultMaxAge when maxAge is not positive), or more than a minute after
// it, as stale (CodeStale).
func (p *Payload) CheckAge(now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	switch {
	case p.IssuedAt.Sub(now) > time.Minute:
		return bad(CodeStale, "the request's issue time is in the future")
	case now.Sub(p.IssuedAt) > maxAge:
		return bad(CodeStale, "the request was issued too long ago")
	}
	return nil
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
