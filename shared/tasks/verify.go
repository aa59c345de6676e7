package tasks

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors returned by Verifier.Verify, wrapped with the reason. The token
// itself never appears in an error.
var (
	// ErrNoToken: the request carries no "Authorization: Bearer" token.
	ErrNoToken = errors.New("tasks: no bearer token")
	// ErrInvalidToken: the token is malformed, wrongly signed, or its claims
	// do not match (issuer, audience, email, expiry...).
	ErrInvalidToken = errors.New("tasks: invalid token")
	// ErrKeysUnavailable: the signing keys could not be fetched, so the token
	// could not be checked. The delivery should fail with a 5xx so that
	// Cloud Tasks retries it; it says nothing about the caller.
	ErrKeysUnavailable = errors.New("tasks: signing keys unavailable")
)

// Issuers Google uses in the ID tokens it signs.
const (
	issuerHTTPS = "https://accounts.google.com"
	issuerBare  = "accounts.google.com"
)

const (
	clockSkew          = 60 * time.Second
	defaultKeysMaxAge  = time.Hour
	maxKeysMaxAge      = 24 * time.Hour
	minRefetchInterval = time.Minute
	defaultHTTPTimeout = 10 * time.Second
	maxTokenBytes      = 16 << 10
	maxJWKSBytes       = 1 << 20
	minRSABits         = 2048
)

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
	jwksURL        string
	client         *http.Client
	now            func() time.Time

	// fetching is held (a value sent) by the one goroutine fetching the
	// JWKS; it is a channel so that waiters give up when their ctx ends.
	fetching chan struct{}

	mu          sync.Mutex
	keys        map[string]*rsa.PublicKey // by kid
	expires     time.Time                 // keys are fresh until then; zero: never fetched
	lastRefetch time.Time                 // last unknown-kid refetch, successful or not
	gen         uint64                    // counts fetch attempts
}

// NewVerifier returns a Verifier for tokens whose aud is audience (the task
// target URL) and whose email is serviceAccount, signed by a key published at
// jwksURL (GoogleJWKSURL in production; Config.JWKSURL picks). Keys are
// fetched on first use and cached for the response's Cache-Control max-age
// (default 1 h, at least 1 min, at most 24 h); tokens with a kid missing from
// fresh keys cause a refetch at most once a minute. A nil httpClient means a default
// client with a 10 s timeout.
func NewVerifier(audience, serviceAccount, jwksURL string, httpClient *http.Client) *Verifier {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	return &Verifier{
		audience:       audience,
		serviceAccount: serviceAccount,
		jwksURL:        jwksURL,
		client:         httpClient,
		now:            time.Now,
		fetching:       make(chan struct{}, 1),
	}
}

// Verify checks r's bearer token. It returns nil for a genuine delivery, or
// an error wrapping ErrNoToken, ErrInvalidToken or ErrKeysUnavailable.
func (v *Verifier) Verify(ctx context.Context, r *http.Request) error {
	raw, err := bearerToken(r)
	if err != nil {
		return err
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return invalidf("not a JWS compact serialization")
	}

	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return invalidf("header: %v", err)
	}
	if hdr.Alg != "RS256" {
		return invalidf("unsupported alg %q, want RS256", truncate(hdr.Alg, 16))
	}
	if hdr.Crit != nil {
		return invalidf("unsupported crit header")
	}
	if hdr.Kid == "" {
		return invalidf("no kid in header")
	}
	sig, err := decodeB64(parts[2])
	if err != nil || len(sig) == 0 {
		return invalidf("malformed signature")
	}

	key, err := v.keyFor(ctx, hdr.Kid)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return invalidf("bad signature")
	}

	var c idClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return invalidf("claims: %v", err)
	}
	return v.checkClaims(&c)
}

func (v *Verifier) checkClaims(c *idClaims) error {
	now := v.now()
	switch {
	case c.Iss != issuerHTTPS && c.Iss != issuerBare:
		return invalidf("unexpected issuer %q", truncate(c.Iss, 64))
	case !slices.Contains(c.Aud, v.audience):
		return invalidf("audience mismatch: got %q", truncate(strings.Join(c.Aud, ","), 200))
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
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
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
	case len(tok) > maxTokenBytes:
		return "", invalidf("token longer than %d bytes", maxTokenBytes)
	}
	return tok, nil
}

// decodeB64 decodes unpadded base64url, the JWS encoding.
func decodeB64(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// decodeSegment decodes a base64url JSON object into dst.
func decodeSegment(seg string, dst any) error {
	b, err := decodeB64(seg)
	if err != nil {
		return errors.New("malformed base64url")
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return errors.New("malformed JSON")
	}
	return nil
}

// idClaims are the claims of a Google-signed ID token that Verify checks.
type idClaims struct {
	Iss           string       `json:"iss"`
	Aud           audience     `json:"aud"`
	Email         string       `json:"email"`
	EmailVerified flexBool     `json:"email_verified"`
	Exp           *numericDate `json:"exp"`
	Iat           *numericDate `json:"iat"`
	Nbf           *numericDate `json:"nbf"`
}

// audience is the aud claim: a string or an array of strings (RFC 7519).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
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

// numericDate is a JWT NumericDate: seconds since the epoch, maybe fractional.
type numericDate float64

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || f < 0 || math.IsInf(f, 0) || f > 1e12 {
		return errors.New("time claim is not a NumericDate")
	}
	*d = numericDate(f)
	return nil
}

