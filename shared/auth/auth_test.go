package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gauth "cloud.google.com/go/auth"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/jws"
	"threadsfunctions.dev/shared/testenv"
)

// TestVerifyAgainstAuthEmulator checks every outcome against the real
// Firebase Auth emulator, with the emulator's own (unsigned) tokens.
func TestVerifyAgainstAuthEmulator(t *testing.T) {
	env := testenv.Require(t)
	ctx := t.Context()
	v, err := auth.NewFirebase(ctx, auth.FirebaseConfig{ProjectID: env.ProjectID, EmulatorHost: env.AuthHost})
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
		{name: "issued in the future", header: "Bearer " + env.EmulatorIDToken(good.UID, now.Add(time.Hour), now.Add(2*time.Hour)), wantCode: auth.CodeInvalidToken},
		{name: "revoked", header: "Bearer " + revokedToken, wantCode: auth.CodeTokenRevoked},
		{name: "disabled", header: "Bearer " + disabled.IDToken, wantCode: auth.CodeUserDisabled},
		{name: "deleted user", header: "Bearer " + deleted.IDToken, wantCode: auth.CodeInvalidToken},
		{name: "unknown user", header: "Bearer " + env.EmulatorIDToken("no-such-user-"+testenv.RandomID(t), now, now.Add(time.Hour)), wantCode: auth.CodeInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkVerify(t, v, tc.header, tc.wantUID, http.StatusUnauthorized, tc.wantCode)
		})
	}
}

// checkVerify verifies a request with the header and checks the outcome:
// the user when wantCode is empty, else an *httpx.Error of that status and
// code whose text does not quote the token.
func checkVerify(t *testing.T, v auth.Verifier, header, wantUID string, wantStatus int, wantCode string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	u, err := v.Verify(t.Context(), r)
	if wantCode == "" {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if u.UID != wantUID {
			t.Errorf("uid = %q, want %q", u.UID, wantUID)
		}
		return
	}
	var he *httpx.Error
	if !errors.As(err, &he) {
		t.Fatalf("Verify error = %v, want an *httpx.Error", err)
	}
	if he.Status != wantStatus || he.Code != wantCode {
		t.Errorf("got %d %q (%v), want %d %q", he.Status, he.Code, err, wantStatus, wantCode)
	}
	if _, tok, _ := strings.Cut(header, " "); len(tok) > 8 && strings.Contains(err.Error()+he.Message, tok) {
		t.Errorf("the error quotes the token: %v", err)
	}
}

// certServer serves X.509 certificates by kid, as Google's securetoken
// endpoint does, for a test signing key.
type certServer struct {
	URL  string
	kid  string
	priv *rsa.PrivateKey
}

