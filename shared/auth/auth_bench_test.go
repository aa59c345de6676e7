package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	gauth "cloud.google.com/go/auth"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/testenv"
)

// BenchmarkVerify measures one request's ID-token check: parsing, the
// RS256 signature (production) or none (emulator), the claims, and the
// accounts:lookup round trip to an in-process backend over loopback; for a
// token seen before by the verifier, only the claims and the lookup.
func BenchmarkVerify(b *testing.B) {
	const project = "demo-threadsfn-bench"
	certs := newCertServer(b)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"identitytoolkit#GetAccountInfoResponse","users":[{"localId":"u1","email":"u1@example.com","emailVerified":false,"passwordUpdatedAt":1764150000000,"providerUserInfo":[{"providerId":"password","email":"u1@example.com","federatedId":"u1@example.com","rawId":"u1@example.com"}],"validSince":"1764150000","lastLoginAt":"1764150000000","createdAt":"1764150000000","lastRefreshAt":"2026-11-26T12:00:00.000Z"}]}`))
	}))
	b.Cleanup(backend.Close)
	now := time.Now()
	signed, err := auth.NewFirebase(b.Context(), auth.FirebaseConfig{
		ProjectID: project, KeysURL: certs.URL, AuthURL: backend.URL,
		Credentials: gauth.NewCredentials(&gauth.CredentialsOptions{TokenProvider: staticToken("test-access-token")}),
	})
	if err != nil {
		b.Fatal(err)
	}
	emulated, err := auth.NewFirebase(b.Context(), auth.FirebaseConfig{ProjectID: project, EmulatorHost: backend.Listener.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	// Tokens never seen before: more distinct tokens than a verifier
	// remembers (1024), used in turn, so each one is checked in full.
	fresh := make([]string, 1025)
	for i := range fresh {
		fresh[i] = sign(b, certs.priv, map[string]any{"alg": "RS256", "kid": certs.kid}, firebaseClaims(project, "u1", now.Add(-time.Duration(i)*time.Second)))
	}
	cases := []struct {
		name   string
		v      *auth.Firebase
		tokens []string
	}{
		{"signed/first_use", signed, fresh},
		{"signed/seen_before", signed, fresh[:1]},
		{"emulator/seen_before", emulated, []string{testenv.Env{ProjectID: project}.EmulatorIDToken("u1", now, now.Add(time.Hour))}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			reqs := make([]*http.Request, len(tc.tokens))
			for i, tok := range tc.tokens {
				reqs[i] = httptest.NewRequest(http.MethodPost, "/", nil)
				reqs[i].Header.Set("Authorization", "Bearer "+tok)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := tc.v.Verify(b.Context(), reqs[i%len(reqs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
