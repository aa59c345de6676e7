// Package auth verifies the Firebase ID tokens that callers send as
// "Authorization: Bearer <token>".
//
// It does what the Admin SDK's VerifyIDTokenAndCheckRevoked does, without
// linking the Admin SDK (whose root package brings every Firebase product,
// 213 packages, into each function's binary): the token is checked the way
// Firebase documents for third-party JWT libraries (RS256 by a key of
// Google's securetoken certificates, aud and iss of the project, sub, times),
// then one accounts:lookup call to the Auth backend says whether the user
// still exists, is disabled, or had its tokens revoked since the token was
// issued. Against the Auth emulator, tokens are unsigned, as the Admin SDK
// accepts them there. An app sends the same token on every call until it
// expires: a verifier remembers the tokens whose signature it checked (by
// hash, see seenTokens) and checks the rest again for each request.
//
// Each way a token can be wrong has its own stable 401 code, so an app can
// tell "sign in again" (expired, revoked) from a bug (malformed, missing).
package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gauth "cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/jws"
)

// Stable error codes for authentication failures (all HTTP 401).
const (
	CodeMissingToken = "missing_token"
	CodeInvalidToken = "invalid_token"
	CodeTokenExpired = "token_expired"
	CodeTokenRevoked = "token_revoked"
	CodeUserDisabled = "user_disabled"
)

// User is the verified caller.
type User struct {
	UID string
}

// Verifier authenticates a request.
type Verifier interface {
	Verify(ctx context.Context, r *http.Request) (*User, error)
}

// Where the Auth backend is.
const (
	// AuthURL is the Identity Toolkit API that Firebase Auth serves.
	AuthURL = "https://identitytoolkit.googleapis.com/v1"
	// Scope lets the function's service account look users up.
	Scope = "https://www.googleapis.com/auth/cloud-platform"
	// issuerPrefix + the project id is an ID token's iss.
	issuerPrefix = "https://securetoken.google.com/"
)

const (
	// clockSkew is how far iat, exp and auth_time may be off, as in the
	// Admin SDK.
	clockSkew      = 5 * time.Minute
	maxUIDLength   = 128
	maxLookupBytes = 1 << 20
	httpTimeout    = 10 * time.Second
)

// FirebaseConfig says which project's tokens to accept and where to check them.
type FirebaseConfig struct {
	ProjectID string
	// EmulatorHost is FIREBASE_AUTH_EMULATOR_HOST. When set, tokens are the
	// emulator's unsigned ones and users are looked up in the emulator.
	EmulatorHost string

	// The rest are for tests of the production path; zero means Google's.
	KeysURL     string             // jws.FirebaseIDTokenKeysURL
	AuthURL     string             // AuthURL
	Credentials *gauth.Credentials // Application Default Credentials, Scope
}

// Firebase verifies ID tokens, including the revocation and disabled-user
// checks (one call to the Auth backend per request). Build one per instance:
// it caches Google's keys and the tokens it verified, and keeps connections
// to the backend open.
type Firebase struct {
	projectID string
	issuer    string
	keys      *jws.KeySet // nil against the emulator: tokens are unsigned
	lookupURL string
	client    *http.Client
	seen      seenTokens
	now       func() time.Time // nil: time.Now (tests)
}

// NewFirebase builds the verifier. Against Google it finds the
// Application Default Credentials (no network call); keys are fetched on
// first use.
func NewFirebase(ctx context.Context, cfg FirebaseConfig) (*Firebase, error) {
	if cfg.ProjectID == "" {
		return nil, errors.New("auth: a project ID is required")
	}
	f := &Firebase{
		projectID: cfg.ProjectID,
		issuer:    issuerPrefix + cfg.ProjectID,
	}
	base := cfg.AuthURL
	if cfg.EmulatorHost != "" {
		base = "http://" + cfg.EmulatorHost + "/identitytoolkit.googleapis.com/v1"
		f.client = &http.Client{Timeout: httpTimeout, Transport: emulatorTransport{httpx.PooledTransport()}}
	} else {
		if base == "" {
			base = AuthURL
		}
		keysURL := cfg.KeysURL
		if keysURL == "" {
			keysURL = jws.FirebaseIDTokenKeysURL
		}
		// One pool for both Google hosts: the keys (rarely) and the lookups.
		tr := httpx.PooledTransport()
		f.keys = jws.NewKeySet(keysURL, jws.X509, &http.Client{Timeout: httpTimeout, Transport: tr})
		opts := &httptransport.Options{
			Credentials:      cfg.Credentials,
			BaseRoundTripper: tr,
			DisableTelemetry: true,
		}
		if cfg.Credentials == nil {
			opts.DetectOpts = &credentials.DetectOptions{Scopes: []string{Scope}}
		}
		c, err := httptransport.NewClient(opts)
		if err != nil {
			return nil, fmt.Errorf("auth: credentials for the Auth backend: %w", err)
		}
		c.Timeout = httpTimeout
		f.client = c
	}
	f.lookupURL = strings.TrimSuffix(base, "/") + "/projects/" + url.PathEscape(cfg.ProjectID) + "/accounts:lookup"
	return f, nil
}

// emulatorTransport authorises as the emulator expects an admin.
type emulatorTransport struct{ base http.RoundTripper }

func (e emulatorTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer owner")
	return e.base.RoundTrip(r)
}

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", httpx.Errorf(http.StatusUnauthorized, CodeMissingToken, "an Authorization: Bearer <Firebase ID token> header is required")
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", httpx.Errorf(http.StatusUnauthorized, CodeMissingToken, "the Authorization header must be \"Bearer <Firebase ID token>\"")
	}
	return token, nil
}