func newCertServer(t testing.TB) *certServer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "securetoken.system.gserviceaccount.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	c := &certServer{kid: "test-kid-" + testenv.RandomID(t), priv: priv}
	body, err := json.Marshal(map[string]string{c.kid: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Header().Set("Cache-Control", "public, max-age=22374, must-revalidate, no-transform")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign builds an RS256 token with the header and claims, signed by key.
func sign(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	tok, err := jws.SignRS256(key, header, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// firebaseClaims are a real ID token's claims for uid in project.
func firebaseClaims(project, uid string, iat time.Time) map[string]any {
	return map[string]any{
		"iss":       "https://securetoken.google.com/" + project,
		"aud":       project,
		"auth_time": iat.Unix(),
		"user_id":   uid,
		"sub":       uid,
		"iat":       iat.Unix(),
		"exp":       iat.Add(time.Hour).Unix(),
		"firebase":  map[string]any{"identities": map[string]any{}, "sign_in_provider": "password"},
	}
}

type staticToken string

func (s staticToken) Token(context.Context) (*gauth.Token, error) {
	return &gauth.Token{Value: string(s), Type: "Bearer"}, nil
}

// TestVerifySignedTokens runs the production path: RS256 tokens signed by a
// key whose certificate is served as Google serves securetoken's, users
// looked up through the real Google auth HTTP transport (credentials
// attached by cloud.google.com/go/auth) at the Auth emulator, which takes
// "owner" as its admin token.
func TestVerifySignedTokens(t *testing.T) {
	env := testenv.Require(t)
	certs := newCertServer(t)
	v, err := auth.NewFirebase(t.Context(), auth.FirebaseConfig{
		ProjectID:   env.ProjectID,
		KeysURL:     certs.URL,
		AuthURL:     "http://" + env.AuthHost + "/identitytoolkit.googleapis.com/v1",
		Credentials: gauth.NewCredentials(&gauth.CredentialsOptions{TokenProvider: staticToken("owner")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	good, revoked, disabled := env.SignUp(t), env.SignUp(t), env.SignUp(t)
	env.UpdateUser(t, revoked.UID, map[string]any{"validSince": strconv.FormatInt(now.Add(-time.Minute).Unix(), 10)})
	env.UpdateUser(t, disabled.UID, map[string]any{"disableUser": true})

	hdr := map[string]any{"alg": "RS256", "kid": certs.kid, "typ": "JWT"}
	with := func(edit func(c map[string]any)) map[string]any {
		c := firebaseClaims(env.ProjectID, good.UID, now)
		edit(c)
		return c
	}
	valid := sign(t, certs.priv, hdr, firebaseClaims(env.ProjectID, good.UID, now))
	cases := []struct {
		name     string
		token    string
		wantUID  string
		wantCode string
	}{
		{name: "valid", token: valid, wantUID: good.UID},
		{name: "emulator token (alg none)", token: good.IDToken, wantCode: auth.CodeInvalidToken},
		{name: "unsigned copy of a valid token", token: b64JSON(t, map[string]any{"alg": "none"}) + "." + strings.Split(valid, ".")[1] + ".", wantCode: auth.CodeInvalidToken},
		{name: "signature of another key", token: sign(t, other, hdr, firebaseClaims(env.ProjectID, good.UID, now)), wantCode: auth.CodeInvalidToken},
		{name: "unknown kid", token: sign(t, certs.priv, map[string]any{"alg": "RS256", "kid": "other"}, firebaseClaims(env.ProjectID, good.UID, now)), wantCode: auth.CodeInvalidToken},
		{name: "no kid", token: sign(t, certs.priv, map[string]any{"alg": "RS256"}, firebaseClaims(env.ProjectID, good.UID, now)), wantCode: auth.CodeInvalidToken},
		{name: "claims changed after signing", token: strings.Join([]string{strings.Split(valid, ".")[0], b64JSON(t, firebaseClaims(env.ProjectID, revoked.UID, now)), strings.Split(valid, ".")[2]}, "."), wantCode: auth.CodeInvalidToken},
		{name: "another project's audience", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { c["aud"] = "demo-other" })), wantCode: auth.CodeInvalidToken},
		{name: "another issuer", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { c["iss"] = "https://accounts.google.com" })), wantCode: auth.CodeInvalidToken},
		{name: "audience as an array", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { c["aud"] = []string{env.ProjectID} })), wantCode: auth.CodeInvalidToken},
		{name: "empty subject", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { c["sub"] = "" })), wantCode: auth.CodeInvalidToken},
		{name: "subject over 128 characters", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { c["sub"] = strings.Repeat("u", 129) })), wantCode: auth.CodeInvalidToken},
		{name: "no exp", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { delete(c, "exp") })), wantCode: auth.CodeInvalidToken},
		{name: "expired", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Minute).Unix() })), wantCode: auth.CodeTokenExpired},
		{name: "expired within the clock skew", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), wantUID: good.UID},
		{name: "issued in the future", token: sign(t, certs.priv, hdr, firebaseClaims(env.ProjectID, good.UID, now.Add(10*time.Minute))), wantCode: auth.CodeInvalidToken},
		{name: "authenticated in the future", token: sign(t, certs.priv, hdr, with(func(c map[string]any) { c["auth_time"] = now.Add(time.Hour).Unix() })), wantCode: auth.CodeInvalidToken},
		{name: "revoked", token: sign(t, certs.priv, hdr, firebaseClaims(env.ProjectID, revoked.UID, now.Add(-10*time.Minute))), wantCode: auth.CodeTokenRevoked},
		{name: "issued after the revocation", token: sign(t, certs.priv, hdr, firebaseClaims(env.ProjectID, revoked.UID, now)), wantUID: revoked.UID},
		{name: "disabled", token: sign(t, certs.priv, hdr, firebaseClaims(env.ProjectID, disabled.UID, now)), wantCode: auth.CodeUserDisabled},
		{name: "unknown user", token: sign(t, certs.priv, hdr, firebaseClaims(env.ProjectID, "no-such-user-"+testenv.RandomID(t), now)), wantCode: auth.CodeInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkVerify(t, v, "Bearer "+tc.token, tc.wantUID, http.StatusUnauthorized, tc.wantCode)
		})
	}
}

