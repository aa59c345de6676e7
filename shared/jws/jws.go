// Package jws verifies RS256-signed JSON Web Tokens (JWS compact
// serialization) against public keys that Google publishes at a URL, and
// caches those keys per instance.
//
// It checks the signature and decodes the claims; what the claims must say
// (issuer, audience, times) is the caller's: shared/tasks checks Google's
// OIDC tokens of Cloud Tasks and Cloud Scheduler, shared/auth Firebase ID
// tokens. Errors never quote the token. SignRS256 and PublicJWK make such
// tokens and keys, and EncodeUnsigned the Auth emulator's unsigned ones, for
// the fakes, tests and benchmark that stand in for Google.
package jws

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	// ErrInvalidToken: the token is malformed, not RS256, signed by an
	// unknown key or wrongly signed.
	ErrInvalidToken = errors.New("invalid token")
	// ErrKeysUnavailable: the signing keys could not be fetched, so the token
	// could not be checked. It says nothing about the caller.
	ErrKeysUnavailable = errors.New("signing keys unavailable")
)

// Where Google publishes its keys.
const (
	// GoogleOIDCKeysURL: the keys of Google-signed OIDC ID tokens (Cloud
	// Tasks, Cloud Scheduler), a JWK set.
	GoogleOIDCKeysURL = "https://www.googleapis.com/oauth2/v3/certs"
	// FirebaseIDTokenKeysURL: the keys of Firebase Auth ID tokens, X.509
	// certificates by kid (what Firebase documents for verifying ID tokens
	// without the Admin SDK).
	FirebaseIDTokenKeysURL = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
)

// Format is how a key URL publishes its keys.
type Format int

const (
	// JWKS is an RFC 7517 JWK set: {"keys":[{"kty":"RSA","kid":...,"n":...,"e":...}]}.
	JWKS Format = iota
	// X509 is a JSON object of PEM-encoded X.509 certificates by kid.
	X509
)

const (
	defaultKeysMaxAge  = time.Hour
	maxKeysMaxAge      = 24 * time.Hour
	minRefetchInterval = time.Minute
	defaultHTTPTimeout = 10 * time.Second
	// MaxTokenBytes bounds the tokens callers should accept at all.
	MaxTokenBytes = 16 << 10
	maxKeysBytes  = 1 << 20
	minRSABits    = 2048
)

// KeySet is the RSA signing keys published at a URL, fetched on first use
// and cached for the response's Cache-Control max-age (default 1 h, at least
// 1 min, at most 24 h). A token whose kid is missing from fresh keys causes a
// refetch at most once a minute (keys rotate). Until that refetch succeeds, an
// unknown kid is ErrKeysUnavailable, not ErrInvalidToken: the kid may be a
// rotated-in key we could not fetch. Concurrent callers share one fetch. It
// is safe for concurrent use: build one per instance.
type KeySet struct {
	url    string
	format Format
	client *http.Client
	now    func() time.Time

	// fetching is held (a value sent) by the one goroutine fetching the
	// keys; it is a channel so that waiters give up when their ctx ends.
	fetching chan struct{}

	mu          sync.Mutex
	keys        map[string]*rsa.PublicKey // by kid
	expires     time.Time                 // keys are fresh until then; zero: never fetched
	lastRefetch time.Time                 // last unknown-kid refetch, successful or not
	refetchErr  error                     // why the last unknown-kid refetch failed; nil once any fetch succeeds
	gen         uint64                    // counts fetch attempts
}

// NewKeySet returns the keys published at url in format. A nil httpClient
// means a default client with a 10 s timeout.
func NewKeySet(url string, format Format, httpClient *http.Client) *KeySet {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	return &KeySet{url: url, format: format, client: httpClient, now: time.Now, fetching: make(chan struct{}, 1)}
}

