package tasks_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/jws"
	"threadsfunctions.dev/shared/tasks"
)

const (
	testAudience = "https://europe-west1-demo-threads.cloudfunctions.net/thPublish"
	testSA       = "tasks-invoker@demo-threads.iam.gserviceaccount.com"
)

// testKey is an RSA signing key with its kid.
type testKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func newKey(t *testing.T, kid string) testKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("rsa.GenerateKey: %v", err)
	}
	return testKey{kid: kid, priv: priv}
}

// jwksServer serves a JWK set that a test can change, and counts fetches.
type jwksServer struct {
	URL     string
	fetches atomic.Int32

	mu   sync.Mutex
	keys []testKey
}

func newJWKSServer(t *testing.T, keys ...testKey) *jwksServer {
	t.Helper()
	j := &jwksServer{keys: keys}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		set.Keys = []map[string]string{} // a non-RSA key the verifier must skip
		set.Keys = append(set.Keys, map[string]string{"kty": "EC", "kid": "ec-key", "crv": "P-256", "x": "AA", "y": "AA"})
		for _, k := range j.keys {
			set.Keys = append(set.Keys, jws.PublicJWK(k.kid, &k.priv.PublicKey))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	j.URL = srv.URL
	return j
}

func (j *jwksServer) set(keys ...testKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = keys
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

// signRS256 builds a token with the given header and claims, signed by k.
func signRS256(t *testing.T, k testKey, header, claims map[string]any) string {
	t.Helper()
	tok, err := jws.SignRS256(k.priv, header, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func validHeader(k testKey) map[string]any {
	return map[string]any{"alg": "RS256", "kid": k.kid, "typ": "JWT"}
}

func validClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":            "https://accounts.google.com",
		"aud":            testAudience,
		"azp":            testSA,
		"sub":            "112233445566778899",
		"email":          testSA,
		"email_verified": true,
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
	}
}

func requestWith(authz ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, testAudience, strings.NewReader("{}"))
	for _, a := range authz {
		r.Header.Add("Authorization", a)
	}
	return r
}

func TestVerify(t *testing.T) {
	t.Parallel()
	key := newKey(t, "key-1")
	other := newKey(t, "key-1") // same kid, different key
	jwks := newJWKSServer(t, key)
	v := tasks.NewVerifier(testAudience, testSA, jwks.URL, nil)

	// with returns a valid token after edit changed its claims.
	with := func(edit func(c map[string]any)) string {
		c := validClaims()
		edit(c)
		return signRS256(t, key, validHeader(key), c)
	}
	valid := with(func(map[string]any) {})
	now := time.Now()

	tests := []struct {
		name  string
		authz []string // Authorization header values
		want  error    // nil, ErrNoToken or ErrInvalidToken
	}{
		{"valid", []string{"Bearer " + valid}, nil},
		{"lowercase scheme", []string{"bearer " + valid}, nil},
		{"bare issuer", []string{"Bearer " + with(func(c map[string]any) { c["iss"] = "accounts.google.com" })}, nil},
		{"aud array", []string{"Bearer " + with(func(c map[string]any) { c["aud"] = []string{"other", testAudience} })}, nil},
		{"email other case", []string{"Bearer " + with(func(c map[string]any) { c["email"] = strings.ToUpper(testSA) })}, nil},
		{"expired within skew", []string{"Bearer " + with(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() })}, nil},
		{"iat within skew", []string{"Bearer " + with(func(c map[string]any) { c["iat"] = now.Add(30 * time.Second).Unix() })}, nil},

		{"missing header", nil, tasks.ErrNoToken},
		{"basic scheme", []string{"Basic dXNlcjpwYXNz"}, tasks.ErrNoToken},
		{"empty bearer", []string{"Bearer "}, tasks.ErrNoToken},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, tasks.ErrInvalidToken},
		{"garbage", []string{"Bearer garbage"}, tasks.ErrInvalidToken},
		{"garbage segments", []string{"Bearer a.b.c"}, tasks.ErrInvalidToken},
		{"wrong aud", []string{"Bearer " + with(func(c map[string]any) { c["aud"] = "https://evil.example/thPublish" })}, tasks.ErrInvalidToken},
		{"aud array without ours", []string{"Bearer " + with(func(c map[string]any) { c["aud"] = []string{"a", "b"} })}, tasks.ErrInvalidToken},
		{"wrong email", []string{"Bearer " + with(func(c map[string]any) { c["email"] = "someone@demo-threads.iam.gserviceaccount.com" })}, tasks.ErrInvalidToken},
		{"no email", []string{"Bearer " + with(func(c map[string]any) { delete(c, "email") })}, tasks.ErrInvalidToken},
		{"email_verified false", []string{"Bearer " + with(func(c map[string]any) { c["email_verified"] = false })}, tasks.ErrInvalidToken},
		{"email_verified missing", []string{"Bearer " + with(func(c map[string]any) { delete(c, "email_verified") })}, tasks.ErrInvalidToken},
		{"wrong issuer", []string{"Bearer " + with(func(c map[string]any) { c["iss"] = "https://evil.example" })}, tasks.ErrInvalidToken},
		{"expired", []string{"Bearer " + with(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() })}, tasks.ErrInvalidToken},
		{"no exp", []string{"Bearer " + with(func(c map[string]any) { delete(c, "exp") })}, tasks.ErrInvalidToken},
		{"future iat", []string{"Bearer " + with(func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() })}, tasks.ErrInvalidToken},
		{"no iat", []string{"Bearer " + with(func(c map[string]any) { delete(c, "iat") })}, tasks.ErrInvalidToken},
		{"future nbf", []string{"Bearer " + with(func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() })}, tasks.ErrInvalidToken},
		{"alg none", []string{"Bearer " + algNone(t, key)}, tasks.ErrInvalidToken},
		{"alg HS256 keyed with the public key", []string{"Bearer " + algHS256(t, key)}, tasks.ErrInvalidToken},
		{"no kid", []string{"Bearer " + signRS256(t, key, map[string]any{"alg": "RS256"}, validClaims())}, tasks.ErrInvalidToken},
		{"crit header", []string{"Bearer " + signRS256(t, key, map[string]any{"alg": "RS256", "kid": key.kid, "crit": []string{"exp"}}, validClaims())}, tasks.ErrInvalidToken},
		{"bad signature", []string{"Bearer " + flipSignature(t, valid)}, tasks.ErrInvalidToken},
		{"signed by another key", []string{"Bearer " + signRS256(t, other, validHeader(other), validClaims())}, tasks.ErrInvalidToken},
		{"claims swapped after signing", []string{"Bearer " + swapClaims(t, valid, func(c map[string]any) { c["email"] = "attacker@example.com" })}, tasks.ErrInvalidToken},
	}
	// The group returns when its parallel cases are done.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				err := v.Verify(t.Context(), requestWith(tc.authz...))
				if tc.want == nil {
					if err != nil {
						t.Fatalf("Verify = %v, want nil", err)
					}
					return
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify = %v, want %v", err, tc.want)
				}
				for _, a := range tc.authz {
					_, tok, _ := strings.Cut(a, " ")
					for _, part := range strings.Split(tok, ".") {
						if len(part) > 8 && strings.Contains(err.Error(), part) {
							t.Errorf("error %q contains part of the token", err)
						}
					}
				}
			})
		}
	})
	if got := jwks.fetches.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (cached)", got)
	}
}