// TestBackendTroubleIsNotTheCallersFault: when the keys or the Auth backend
// cannot be read, the answer is 503 (retry), never a 401 that would sign the
// user out.
func TestBackendTroubleIsNotTheCallersFault(t *testing.T) {
	const project = "demo-threadsfn-unit"
	certs := newCertServer(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"code":500,"message":"INTERNAL"}}`))
	}))
	t.Cleanup(failing.Close)
	creds := gauth.NewCredentials(&gauth.CredentialsOptions{TokenProvider: staticToken("test-access-token")})
	signed := sign(t, certs.priv, map[string]any{"alg": "RS256", "kid": certs.kid}, firebaseClaims(project, "u1", time.Now()))
	unsigned := testenv.Env{ProjectID: project}.EmulatorIDToken("u1", time.Now(), time.Now().Add(time.Hour))

	cases := []struct {
		name  string
		cfg   auth.FirebaseConfig
		token string
	}{
		{"keys endpoint fails", auth.FirebaseConfig{ProjectID: project, KeysURL: failing.URL, AuthURL: failing.URL, Credentials: creds}, signed},
		{"keys endpoint unreachable", auth.FirebaseConfig{ProjectID: project, KeysURL: "http://127.0.0.1:1/certs", AuthURL: failing.URL, Credentials: creds}, signed},
		{"lookup fails", auth.FirebaseConfig{ProjectID: project, KeysURL: certs.URL, AuthURL: failing.URL, Credentials: creds}, signed},
		{"lookup unreachable", auth.FirebaseConfig{ProjectID: project, KeysURL: certs.URL, AuthURL: "http://127.0.0.1:1/v1", Credentials: creds}, signed},
		{"emulator unreachable", auth.FirebaseConfig{ProjectID: project, EmulatorHost: "127.0.0.1:1"}, unsigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := auth.NewFirebase(t.Context(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkVerify(t, v, "Bearer "+tc.token, "", http.StatusServiceUnavailable, httpx.CodeServiceUnavailable)
		})
	}
}

// TestLookupSurvivesAClosedKeptAliveConnection: when the server closes a
// kept-alive connection just as the next lookup is sent on it (an idle
// timeout's race), the lookup is sent again on a new connection instead of
// failing the caller's request with a 503.
func TestLookupSurvivesAClosedKeptAliveConnection(t *testing.T) {
	const project = "demo-threadsfn-unit"
	certs := newCertServer(t)
	signed := sign(t, certs.priv, map[string]any{"alg": "RS256", "kid": certs.kid}, firebaseClaims(project, "u1", time.Now()))
	unsigned := testenv.Env{ProjectID: project}.EmulatorIDToken("u1", time.Now(), time.Now().Add(time.Hour))
	tests := []struct {
		name  string
		cfg   func(backendURL string) auth.FirebaseConfig
		token string
	}{
		{"Google (credentials' transport)", func(u string) auth.FirebaseConfig {
			return auth.FirebaseConfig{ProjectID: project, KeysURL: certs.URL, AuthURL: u + "/v1",
				Credentials: gauth.NewCredentials(&gauth.CredentialsOptions{TokenProvider: staticToken("test-access-token")})}
		}, signed},
		{"Auth emulator", func(u string) auth.FirebaseConfig {
			return auth.FirebaseConfig{ProjectID: project, EmulatorHost: strings.TrimPrefix(u, "http://")}
		}, unsigned},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			served := map[string]int{} // requests per client address
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				served[r.RemoteAddr]++
				n := served[r.RemoteAddr]
				mu.Unlock()
				if n == 2 { // the connection's second request: close it unanswered
					conn, _, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					_ = conn.Close()
					return
				}
				_, _ = w.Write([]byte(`{"users":[{"localId":"u1","validSince":"1"}]}`))
			}))
			t.Cleanup(backend.Close)
			v, err := auth.NewFirebase(t.Context(), tc.cfg(backend.URL))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				checkVerify(t, v, "Bearer "+tc.token, "u1", 0, "")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(served) < 2 {
				t.Errorf("lookups came on %d connection(s), want a new one after the closed one", len(served))
			}
		})
	}
}

// TestLookupRequest checks what the lookup sends Google: one POST to the
// project's accounts:lookup with the uid and the credentials' access token.
func TestLookupRequest(t *testing.T) {
	const project = "demo-threadsfn-unit"
	certs := newCertServer(t)
	type seen struct {
		method, path, authz, contentType string
		idempotencyKey                   []string
		body                             map[string][]string
	}
	got := make(chan seen, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{method: r.Method, path: r.URL.Path, authz: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type"), idempotencyKey: r.Header.Values("Idempotency-Key")}
		_ = json.NewDecoder(r.Body).Decode(&s.body)
		got <- s
		_, _ = w.Write([]byte(`{"kind":"identitytoolkit#GetAccountInfoResponse","users":[{"localId":"u1","email":"a@example.com","validSince":"1","disabled":false,"providerUserInfo":[]}]}`))
	}))
	t.Cleanup(backend.Close)
	v, err := auth.NewFirebase(t.Context(), auth.FirebaseConfig{
		ProjectID: project, KeysURL: certs.URL, AuthURL: backend.URL + "/v1",
		Credentials: gauth.NewCredentials(&gauth.CredentialsOptions{TokenProvider: staticToken("test-access-token")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, certs.priv, map[string]any{"alg": "RS256", "kid": certs.kid}, firebaseClaims(project, "u1", time.Now()))
	checkVerify(t, v, "Bearer "+tok, "u1", 0, "")
	s := <-got
	want := seen{method: http.MethodPost, path: "/v1/projects/" + project + "/accounts:lookup", authz: "Bearer test-access-token", contentType: "application/json"}
	if s.method != want.method || s.path != want.path || s.authz != want.authz || s.contentType != want.contentType {
		t.Errorf("lookup request = %s %s (Authorization %q, Content-Type %q), want %s %s (%q, %q)",
			s.method, s.path, s.authz, s.contentType, want.method, want.path, want.authz, want.contentType)
	}
	if len(s.idempotencyKey) != 0 {
		t.Errorf("lookup sent Idempotency-Key %q; it only marks the request retryable", s.idempotencyKey)
	}
	if ids := s.body["localId"]; len(ids) != 1 || ids[0] != "u1" {
		t.Errorf("lookup body localId = %q, want [u1]", ids)
	}
}