// Verify checks that token is an RS256 JWS signed by one of the keys, then
// decodes its claims into claims. It returns an error wrapping
// ErrInvalidToken or ErrKeysUnavailable.
func (k *KeySet) Verify(ctx context.Context, token string, claims any) error {
	parts, hdr, err := split(token)
	if err != nil {
		return err
	}
	if hdr.Alg != "RS256" {
		return Invalidf("unsupported alg %q, want RS256", Truncate(hdr.Alg, 16))
	}
	if hdr.Kid == "" {
		return Invalidf("no kid in header")
	}
	sig, err := decodeB64(parts[2])
	if err != nil || len(sig) == 0 {
		return Invalidf("malformed signature")
	}
	key, err := k.keyFor(ctx, hdr.Kid)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return Invalidf("bad signature")
	}
	if err := decodeSegment(parts[1], claims); err != nil {
		return Invalidf("claims: %v", err)
	}
	return nil
}

// DecodeUnsigned decodes the claims of an unsigned token (alg "none", empty
// signature), as the Firebase Auth emulator issues them. Use it only when an
// emulator is configured: it proves nothing about who made the token.
func DecodeUnsigned(token string, claims any) error {
	parts, hdr, err := split(token)
	if err != nil {
		return err
	}
	if hdr.Alg != "none" || parts[2] != "" {
		return Invalidf("not an unsigned token (alg %q)", Truncate(hdr.Alg, 16))
	}
	if err := decodeSegment(parts[1], claims); err != nil {
		return Invalidf("claims: %v", err)
	}
	return nil
}