func algNone(t *testing.T, k testKey) string {
	return b64(mustJSON(t, map[string]any{"alg": "none", "kid": k.kid})) + "." + b64(mustJSON(t, validClaims())) + "."
}

// algHS256 is the classic key-confusion attack: an HMAC keyed with the
// public key's modulus.
func algHS256(t *testing.T, k testKey) string {
	in := b64(mustJSON(t, map[string]any{"alg": "HS256", "kid": k.kid})) + "." + b64(mustJSON(t, validClaims()))
	mac := hmac.New(sha256.New, k.priv.N.Bytes())
	mac.Write([]byte(in))
	return in + "." + b64(mac.Sum(nil))
}

func flipSignature(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndex(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatalf("decode signature: %v", err)
	}
	sig[len(sig)/2] ^= 0x01
	return tok[:i+1] + b64(sig)
}

func swapClaims(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	c := validClaims()
	edit(c)
	return parts[0] + "." + b64(mustJSON(t, c)) + "." + parts[2]
}

func TestVerifyRefetchesOnUnknownKid(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := newKey(t, "k1"), newKey(t, "k2"), newKey(t, "k3")
	jwks := newJWKSServer(t, k1)
	v := tasks.NewVerifier(testAudience, testSA, jwks.URL, nil)
	verify := func(k testKey) error {
		tok := signRS256(t, k, validHeader(k), validClaims())
		return v.Verify(t.Context(), requestWith("Bearer "+tok))
	}

	steps := []struct {
		name        string
		key         testKey
		want        error
		wantFetches int32
	}{
		{"first use fetches", k1, nil, 1},
		{"cached", k1, nil, 1},
		{"rotated key refetches", k2, nil, 2},
		{"unknown kid within a minute does not refetch", k3, tasks.ErrInvalidToken, 2},
		{"known keys still work", k1, nil, 2},
		{"rotated key cached", k2, nil, 2},
	}
	for i, s := range steps {
		if s.name == "rotated key refetches" {
			jwks.set(k1, k2)
		}
		if err := verify(s.key); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Fatalf("step %d (%s): Verify = %v, want %v", i, s.name, err, s.want)
		}
		if got := jwks.fetches.Load(); got != s.wantFetches {
			t.Fatalf("step %d (%s): %d JWKS fetches, want %d", i, s.name, got, s.wantFetches)
		}
	}
}