// Time converts d to a time.Time.
func (d numericDate) Time() time.Time {
	sec, frac := math.Modf(float64(d))
	return time.Unix(int64(sec), int64(frac*1e9))
}

// fetchReason says why keyFor must fetch the JWKS.
type fetchReason int

const (
	noFetch    fetchReason = iota
	stale                  // never fetched, or past max-age
	unknownKid             // fresh, but without the token's kid
)

// keyFor returns the key with id kid, fetching the JWKS when the cache is
// stale, or when kid is unknown and no unknown-kid refetch happened in the
// last minute. Concurrent callers share a single fetch.
func (v *Verifier) keyFor(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	key, why, err := v.lookupLocked(kid)
	gen := v.gen
	v.mu.Unlock()
	if why == noFetch {
		return key, err
	}

	select {
	case v.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for key fetch: %w", ErrKeysUnavailable, ctx.Err())
	}
	defer func() { <-v.fetching }()

	v.mu.Lock()
	if v.gen != gen {
		// Another caller fetched while we waited: decide again.
		key, why, err = v.lookupLocked(kid)
	}
	v.mu.Unlock()
	if why == noFetch {
		return key, err
	}
	if err := v.refresh(ctx, why); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if key, ok := v.keys[kid]; ok {
		return key, nil
	}
	return nil, invalidf("unknown kid %q", truncate(kid, 64))
}

// lookupLocked returns the key for kid if the cache is fresh and holds it;
// otherwise it says why a fetch is due, or why the token fails.
func (v *Verifier) lookupLocked(kid string) (*rsa.PublicKey, fetchReason, error) {
	now := v.now()
	if v.expires.IsZero() || !now.Before(v.expires) {
		return nil, stale, nil
	}
	if key, ok := v.keys[kid]; ok {
		return key, noFetch, nil
	}
	if v.lastRefetch.IsZero() || now.Sub(v.lastRefetch) >= minRefetchInterval {
		return nil, unknownKid, nil
	}
	return nil, noFetch, invalidf("unknown kid %q", truncate(kid, 64))
}

// refresh fetches the JWKS and replaces the cache. An unknown-kid refetch
// counts for the once-a-minute limit whether or not it succeeds.
func (v *Verifier) refresh(ctx context.Context, why fetchReason) error {
	keys, maxAge, err := v.fetchKeys(ctx)
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	if why == unknownKid {
		v.lastRefetch = now
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	v.keys = keys
	v.expires = now.Add(maxAge)
	return nil
}

func (v *Verifier) fetchKeys(ctx context.Context) (map[string]*rsa.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch JWKS %s: status %d", v.jwksURL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("JWKS %s larger than %d bytes", v.jwksURL, maxJWKSBytes)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("JWKS %s: %w", v.jwksURL, err)
	}
	return keys, keysMaxAge(resp.Header), nil
}

// parseJWKS returns the RS256 signing keys of a JWK set by kid, skipping keys
// of other types or uses and keys without a kid.
func parseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey)
	var errs []error
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		n, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		if err != nil {
			errs = append(errs, fmt.Errorf("key %q: malformed n", k.Kid))
			continue
		}
		e, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if err != nil || len(e) == 0 || len(e) > 4 {
			errs = append(errs, fmt.Errorf("key %q: malformed e", k.Kid))
			continue
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			errs = append(errs, fmt.Errorf("key %q: weak or malformed RSA key", k.Kid))
			continue
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, errors.Join(append([]error{errors.New("no usable RS256 keys")}, errs...)...)
	}
	return keys, nil
}

// keysMaxAge is how long a JWKS response stays fresh: Cache-Control max-age
// minus Age, default 1 h, clamped to [1 min, 24 h].
func keysMaxAge(h http.Header) time.Duration {
	age := defaultKeysMaxAge
	for _, dir := range strings.Split(h.Get("Cache-Control"), ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(dir), "=")
		if !ok || !strings.EqualFold(name, "max-age") {
			continue
		}
		if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil && n >= 0 {
			age = time.Duration(min(n, int(maxKeysMaxAge/time.Second))) * time.Second
			if a, err := strconv.Atoi(h.Get("Age")); err == nil && a > 0 {
				age -= time.Duration(a) * time.Second
			}
		}
		break
	}
	return min(max(age, minRefetchInterval), maxKeysMaxAge)
}