type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// split checks the compact serialization and decodes the header.
func split(token string) ([]string, header, error) {
	var hdr header
	if len(token) > MaxTokenBytes {
		return nil, hdr, Invalidf("token longer than %d bytes", MaxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, hdr, Invalidf("not a JWS compact serialization")
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, hdr, Invalidf("header: %v", err)
	}
	if hdr.Crit != nil {
		return nil, hdr, Invalidf("unsupported crit header")
	}
	return parts, hdr, nil
}

// Invalidf wraps ErrInvalidToken with a reason. Reasons never quote the token.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// Truncate shortens s to at most n bytes, for quoting claims in errors.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
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

// Audience is the aud claim: a string or an array of strings (RFC 7519).
type Audience []string

// UnmarshalJSON accepts both forms.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// NumericDate is a JWT NumericDate: seconds since the epoch, maybe fractional.
type NumericDate float64

// UnmarshalJSON refuses negative, infinite and absurdly large values.
func (d *NumericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || f < 0 || math.IsInf(f, 0) || f > 1e12 {
		return errors.New("time claim is not a NumericDate")
	}
	*d = NumericDate(f)
	return nil
}

// Time converts d to a time.Time.
func (d NumericDate) Time() time.Time {
	sec, frac := math.Modf(float64(d))
	return time.Unix(int64(sec), int64(frac*1e9))
}

// fetchReason says why keyFor must fetch the keys.
type fetchReason int

const (
	noFetch    fetchReason = iota
	stale                  // never fetched, or past max-age
	unknownKid             // fresh, but without the token's kid
)

// keyFor returns the key with id kid, fetching the keys when the cache is
// stale, or when kid is unknown and no unknown-kid refetch happened in the
// last minute. Concurrent callers share a single fetch.
func (k *KeySet) keyFor(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	k.mu.Lock()
	key, why, err := k.lookupLocked(kid)
	gen := k.gen
	k.mu.Unlock()
	if why == noFetch {
		return key, err
	}

	select {
	case k.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for key fetch: %w", ErrKeysUnavailable, ctx.Err())
	}
	defer func() { <-k.fetching }()

	k.mu.Lock()
	if k.gen != gen {
		// Another caller fetched while we waited: decide again.
		key, why, err = k.lookupLocked(kid)
	}
	k.mu.Unlock()
	if why == noFetch {
		return key, err
	}
	if err := k.refresh(ctx, why); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	return nil, Invalidf("unknown kid %q", Truncate(kid, 64))
}

// lookupLocked returns the key for kid if the cache is fresh and holds it;
// otherwise it says why a fetch is due, or why the token fails.
func (k *KeySet) lookupLocked(kid string) (*rsa.PublicKey, fetchReason, error) {
	now := k.now()
	if k.expires.IsZero() || !now.Before(k.expires) {
		return nil, stale, nil
	}
	if key, ok := k.keys[kid]; ok {
		return key, noFetch, nil
	}
	if k.lastRefetch.IsZero() || now.Sub(k.lastRefetch) >= minRefetchInterval {
		return nil, unknownKid, nil
	}
	if k.refetchErr != nil {
		// The refetch that would have found a rotated-in key failed, so the
		// kid is not known to be bad: a genuine token must get "try again"
		// (503), not "invalid" (401). Refetches stay at once a minute, so
		// made-up kids cannot make us fetch on every request.
		return nil, noFetch, fmt.Errorf("%w: kid %q not in cached keys, and refetching them failed: %w", ErrKeysUnavailable, Truncate(kid, 64), k.refetchErr)
	}
	return nil, noFetch, Invalidf("unknown kid %q", Truncate(kid, 64))
}

// refresh fetches the keys and replaces the cache. An unknown-kid refetch
// counts for the once-a-minute limit whether or not it succeeds; if it fails,
// unknown kids are "keys unavailable" until a fetch succeeds.
func (k *KeySet) refresh(ctx context.Context, why fetchReason) error {
	keys, maxAge, err := k.fetchKeys(ctx)
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
	if why == unknownKid {
		k.lastRefetch = now
	}
	if err != nil {
		if why == unknownKid {
			k.refetchErr = err
		}
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	// Any successful fetch, stale or unknown-kid, is the current keys: a kid
	// missing from them is unknown for real.
	k.refetchErr = nil
	k.keys = keys
	k.expires = now.Add(maxAge)
	return nil
}

func (k *KeySet) fetchKeys(ctx context.Context) (map[string]*rsa.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("keys request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch keys: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch keys %s: status %d", k.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read keys: %w", err)
	}
	if len(body) > maxKeysBytes {
		return nil, 0, fmt.Errorf("keys at %s larger than %d bytes", k.url, maxKeysBytes)
	}
	parse := parseJWKS
	if k.format == X509 {
		parse = parseX509
	}
	keys, err := parse(body)
	if err != nil {
		return nil, 0, fmt.Errorf("keys at %s: %w", k.url, err)
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
	for _, key := range set.Keys {
		if key.Kty != "RSA" || key.Kid == "" || (key.Use != "" && key.Use != "sig") || (key.Alg != "" && key.Alg != "RS256") {
			continue
		}
		n, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(key.N, "="))
		if err != nil {
			errs = append(errs, fmt.Errorf("key %q: malformed n", key.Kid))
			continue
		}
		e, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(key.E, "="))
		if err != nil || len(e) == 0 || len(e) > 4 {
			errs = append(errs, fmt.Errorf("key %q: malformed e", key.Kid))
			continue
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if err := checkRSA(pub); err != nil {
			errs = append(errs, fmt.Errorf("key %q: %w", key.Kid, err))
			continue
		}
		keys[key.Kid] = pub
	}
	return usable(keys, errs)
}

// parseX509 returns the RSA keys of a JSON object of PEM certificates by kid.
func parseX509(body []byte) (map[string]*rsa.PublicKey, error) {
	var certs map[string]string
	if err := json.Unmarshal(body, &certs); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey)
	var errs []error
	for kid, text := range certs {
		block, _ := pem.Decode([]byte(text))
		if kid == "" || block == nil || block.Type != "CERTIFICATE" {
			errs = append(errs, fmt.Errorf("key %q: not a PEM certificate", Truncate(kid, 64)))
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			errs = append(errs, fmt.Errorf("key %q: %w", kid, err))
			continue
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			errs = append(errs, fmt.Errorf("key %q: not an RSA key", kid))
			continue
		}
		if err := checkRSA(pub); err != nil {
			errs = append(errs, fmt.Errorf("key %q: %w", kid, err))
			continue
		}
		keys[kid] = pub
	}
	return usable(keys, errs)
}

func checkRSA(pub *rsa.PublicKey) error {
	if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
		return errors.New("weak or malformed RSA key")
	}
	return nil
}

func usable(keys map[string]*rsa.PublicKey, errs []error) (map[string]*rsa.PublicKey, error) {
	if len(keys) == 0 {
		return nil, errors.Join(append([]error{errors.New("no usable RS256 keys")}, errs...)...)
	}
	return keys, nil
}

// keysMaxAge is how long a keys response stays fresh: Cache-Control max-age
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
