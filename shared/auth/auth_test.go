package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	fbauth "firebase.google.com/go/v4/auth"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/testenv"
)

// TestVerifyAgainstAuthEmulator checks every outcome against the real
// Firebase Auth emulator through the real Admin SDK.
func TestVerifyAgainstAuthEmulator(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	v, err := auth.NewFirebase(ctx, env.ProjectID)
	if err != nil {
		t.Fatal(err)
	}

	good := env.SignUp(t)
	now := time.Now()

	revoked := env.SignUp(t)
	revokedToken := env.EmulatorIDToken(revoked.UID, now.Add(-time.Hour), now.Add(time.Hour))
	env.UpdateUser(t, revoked.UID, map[string]any{"validSince": strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)})

	disabled := env.SignUp(t)
	env.UpdateUser(t, disabled.UID, map[string]any{"disableUser": true})

	deleted := env.SignUp(t)
	env.DeleteUser(t, deleted.UID)

	cases := []struct {
		name     string
		header   string
		wantUID  string
		wantCode string
	}{
		{name: "valid", header: "Bearer " + good.IDToken, wantUID: good.UID},
		{name: "scheme is case-insensitive", header: "bearer " + good.IDToken, wantUID: good.UID},
		{name: "missing", header: "", wantCode: auth.CodeMissingToken},
		{name: "not bearer", header: "Basic dXNlcjpwdw==", wantCode: auth.CodeMissingToken},
		{name: "empty bearer", header: "Bearer ", wantCode: auth.CodeMissingToken},
		{name: "malformed", header: "Bearer not-a-jwt", wantCode: auth.CodeInvalidToken},
		{name: "malformed segments", header: "Bearer a.b.c", wantCode: auth.CodeInvalidToken},
		{name: "wrong audience", header: "Bearer " + testenv.Env{ProjectID: "demo-other"}.EmulatorIDToken(good.UID, now, now.Add(time.Hour)), wantCode: auth.CodeInvalidToken},
		{name: "expired", header: "Bearer " + env.EmulatorIDToken(good.UID, now.Add(-2*time.Hour), now.Add(-time.Hour)), wantCode: auth.CodeTokenExpired},
		{name: "revoked", header: "Bearer " + revokedToken, wantCode: auth.CodeTokenRevoked},
		{name: "disabled", header: "Bearer " + disabled.IDToken, wantCode: auth.CodeUserDisabled},
		{name: "deleted user", header: "Bearer " + deleted.IDToken, wantCode: auth.CodeInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			u, err := v.Verify(ctx, r)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if u.UID != tc.wantUID {
					t.Errorf("uid = %q, want %q", u.UID, tc.wantUID)
				}
				return
			}
			var he *httpx.Error
			if !errors.As(err, &he) {
				t.Fatalf("Verify error = %v, want an *httpx.Error", err)
			}
			if he.Status != http.StatusUnauthorized || he.Code != tc.wantCode {
				t.Errorf("got %d %q, want 401 %q", he.Status, he.Code, tc.wantCode)
			}
		})
	}
}

func TestBackendUnreachableIsNotTheCallersFault(t *testing.T) {
	v := &auth.Firebase{Checker: failingChecker{}}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer a.b.c")
	_, err := v.Verify(t.Context(), r)
	var he *httpx.Error
	if !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want 503", err)
	}
}

type failingChecker struct{}

func (failingChecker) VerifyIDTokenAndCheckRevoked(context.Context, string) (*fbauth.Token, error) {
	return nil, errors.New("dial tcp: connection refused")
}