// idClaims are the claims of a Firebase ID token that Verify checks.
type idClaims struct {
	Iss      string           `json:"iss"`
	Aud      string           `json:"aud"`
	Sub      string           `json:"sub"`
	Iat      *jws.NumericDate `json:"iat"`
	Exp      *jws.NumericDate `json:"exp"`
	AuthTime *jws.NumericDate `json:"auth_time"`
}

// Verify checks the request's ID token and returns its user.
func (f *Firebase) Verify(ctx context.Context, r *http.Request) (*User, error) {
	token, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	now := f.clock()
	key := tokenKey(token)
	c, seen := f.seen.get(key)
	if !seen {
		if f.keys == nil {
			err = jws.DecodeUnsigned(token, &c)
		} else {
			err = f.keys.Verify(ctx, token, &c)
		}
		switch {
		case errors.Is(err, jws.ErrKeysUnavailable):
			return nil, httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not verify the ID token")
		case err != nil:
			return nil, invalid("the ID token is malformed or not signed by Firebase")
		}
	}
	if err := f.checkClaims(&c, now); err != nil {
		return nil, err
	}
	if !seen {
		f.seen.add(key, c, now)
	}
	if err := f.checkUser(ctx, c.Sub, int64(*c.Iat)); err != nil {
		return nil, err
	}
	return &User{UID: c.Sub}, nil
}

func (f *Firebase) clock() time.Time {
	if f.now != nil {
		return f.now()
	}
	return time.Now()
}

func invalid(msg string) error {
	return httpx.Errorf(http.StatusUnauthorized, CodeInvalidToken, "%s", msg)
}

// checkClaims checks what Firebase documents: aud is the project, iss its
// securetoken issuer, sub a non-empty uid of at most 128 characters, iat and
// auth_time in the past and exp in the future (each within the clock skew).
// It runs on every request, for tokens seen before too: the times change.
func (f *Firebase) checkClaims(c *idClaims, now time.Time) error {
	switch {
	case c.Aud != f.projectID || c.Iss != f.issuer:
		return invalid("the ID token is for another project")
	case c.Sub == "" || len(c.Sub) > maxUIDLength:
		return invalid("the ID token has no valid subject")
	case c.Iat == nil || c.Exp == nil:
		return invalid("the ID token has no iat or exp")
	case c.Iat.Time().After(now.Add(clockSkew)) || (c.AuthTime != nil && c.AuthTime.Time().After(now.Add(clockSkew))):
		return invalid("the ID token is issued in the future")
	case c.Exp.Time().Add(clockSkew).Before(now):
		return httpx.Errorf(http.StatusUnauthorized, CodeTokenExpired, "the ID token has expired; get a fresh one")
	}
	return nil
}

// checkUser asks the Auth backend about the user: gone, disabled, or its
// tokens revoked after iat (the Admin SDK's rule: revoked when iat is before
// the user's validSince).
func (f *Firebase) checkUser(ctx context.Context, uid string, iat int64) error {
	u, err := f.lookup(ctx, uid)
	switch {
	case errors.Is(err, errUserNotFound):
		return invalid("the ID token's user does not exist")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not verify the ID token in time")
	case err != nil:
		// The Auth backend could not be asked (network, 5xx): not the caller's fault.
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not verify the ID token")
	case u.disabled:
		return httpx.Errorf(http.StatusUnauthorized, CodeUserDisabled, "the user account is disabled")
	case iat < u.validSince:
		return httpx.Errorf(http.StatusUnauthorized, CodeTokenRevoked, "the ID token has been revoked; sign in again")
	}
	return nil
}

var errUserNotFound = errors.New("auth: user not found")

type userState struct {
	disabled   bool
	validSince int64 // seconds; tokens issued before are revoked
}

// lookup reads the user's disabled flag and validSince: one accounts:lookup,
// decoding only those fields.
func (f *Firebase) lookup(ctx context.Context, uid string) (userState, error) {
	body, err := json.Marshal(map[string][]string{"localId": {uid}})
	if err != nil {
		return userState{}, fmt.Errorf("auth: lookup request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.lookupURL, bytes.NewReader(body))
	if err != nil {
		return userState{}, fmt.Errorf("auth: lookup request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	// A lookup only reads, so it is idempotent: saying so (an
	// Idempotency-Key entry without a value, which is not sent) lets the
	// transport send it again on a new connection when the kept-alive one it
	// chose turns out closed by the server before any answer (the race of an
	// idle timeout, which Node's 5 s default makes frequent against the Auth
	// emulator). Otherwise a POST is never retried, and the caller gets a 503.
	req.Header["Idempotency-Key"] = nil
	resp, err := f.client.Do(req)
	if err != nil {
		return userState{}, fmt.Errorf("auth: lookup: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxLookupBytes))
	if err != nil {
		return userState{}, fmt.Errorf("auth: lookup: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && strings.HasPrefix(e.Error.Message, "USER_NOT_FOUND") {
			return userState{}, errUserNotFound
		}
		return userState{}, fmt.Errorf("auth: lookup: status %d: %s", resp.StatusCode, jws.Truncate(e.Error.Message, 200))
	}
	var out struct {
		Users []struct {
			LocalID    string `json:"localId"`
			Disabled   bool   `json:"disabled"`
			ValidSince string `json:"validSince"`
		} `json:"users"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return userState{}, fmt.Errorf("auth: lookup: malformed answer: %w", err)
	}
	if len(out.Users) == 0 || out.Users[0].LocalID != uid {
		return userState{}, errUserNotFound
	}
	u := userState{disabled: out.Users[0].Disabled}
	if vs := out.Users[0].ValidSince; vs != "" {
		if u.validSince, err = strconv.ParseInt(vs, 10, 64); err != nil {
			return userState{}, fmt.Errorf("auth: lookup: malformed validSince: %w", err)
		}
	}
	return u, nil
}
