// Package auth verifies the Firebase ID tokens that callers send as
// "Authorization: Bearer <token>", with the Firebase Admin SDK.
//
// Each way a token can be wrong has its own stable 401 code, so an app can
// tell "sign in again" (expired, revoked) from a bug (malformed, missing).
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	firebase "firebase.google.com/go/v4"
	fbauth "firebase.google.com/go/v4/auth"
	"google.golang.org/api/option"

	"threadsfunctions.dev/shared/httpx"
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

// TokenChecker is the part of the Admin SDK's auth client that Firebase uses.
type TokenChecker interface {
	VerifyIDTokenAndCheckRevoked(ctx context.Context, idToken string) (*fbauth.Token, error)
}

// Firebase verifies ID tokens with the Admin SDK, including the revocation
// and disabled-user checks (one call to the Auth backend per request).
type Firebase struct {
	Checker TokenChecker
}

// NewFirebase builds the Admin SDK auth client for projectID. With
// FIREBASE_AUTH_EMULATOR_HOST set, the SDK talks to the emulator.
func NewFirebase(ctx context.Context, projectID string, opts ...option.ClientOption) (*Firebase, error) {
	// Telemetry off first, so a caller's options still win: the default
	// OpenTelemetry wrapping of the SDK's HTTP client exports nothing.
	opts = append([]option.ClientOption{option.WithTelemetryDisabled()}, opts...)
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: projectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("firebase app: %w", err)
	}
	client, err := app.Auth(ctx)
	if err != nil {
		return nil, fmt.Errorf("firebase auth client: %w", err)
	}
	return &Firebase{Checker: client}, nil
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

// Verify checks the request's ID token and returns its user.
func (f *Firebase) Verify(ctx context.Context, r *http.Request) (*User, error) {
	token, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	if strings.Count(token, ".") != 2 {
		return nil, httpx.Errorf(http.StatusUnauthorized, CodeInvalidToken, "the ID token is malformed")
	}
	t, err := f.Checker.VerifyIDTokenAndCheckRevoked(ctx, token)
	if err != nil {
		return nil, classify(err)
	}
	return &User{UID: t.UID}, nil
}

// classify maps Admin SDK errors to stable codes. Order matters: the SDK
// reports revoked and disabled tokens as invalid too.
func classify(err error) error {
	switch {
	case fbauth.IsIDTokenRevoked(err):
		return httpx.Errorf(http.StatusUnauthorized, CodeTokenRevoked, "the ID token has been revoked; sign in again")
	case fbauth.IsUserDisabled(err):
		return httpx.Errorf(http.StatusUnauthorized, CodeUserDisabled, "the user account is disabled")
	case fbauth.IsIDTokenExpired(err):
		return httpx.Errorf(http.StatusUnauthorized, CodeTokenExpired, "the ID token has expired; get a fresh one")
	case fbauth.IsUserNotFound(err):
		return httpx.Errorf(http.StatusUnauthorized, CodeInvalidToken, "the ID token's user does not exist")
	case fbauth.IsIDTokenInvalid(err):
		return httpx.Errorf(http.StatusUnauthorized, CodeInvalidToken, "the ID token is not valid")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not verify the ID token in time")
	default:
		// The Auth backend could not be asked (network, 5xx): not the caller's fault.
		return httpx.Wrap(err, http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not verify the ID token")
	}
}
