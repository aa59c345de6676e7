package jws_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
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
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/shared/jws"
)

func certPEM(t *testing.T, pub, priv any) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func enc(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func rsaKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signWith(t *testing.T, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	tok, err := jws.SignRS256(key, map[string]string{"alg": "RS256", "kid": kid}, map[string]string{"sub": "s"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSignRS256 reads back what SignRS256 and PublicJWK make, through a
// JWKS KeySet: the claims as signed, and nothing for another key's token or
// a changed claim.
func TestSignRS256(t *testing.T) {
	t.Parallel()
	key, other := rsaKey(t, 2048), rsaKey(t, 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{jws.PublicJWK("k1", &key.PublicKey)}})
	}))
	t.Cleanup(srv.Close)
	ks := jws.NewKeySet(srv.URL, jws.JWKS, nil)

	claims := map[string]any{"sub": "s", "n": 7.0}
	good, err := jws.SignRS256(key, map[string]string{"alg": "RS256", "kid": "k1"}, claims)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := jws.SignRS256(other, map[string]string{"alg": "RS256", "kid": "k1"}, claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	changed := parts[0] + "." + enc(t, map[string]any{"sub": "t", "n": 7.0}) + "." + parts[2]

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"signed by the key", good, nil},
		{"signed by another key", forged, jws.ErrInvalidToken},
		{"claims changed after signing", changed, jws.ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			err := ks.Verify(t.Context(), tc.token, &got)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if tc.want == nil && (got["sub"] != "s" || got["n"] != 7.0) {
				t.Errorf("claims = %v, want %v", got, claims)
			}
		})
	}
}

// TestX509KeySet: the certificates-by-kid format Firebase publishes. Usable
// RSA certificates are kept; anything else is skipped, and a set without
// any usable key is "keys unavailable", not the token's fault.
func TestX509KeySet(t *testing.T) {
	t.Parallel()
	good, weak := rsaKey(t, 2048), rsaKey(t, 1024)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		certs map[string]string
		kid   string
		want  error
	}{
		{"rsa certificate", map[string]string{"k1": certPEM(t, &good.PublicKey, good)}, "k1", nil},
		{"other entries skipped", map[string]string{"k1": certPEM(t, &good.PublicKey, good), "ec": certPEM(t, &ec.PublicKey, ec), "junk": "not PEM", "weak": certPEM(t, &weak.PublicKey, weak)}, "k1", nil},
		{"unknown kid", map[string]string{"k1": certPEM(t, &good.PublicKey, good)}, "k2", jws.ErrInvalidToken},
		{"no usable key", map[string]string{"ec": certPEM(t, &ec.PublicKey, ec), "weak": certPEM(t, &weak.PublicKey, weak)}, "k1", jws.ErrKeysUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_ = json.NewEncoder(w).Encode(tc.certs)
			}))
			t.Cleanup(srv.Close)
			var claims struct{ Sub string }
			err := jws.NewKeySet(srv.URL, jws.X509, nil).Verify(t.Context(), signWith(t, good, tc.kid), &claims)
			if tc.want == nil {
				if err != nil || claims.Sub != "s" {
					t.Fatalf("Verify = %v (sub %q), want nil (sub s)", err, claims.Sub)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeUnsigned(t *testing.T) {
	t.Parallel()
	claims := enc(t, map[string]string{"sub": "s"})
	made, err := jws.EncodeUnsigned(map[string]string{"sub": "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.EncodeUnsigned(map[string]any{"sub": make(chan int)}); err == nil {
		t.Error("EncodeUnsigned of claims that are not JSON: no error")
	}
	tests := []struct {
		name, token string
		ok          bool
	}{
		{"made by EncodeUnsigned", made, true},
		{"alg none", enc(t, map[string]string{"alg": "none"}) + "." + claims + ".", true},
		{"signed alg", enc(t, map[string]string{"alg": "RS256"}) + "." + claims + ".", false},
		{"alg none with a signature", enc(t, map[string]string{"alg": "none"}) + "." + claims + ".c2ln", false},
		{"crit header", enc(t, map[string]any{"alg": "none", "crit": []string{"x"}}) + "." + claims + ".", false},
		{"two segments", enc(t, map[string]string{"alg": "none"}) + "." + claims, false},
		{"claims not JSON", enc(t, map[string]string{"alg": "none"}) + ".bm90IGpzb24.", false},
	}
	for _, tc := range tests {
		var got struct{ Sub string }
		err := jws.DecodeUnsigned(tc.token, &got)
		if tc.ok != (err == nil) || (tc.ok && got.Sub != "s") {
			t.Errorf("%s: DecodeUnsigned = %v (sub %q), want ok=%v", tc.name, err, got.Sub, tc.ok)
		}
		if err != nil && !errors.Is(err, jws.ErrInvalidToken) {
			t.Errorf("%s: error %v does not wrap ErrInvalidToken", tc.name, err)
		}
	}
}
