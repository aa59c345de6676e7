package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/jws"
	"threadsfunctions.dev/shared/logging"
)

// Errors returned by Verifier.Verify, wrapped with the reason. The token
// itself never appears in an error.
var (
	// ErrNoToken: the request carries no "Authorization: Bearer" token.
	ErrNoToken = errors.New("tasks: no bearer token")
	// ErrInvalidToken: the token is malformed, wrongly signed, or its claims
	// do not match (issuer, audience, email, expiry...).
	ErrInvalidToken = jws.ErrInvalidToken
	// ErrKeysUnavailable: the signing keys could not be fetched, so the token
	// could not be checked. The delivery should fail with a 5xx so that
	// Cloud Tasks retries it; it says nothing about the caller.
	ErrKeysUnavailable = jws.ErrKeysUnavailable
)

// Refusal is the answer to a caller whose token Verify refused with err:
// 503 when the keys could not be fetched (it says nothing about the caller,
// and Cloud Tasks delivers again), else 401 with code and message, the
// reason logged (never the token).
func Refusal(ctx context.Context, err error, code, message string) error {
	if errors.Is(err, ErrKeysUnavailable) {
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not check the caller's token")
	}
	logging.FromContext(ctx).Warn("caller's token refused", "code", code, "error", err.Error())
	return httpx.Errorf(http.StatusUnauthorized, code, "%s", message)
}

// Issuers Google uses in the ID tokens it signs.
const (
	issuerHTTPS = "https://accounts.google.com"
	issuerBare  = "accounts.google.com"
)

const clockSkew = 60 * time.Second

// DeliveryVerifier authenticates a task delivery. *Verifier implements it;
// tests may fake it.
type DeliveryVerifier interface {
	Verify(ctx context.Context, r *http.Request) error
}

var _ DeliveryVerifier = (*Verifier)(nil)

// Verifier checks the "Authorization: Bearer <OIDC ID token>" of a task
// delivery: an RS256 signature by a key of the JWKS, iss
// "https://accounts.google.com" or "accounts.google.com", aud equal to the
// audience, email equal to the service account (compared case-insensitively)
// with email_verified true, exp in the future and iat (and nbf, if present)
// not in the future, each with 60 s of clock skew.
//
// It is safe for concurrent use. Build one per instance: it caches the keys.
type Verifier struct {
	audience       string
	serviceAccount string
	keys           *jws.KeySet
}

// NewVerifier returns a Verifier for tokens whose aud is audience (the task
// target URL) and whose email is serviceAccount, signed by a key published at
// jwksURL (GoogleJWKSURL in production; Config.JWKSURL picks). Keys are
// cached as jws.KeySet says. A nil httpClient means a default client with a
// 10 s timeout.
func NewVerifier(audience, serviceAccount, jwksURL string, httpClient *http.Client) *Verifier {
	return &Verifier{
		audience:       audience,
		serviceAccount: serviceAccount,
		keys:           jws.NewKeySet(jwksURL, jws.JWKS, httpClient),
	}
}

// Verify checks r's bearer token. It returns nil for a genuine delivery, or
// an error wrapping ErrNoToken, ErrInvalidToken or ErrKeysUnavailable.
func (v *Verifier) Verify(ctx context.Context, r *http.Request) error {
	raw, err := bearerToken(r)
	if err != nil {
		return err
	}
	var c idClaims
	if err := v.keys.Verify(ctx, raw, &c); err != nil {
		return fmt.Errorf("tasks: %w", err)
	}
	return v.checkClaims(&c)
}

func (v *Verifier) checkClaims(c *idClaims) error {
	now := time.Now()
	switch {
	case c.Iss != issuerHTTPS && c.Iss != issuerBare:
		return invalidf("unexpected issuer %q", jws.Truncate(c.Iss, 64))
	case !slices.Contains(c.Aud, v.audience):
		return invalidf("audience mismatch: got %q", jws.Truncate(strings.Join(c.Aud, ","), 200))
	case c.Email == "" || !strings.EqualFold(c.Email, v.serviceAccount):
		return invalidf("email is not the expected service account")
	case !bool(c.EmailVerified):
		return invalidf("email not verified")
	case c.Exp == nil:
		return invalidf("no exp claim")
	case c.Iat == nil:
		return invalidf("no iat claim")
	case !now.Before(c.Exp.Time().Add(clockSkew)):
		return invalidf("expired")
	case c.Iat.Time().After(now.Add(clockSkew)):
		return invalidf("issued in the future")
	case c.Nbf != nil && c.Nbf.Time().After(now.Add(clockSkew)):
		return invalidf("not valid yet")
	}
	return nil
}

// invalidf wraps ErrInvalidToken with a reason. Reasons never quote the token.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("tasks: %w", jws.Invalidf(format, args...))
}

// bearerToken extracts the token of the single Authorization header.
func bearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", fmt.Errorf("%w: no Authorization header", ErrNoToken)
	case len(vals) > 1:
		return "", invalidf("more than one Authorization header")
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: Authorization scheme is not Bearer", ErrNoToken)
	}
	tok = strings.TrimSpace(tok)
	switch {
	case tok == "":
		return "", fmt.Errorf("%w: empty bearer token", ErrNoToken)
	case len(tok) > jws.MaxTokenBytes:
		return "", invalidf("token longer than %d bytes", jws.MaxTokenBytes)
	}
	return tok, nil
}

// idClaims are the claims of a Google-signed ID token that Verify checks.
type idClaims struct {
	Iss           string           `json:"iss"`
	Aud           jws.Audience     `json:"aud"`
	Email         string           `json:"email"`
	EmailVerified flexBool         `json:"email_verified"`
	Exp           *jws.NumericDate `json:"exp"`
	Iat           *jws.NumericDate `json:"iat"`
	Nbf           *jws.NumericDate `json:"nbf"`
}

// flexBool accepts true/false and, as some Google tokens carried, "true"/"false".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true", `"true"`:
		*f = true
	case "false", `"false"`, "null":
		*f = false
	default:
		return errors.New("email_verified is not a boolean")
	}
	return nil
}