func TestVerifyConcurrentFirstUseFetchesOnce(t *testing.T) {
	t.Parallel()
	k := newKey(t, "k")
	jwks := newJWKSServer(t, k)
	v := tasks.NewVerifier(testAudience, testSA, jwks.URL, nil)
	tok := signRS256(t, k, validHeader(k), validClaims())

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- v.Verify(t.Context(), requestWith("Bearer "+tok)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify = %v", err)
		}
	}
	if got := jwks.fetches.Load(); got != 1 {
		t.Errorf("%d JWKS fetches, want 1", got)
	}
}

func TestVerifyKeysUnavailable(t *testing.T) {
	t.Parallel()
	k := newKey(t, "k")
	tok := signRS256(t, k, validHeader(k), validClaims())

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(empty.Close)

	for name, url := range map[string]string{"5xx": failing.URL, "no keys": empty.URL, "unreachable": "http://127.0.0.1:1/certs"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := tasks.NewVerifier(testAudience, testSA, url, nil)
			err := v.Verify(t.Context(), requestWith("Bearer "+tok))
			if !errors.Is(err, tasks.ErrKeysUnavailable) {
				t.Fatalf("Verify = %v, want ErrKeysUnavailable", err)
			}
			if errors.Is(err, tasks.ErrInvalidToken) {
				t.Errorf("Verify = %v, must not blame the token", err)
			}
		})
	}
}

// TestRefusal: keys that could not be fetched are the service's fault
// (503, delivered again); any other refusal is the caller's (401, the code given).
func TestRefusal(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string
		wantInText string
	}{
		{"keys unavailable", fmt.Errorf("%w: fetch: HTTP 503", tasks.ErrKeysUnavailable), http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "could not check"},
		{"invalid token", fmt.Errorf("%w: audience", tasks.ErrInvalidToken), http.StatusUnauthorized, "task_unauthorized", "not valid"},
		{"no token", tasks.ErrNoToken, http.StatusUnauthorized, "task_unauthorized", "not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tasks.Refusal(t.Context(), tc.err, "task_unauthorized", "the token is not valid")
			var he *httpx.Error
			if !errors.As(err, &he) || he.Status != tc.status || he.Code != tc.code || !strings.Contains(he.Message, tc.wantInText) {
				t.Fatalf("Refusal = %#v, want %d %s", err, tc.status, tc.code)
			}
		})
	}
}
